// Portable kernels: the reference the SIMD tables are tested against, and the fallback on CPUs without AVX2.
#include <cmath>
#include <cstring>

#include "runtime/cpu/attention_generic.h"
#include "runtime/cpu/quant_blocks.h"
#include "runtime/cpu/simd.h"

namespace docket::cpu {
namespace {

float dot_f32(const float* a, const float* b, int64_t n) {
    // Four partial sums keep the dependency chain short and the result close to a pairwise sum.
    float s[4] = {0, 0, 0, 0};
    const int64_t n4 = n - n % 4;
    for (int64_t i = 0; i < n4; i += 4) {
        s[0] += a[i] * b[i];
        s[1] += a[i + 1] * b[i + 1];
        s[2] += a[i + 2] * b[i + 2];
        s[3] += a[i + 3] * b[i + 3];
    }
    for (int64_t i = n4; i < n; ++i) s[0] += a[i] * b[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

template <void (*Decode)(const uint8_t*, float*), int QK, int BYTES>
void dequant_blocks(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n / QK; ++i) Decode(p + i * BYTES, dst + i * QK);
}

template <void (*Decode)(const uint8_t*, float*), int QK, int BYTES>
float dot_blocks(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    float buf[QK];
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        Decode(p + i * BYTES, buf);
        sum += dot_f32(buf, x + i * QK, QK);
    }
    return sum;
}

void dequant_f32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, n * sizeof(float));
}
float dot_w_f32(const void* w, const float* x, int64_t n) {
    return dot_f32(static_cast<const float*>(w), x, n);
}

void dequant_f16(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = half_to_f32(load_u16(p + 2 * i));
}
void dequant_bf16(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(p + 2 * i));
}
template <DequantFn F>
float dot_via_dequant(const void* w, const float* x, int64_t n) {
    float buf[256];
    float sum = 0.0f;
    const int64_t elem_bytes = 2;
    for (int64_t i = 0; i < n; i += 256) {
        const int64_t len = n - i < 256 ? n - i : 256;
        F(static_cast<const uint8_t*>(w) + i * elem_bytes, buf, len);
        sum += dot_f32(buf, x + i, len);
    }
    return sum;
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
             float* c, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = dot_f32(a + i * lda, b + j * ldb, k);
}

void swiglu(int64_t n, const float* gate, const float* up, float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace

void fill_scalar_kernels(CpuKernels& k) {
    k.level = SimdLevel::scalar;
    auto set = [&](GgmlType t, DequantFn dq, DotFn dot) {
        k.dequant[static_cast<int>(t)] = dq;
        k.dot[static_cast<int>(t)] = dot;
    };
    set(GgmlType::F32, dequant_f32, dot_w_f32);
    set(GgmlType::F16, dequant_f16, dot_via_dequant<dequant_f16>);
    set(GgmlType::BF16, dequant_bf16, dot_via_dequant<dequant_bf16>);
    set(GgmlType::Q4_0, dequant_blocks<dq_q4_0, 32, kQ4_0Bytes>,
        dot_blocks<dq_q4_0, 32, kQ4_0Bytes>);
    set(GgmlType::Q4_1, dequant_blocks<dq_q4_1, 32, kQ4_1Bytes>,
        dot_blocks<dq_q4_1, 32, kQ4_1Bytes>);
    set(GgmlType::Q8_0, dequant_blocks<dq_q8_0, 32, kQ8_0Bytes>,
        dot_blocks<dq_q8_0, 32, kQ8_0Bytes>);
    set(GgmlType::Q4_K, dequant_blocks<dq_q4_k, 256, kQ4_KBytes>,
        dot_blocks<dq_q4_k, 256, kQ4_KBytes>);
    set(GgmlType::Q6_K, dequant_blocks<dq_q6_k, 256, kQ6_KBytes>,
        dot_blocks<dq_q6_k, 256, kQ6_KBytes>);
    k.gemm_nt = gemm_nt;
    k.dot_f32 = dot_f32;
    k.attention = attention_generic;
    k.swiglu = swiglu;
}

}  // namespace docket::cpu

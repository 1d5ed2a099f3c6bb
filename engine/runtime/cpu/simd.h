#pragma once
// CPU kernel table: one implementation per instruction set (scalar, AVX2+FMA, AVX-512), chosen at run time
// with
// __builtin_cpu_supports. Nothing here requires -march=native; the SIMD files compile their functions for
// their target with `#pragma GCC target`.
//
// All arithmetic is f32 with f32 accumulation: activations are never quantized, weights are dequantized
// exactly as ggml's reference does (so a fused dot equals dequantize_row + dot up to summation order).
#include <cstdint>

#include "format/ggml_type.h"

namespace docket::cpu {

enum class SimdLevel { scalar = 0, avx2 = 1, avx512 = 2 };
const char* simd_level_name(SimdLevel l);

constexpr int kMaxGgmlType = 32;

// Dequantizes `n` elements (a multiple of the type's block size) of one row.
using DequantFn = void (*)(const void* src, float* dst, int64_t n);
// sum_k w[k] * x[k] over `n` elements of a row of the weight type, with x in f32.
using DotFn = float (*)(const void* w, const float* x, int64_t n);

struct CpuKernels {
    SimdLevel level = SimdLevel::scalar;
    // Indexed by GgmlType; null where the type has no fused kernel (the caller falls back to dequantize_row).
    DequantFn dequant[kMaxGgmlType] = {};
    DotFn dot[kMaxGgmlType] = {};

    // c[i * ldc + j] = sum_k a[i * lda + k] * b[j * ldb + k] for i < m, j < n ("A times B transposed").
    void (*gemm_nt)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                    float* c, int64_t ldc) = nullptr;
    float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;

    // Scaled dot-product attention of `nq` query rows against the cached tokens of one kv head, causal by
    // position: key j takes part in row i iff key_pos[j] <= qpos[i]; softmax in f32 with max subtraction.
    //   q    [nq, head_dim] contiguous (already rotated); qpos [nq]
    //   kt   rotated keys in 16-token tiles: key j, dim d at kt[(j / 16) * kt_stride + d * 16 + j % 16]
    //   v    [n_keys] rows of v_stride floats (head_dim used); key_pos [n_keys]
    //   s    scratch [nq, round_up(n_keys, 16)];  out [nq, head_dim] contiguous
    // On return s holds each row's unnormalized probabilities (exp(score - max), 0 where masked): the
    // forward pass's probe reads attention mass from it.
    void (*attention)(int64_t nq, const float* q, const int32_t* qpos, const float* kt, int64_t kt_stride,
                      const float* v, int64_t v_stride, const int32_t* key_pos, int64_t n_keys,
                      int64_t head_dim, float scale, float* s, float* out) = nullptr;

    // out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
    void (*swiglu)(int64_t n, const float* gate, const float* up, float* out) = nullptr;
};

// The best table this CPU supports (DOCKET_SIMD=scalar|avx2|avx512 caps it, for testing).
const CpuKernels& kernels();
// A specific level's table, or nullptr when the CPU (or build) cannot run it.
const CpuKernels* kernels_for(SimdLevel level);

// Tables provided by the per-ISA files (each fills in what it implements).
void fill_scalar_kernels(CpuKernels& k);
bool fill_avx2_kernels(CpuKernels& k);    // false when not compiled in
bool fill_avx512_kernels(CpuKernels& k);  // false when not compiled in

}  // namespace docket::cpu

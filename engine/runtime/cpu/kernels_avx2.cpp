// AVX2 + FMA + F16C kernels (8 lanes), for CPUs without AVX-512. Same structure as kernels_avx512.cpp; all
// headers are included before the target pragma.
#include <immintrin.h>

#include <cstdint>

#include "runtime/cpu/quant_blocks.h"
#include "runtime/cpu/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
// The portable attention, compiled here for AVX2 + FMA (the compiler vectorizes its loops).
#include "runtime/cpu/attention_generic.h"

namespace docket::cpu {
namespace {

inline float h2f(const uint8_t* p) {
    return _cvtsh_ss(load_u16(p));
}
inline __m128i load128(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
inline __m128i lo_nibbles(__m128i q) {
    return _mm_and_si128(q, _mm_set1_epi8(0x0F));
}
inline __m128i hi_nibbles(__m128i q) {
    return _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F));
}
// Bytes 0..7 / 8..15 of q as 8 floats.
inline __m256 u8_lo(__m128i q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q));
}
inline __m256 u8_hi(__m128i q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(q, 8)));
}
inline __m256 i8_lo(__m128i q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}
inline __m256 i8_hi(__m128i q) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// ---- one 32-value block to four vectors ----
inline void vec_q4_0(const uint8_t* b, __m256 v[4]) {
    const __m256 d = _mm256_set1_ps(h2f(b)), eight = _mm256_set1_ps(8.0f);
    const __m128i q = load128(b + 2), lo = lo_nibbles(q), hi = hi_nibbles(q);
    v[0] = _mm256_mul_ps(_mm256_sub_ps(u8_lo(lo), eight), d);
    v[1] = _mm256_mul_ps(_mm256_sub_ps(u8_hi(lo), eight), d);
    v[2] = _mm256_mul_ps(_mm256_sub_ps(u8_lo(hi), eight), d);
    v[3] = _mm256_mul_ps(_mm256_sub_ps(u8_hi(hi), eight), d);
}
inline void vec_q4_1(const uint8_t* b, __m256 v[4]) {
    const __m256 d = _mm256_set1_ps(h2f(b)), m = _mm256_set1_ps(h2f(b + 2));
    const __m128i q = load128(b + 4), lo = lo_nibbles(q), hi = hi_nibbles(q);
    v[0] = _mm256_add_ps(_mm256_mul_ps(u8_lo(lo), d), m);
    v[1] = _mm256_add_ps(_mm256_mul_ps(u8_hi(lo), d), m);
    v[2] = _mm256_add_ps(_mm256_mul_ps(u8_lo(hi), d), m);
    v[3] = _mm256_add_ps(_mm256_mul_ps(u8_hi(hi), d), m);
}
inline void vec_q8_0(const uint8_t* b, __m256 v[4]) {
    const __m256 d = _mm256_set1_ps(h2f(b));
    const __m128i q0 = load128(b + 2), q1 = load128(b + 18);
    v[0] = _mm256_mul_ps(i8_lo(q0), d);
    v[1] = _mm256_mul_ps(i8_hi(q0), d);
    v[2] = _mm256_mul_ps(i8_lo(q1), d);
    v[3] = _mm256_mul_ps(i8_hi(q1), d);
}

template <void (*Vec)(const uint8_t*, __m256*), int BYTES>
void dequant32(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n / 32; ++i) {
        __m256 v[4];
        Vec(p + i * BYTES, v);
        for (int t = 0; t < 4; ++t) _mm256_storeu_ps(dst + 32 * i + 8 * t, v[t]);
    }
}

template <void (*Vec)(const uint8_t*, __m256*), int BYTES>
float dot32(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 32; ++i) {
        __m256 v[4];
        Vec(p + i * BYTES, v);
        const float* xx = x + 32 * i;
        acc0 = _mm256_fmadd_ps(v[0], _mm256_loadu_ps(xx), acc0);
        acc1 = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(xx + 8), acc1);
        acc0 = _mm256_fmadd_ps(v[2], _mm256_loadu_ps(xx + 16), acc0);
        acc1 = _mm256_fmadd_ps(v[3], _mm256_loadu_ps(xx + 24), acc1);
    }
    return hsum(_mm256_add_ps(acc0, acc1));
}

void block_q4_k(const uint8_t* b, float* y) {
    const float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int j = 0; j < 4; ++j) {
        uint8_t sc, m;
        scale_min_k4(2 * j, scales, &sc, &m);
        const __m256 d1 = _mm256_set1_ps(d * sc), m1 = _mm256_set1_ps(dmin * m);
        scale_min_k4(2 * j + 1, scales, &sc, &m);
        const __m256 d2 = _mm256_set1_ps(d * sc), m2 = _mm256_set1_ps(dmin * m);
        for (int h = 0; h < 2; ++h) {
            const __m128i qq = load128(q + 32 * j + 16 * h), lo = lo_nibbles(qq), hi = hi_nibbles(qq);
            float* y1 = y + 64 * j + 16 * h;
            float* y2 = y + 64 * j + 32 + 16 * h;
            _mm256_storeu_ps(y1, _mm256_sub_ps(_mm256_mul_ps(d1, u8_lo(lo)), m1));
            _mm256_storeu_ps(y1 + 8, _mm256_sub_ps(_mm256_mul_ps(d1, u8_hi(lo)), m1));
            _mm256_storeu_ps(y2, _mm256_sub_ps(_mm256_mul_ps(d2, u8_lo(hi)), m2));
            _mm256_storeu_ps(y2 + 8, _mm256_sub_ps(_mm256_mul_ps(d2, u8_hi(hi)), m2));
        }
    }
}

void block_q6_k(const uint8_t* b, float* y) {
    const float d = h2f(b + 208);
    const __m128i m4 = _mm_set1_epi8(0x0F), m2 = _mm_set1_epi8(0x03);
    const __m256i k32 = _mm256_set1_epi32(32);
    for (int n = 0; n < 2; ++n) {
        const uint8_t* ql = b + 64 * n;
        const uint8_t* qh = b + 128 + 32 * n;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * n;
        float* yy = y + 128 * n;
        for (int l0 = 0; l0 < 32; l0 += 16) {
            const int is = l0 / 16;
            const __m128i a = load128(ql + l0), c = load128(ql + 32 + l0), h = load128(qh + l0);
            const __m128i qs[4] = {
                _mm_or_si128(_mm_and_si128(a, m4), _mm_slli_epi16(_mm_and_si128(h, m2), 4)),
                _mm_or_si128(_mm_and_si128(c, m4),
                             _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 2), m2), 4)),
                _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), m4),
                             _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 4), m2), 4)),
                _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), m4),
                             _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 6), m2), 4)),
            };
            for (int t = 0; t < 4; ++t) {
                const __m256 s = _mm256_set1_ps(d * sc[is + 2 * t]);
                const __m256 v0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(qs[t]), k32));
                const __m256 v1 =
                    _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(qs[t], 8)), k32));
                _mm256_storeu_ps(yy + 32 * t + l0, _mm256_mul_ps(s, v0));
                _mm256_storeu_ps(yy + 32 * t + l0 + 8, _mm256_mul_ps(s, v1));
            }
        }
    }
}

template <void (*Block)(const uint8_t*, float*), int BYTES>
void dequant256(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n / 256; ++i) Block(p + i * BYTES, dst + 256 * i);
}

template <void (*Block)(const uint8_t*, float*), int BYTES>
float dot256(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    alignas(32) float buf[256];
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / 256; ++i) {
        Block(p + i * BYTES, buf);
        const float* xx = x + 256 * i;
        for (int k = 0; k < 256; k += 16) {
            acc0 = _mm256_fmadd_ps(_mm256_load_ps(buf + k), _mm256_loadu_ps(xx + k), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_load_ps(buf + k + 8), _mm256_loadu_ps(xx + k + 8), acc1);
        }
    }
    return hsum(_mm256_add_ps(acc0, acc1));
}

float dot_f32(const float* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}
float dot_w_f32(const void* w, const float* x, int64_t n) {
    return dot_f32(static_cast<const float*>(w), x, n);
}

template <bool BF>
inline __m256 load_half8(const uint8_t* p) {
    const __m128i h = load128(p);
    if (BF) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}
template <bool BF>
void dequant_half(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_half8<BF>(p + 2 * i));
    for (; i < n; ++i) dst[i] = BF ? bf16_to_f32(load_u16(p + 2 * i)) : h2f(p + 2 * i);
}
template <bool BF>
float dot_half(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_half8<BF>(p + 2 * i), _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(load_half8<BF>(p + 2 * i + 16), _mm256_loadu_ps(x + i + 8), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += (BF ? bf16_to_f32(load_u16(p + 2 * i)) : h2f(p + 2 * i)) * x[i];
    return s;
}
void dequant_f32(const void* src, float* dst, int64_t n) {
    const float* s = static_cast<const float*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
}

// ---- f32 GEMM, MR x NR register tile (MR*NR + NR + 1 <= 16 registers) ----
template <int MR, int NR>
void gemm_tile(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
    __m256 acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 8 <= k; kk += 8) {
        __m256 bv[NR];
        for (int j = 0; j < NR; ++j) bv[j] = _mm256_loadu_ps(b + j * ldb + kk);
        for (int i = 0; i < MR; ++i) {
            const __m256 av = _mm256_loadu_ps(a + i * lda + kk);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            float s = hsum(acc[i][j]);
            for (int64_t t = kk; t < k; ++t) s += a[i * lda + t] * b[j * ldb + t];
            c[i * ldc + j] = s;
        }
}

template <int MR>
void gemm_row_block(int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc, int64_t j) {
    switch (n - j) {
        case 1:
            gemm_tile<MR, 1>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
        default:
            gemm_tile<MR, 2>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
    }
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
             float* c, int64_t ldc) {
    for (int64_t j = 0; j < n; j += 2) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) gemm_row_block<4>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
        for (; i < m; ++i) gemm_row_block<1>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
    }
}

inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)),
                      _mm256_set1_ps(-87.3365447505531f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n through the exponent field; n is within [-126, 127] after the clamp.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

void swiglu(int64_t n, const float* gate, const float* up, float* out) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(out + i,
                         _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; ++i) {
        alignas(32) float t[8] = {-gate[i], 0, 0, 0, 0, 0, 0, 0};
        _mm256_store_ps(t, exp_ps(_mm256_load_ps(t)));
        out[i] = gate[i] / (1.0f + t[0]) * up[i];
    }
}

}  // namespace

bool fill_avx2_kernels(CpuKernels& k) {
    k.level = SimdLevel::avx2;
    auto set = [&](GgmlType t, DequantFn dq, DotFn dot) {
        k.dequant[static_cast<int>(t)] = dq;
        k.dot[static_cast<int>(t)] = dot;
    };
    set(GgmlType::F32, dequant_f32, dot_w_f32);
    set(GgmlType::F16, dequant_half<false>, dot_half<false>);
    set(GgmlType::BF16, dequant_half<true>, dot_half<true>);
    set(GgmlType::Q4_0, dequant32<vec_q4_0, kQ4_0Bytes>, dot32<vec_q4_0, kQ4_0Bytes>);
    set(GgmlType::Q4_1, dequant32<vec_q4_1, kQ4_1Bytes>, dot32<vec_q4_1, kQ4_1Bytes>);
    set(GgmlType::Q8_0, dequant32<vec_q8_0, kQ8_0Bytes>, dot32<vec_q8_0, kQ8_0Bytes>);
    set(GgmlType::Q4_K, dequant256<block_q4_k, kQ4_KBytes>, dot256<block_q4_k, kQ4_KBytes>);
    set(GgmlType::Q6_K, dequant256<block_q6_k, kQ6_KBytes>, dot256<block_q6_k, kQ6_KBytes>);
    k.gemm_nt = gemm_nt;
    k.dot_f32 = dot_f32;
    k.attention = attention_generic;
    k.swiglu = swiglu;
    return true;
}

}  // namespace docket::cpu

#pragma GCC pop_options
#else
namespace docket::cpu {
bool fill_avx2_kernels(CpuKernels&) {
    return false;
}
}  // namespace docket::cpu
#endif

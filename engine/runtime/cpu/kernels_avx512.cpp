// AVX-512 (F, BW, VL, DQ) kernels. Every function here is compiled for that target via the pragma below and
// reached only through the table after __builtin_cpu_supports said yes. All headers are included before the
// pragma so no shared inline function is compiled for AVX-512 by accident.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "runtime/cpu/quant_blocks.h"
#include "runtime/cpu/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define DK_HAVE_AVX512_KERNELS 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
// GCC 12 reports its own _mm512_undefined_* idiom inside the intrinsic headers as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace docket::cpu {
namespace {

inline float h2f(const uint8_t* p) {
    return _cvtsh_ss(load_u16(p));
}
inline __m512 cvt_u8(__m128i q) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q));
}
inline __m512 cvt_i8(__m128i q) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
}
inline __m128i lo_nibbles(__m128i q) {
    return _mm_and_si128(q, _mm_set1_epi8(0x0F));
}
inline __m128i hi_nibbles(__m128i q) {
    return _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0F));
}
inline __m128i load128(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// ---- one block to two vectors (32-value formats) ----
inline void vec_q4_0(const uint8_t* b, __m512& v0, __m512& v1) {
    const __m512 d = _mm512_set1_ps(h2f(b)), eight = _mm512_set1_ps(8.0f);
    const __m128i q = load128(b + 2);
    v0 = _mm512_mul_ps(_mm512_sub_ps(cvt_u8(lo_nibbles(q)), eight), d);
    v1 = _mm512_mul_ps(_mm512_sub_ps(cvt_u8(hi_nibbles(q)), eight), d);
}
inline void vec_q4_1(const uint8_t* b, __m512& v0, __m512& v1) {
    const __m512 d = _mm512_set1_ps(h2f(b)), m = _mm512_set1_ps(h2f(b + 2));
    const __m128i q = load128(b + 4);
    v0 = _mm512_add_ps(_mm512_mul_ps(cvt_u8(lo_nibbles(q)), d), m);
    v1 = _mm512_add_ps(_mm512_mul_ps(cvt_u8(hi_nibbles(q)), d), m);
}
inline void vec_q8_0(const uint8_t* b, __m512& v0, __m512& v1) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    v0 = _mm512_mul_ps(cvt_i8(load128(b + 2)), d);
    v1 = _mm512_mul_ps(cvt_i8(load128(b + 18)), d);
}

template <void (*Vec)(const uint8_t*, __m512&, __m512&), int BYTES>
void dequant32(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n / 32; ++i) {
        __m512 v0, v1;
        Vec(p + i * BYTES, v0, v1);
        _mm512_storeu_ps(dst + 32 * i, v0);
        _mm512_storeu_ps(dst + 32 * i + 16, v1);
    }
}

template <void (*Vec)(const uint8_t*, __m512&, __m512&), int BYTES>
float dot32(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / 32; ++i) {
        __m512 v0, v1;
        Vec(p + i * BYTES, v0, v1);
        acc0 = _mm512_fmadd_ps(v0, _mm512_loadu_ps(x + 32 * i), acc0);
        acc1 = _mm512_fmadd_ps(v1, _mm512_loadu_ps(x + 32 * i + 16), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// ---- k-quants: one 256-value block into memory ----
void block_q4_k(const uint8_t* b, float* y) {
    const float d = h2f(b), dmin = h2f(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int j = 0; j < 4; ++j) {
        uint8_t sc, m;
        scale_min_k4(2 * j, scales, &sc, &m);
        const __m512 d1 = _mm512_set1_ps(d * sc), m1 = _mm512_set1_ps(dmin * m);
        scale_min_k4(2 * j + 1, scales, &sc, &m);
        const __m512 d2 = _mm512_set1_ps(d * sc), m2 = _mm512_set1_ps(dmin * m);
        for (int h = 0; h < 2; ++h) {
            const __m128i qq = load128(q + 32 * j + 16 * h);
            _mm512_storeu_ps(y + 64 * j + 16 * h,
                             _mm512_sub_ps(_mm512_mul_ps(d1, cvt_u8(lo_nibbles(qq))), m1));
            _mm512_storeu_ps(y + 64 * j + 32 + 16 * h,
                             _mm512_sub_ps(_mm512_mul_ps(d2, cvt_u8(hi_nibbles(qq))), m2));
        }
    }
}

void block_q6_k(const uint8_t* b, float* y) {
    const float d = h2f(b + 208);
    const __m128i m4 = _mm_set1_epi8(0x0F), m2 = _mm_set1_epi8(0x03);
    const __m512i k32 = _mm512_set1_epi32(32);
    for (int n = 0; n < 2; ++n) {
        const uint8_t* ql = b + 64 * n;
        const uint8_t* qh = b + 128 + 32 * n;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * n;
        float* yy = y + 128 * n;
        for (int l0 = 0; l0 < 32; l0 += 16) {
            const int is = l0 / 16;
            const __m128i a = load128(ql + l0), c = load128(ql + 32 + l0), h = load128(qh + l0);
            const __m128i q1 = _mm_or_si128(_mm_and_si128(a, m4), _mm_slli_epi16(_mm_and_si128(h, m2), 4));
            const __m128i q2 = _mm_or_si128(_mm_and_si128(c, m4),
                                            _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 2), m2), 4));
            const __m128i q3 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 4), m4),
                                            _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 4), m2), 4));
            const __m128i q4 = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(c, 4), m4),
                                            _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(h, 6), m2), 4));
            auto put = [&](__m128i q, int off, int s) __attribute__((always_inline)) {
                const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(q), k32));
                _mm512_storeu_ps(yy + off + l0, _mm512_mul_ps(_mm512_set1_ps(d * sc[is + s]), v));
            };
            put(q1, 0, 0);
            put(q2, 32, 2);
            put(q3, 64, 4);
            put(q4, 96, 6);
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
    alignas(64) float buf[256];
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / 256; ++i) {
        Block(p + i * BYTES, buf);
        const float* xx = x + 256 * i;
        for (int k = 0; k < 256; k += 32) {
            acc0 = _mm512_fmadd_ps(_mm512_load_ps(buf + k), _mm512_loadu_ps(xx + k), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_load_ps(buf + k + 16), _mm512_loadu_ps(xx + k + 16), acc1);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// ---- f32 / f16 / bf16 rows (any length; masked tail) ----
inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
}

inline __m512 load_f16(const uint8_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 load_bf16(const uint8_t* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

void dequant_f16(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, load_f16(p + 2 * i, m));
    }
}
void dequant_bf16(const void* src, float* dst, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(src);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, load_bf16(p + 2 * i, m));
    }
}
void dequant_f32(const void* src, float* dst, int64_t n) {
    const float* s = static_cast<const float*>(src);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, s + i));
    }
}

float dot_f32(const float* a, const float* b, int64_t n) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
float dot_w_f32(const void* w, const float* x, int64_t n) {
    return dot_f32(static_cast<const float*>(w), x, n);
}

template <bool BF>
float dot_half(const void* w, const float* x, int64_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(w);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 w0 = BF ? load_bf16(p + 2 * i, 0xFFFF) : load_f16(p + 2 * i, 0xFFFF);
        const __m512 w1 = BF ? load_bf16(p + 2 * i + 32, 0xFFFF) : load_f16(p + 2 * i + 32, 0xFFFF);
        acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i), acc0);
        acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 w0 = BF ? load_bf16(p + 2 * i, m) : load_f16(p + 2 * i, m);
        acc0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + i), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// ---- f32 GEMM (A times B transposed), MR x NR register tile ----
template <int MR, int NR>
void gemm_tile(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc) {
    __m512 acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) {
        __m512 bv[NR];
        for (int j = 0; j < NR; ++j) bv[j] = _mm512_loadu_ps(b + j * ldb + kk);
        for (int i = 0; i < MR; ++i) {
            const __m512 av = _mm512_loadu_ps(a + i * lda + kk);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    if (kk < k) {
        const __mmask16 m = tail_mask(k - kk);
        __m512 bv[NR];
        for (int j = 0; j < NR; ++j) bv[j] = _mm512_maskz_loadu_ps(m, b + j * ldb + kk);
        for (int i = 0; i < MR; ++i) {
            const __m512 av = _mm512_maskz_loadu_ps(m, a + i * lda + kk);
            for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) c[i * ldc + j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <int MR>
void gemm_row_block(int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc, int64_t j) {
    switch (n - j) {
        case 1:
            gemm_tile<MR, 1>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
        case 2:
            gemm_tile<MR, 2>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
        case 3:
            gemm_tile<MR, 3>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
        default:
            gemm_tile<MR, 4>(k, a, lda, b + j * ldb, ldb, c + j, ldc);
            break;
    }
}

void gemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
             float* c, int64_t ldc) {
    // B's 4-row block stays in L1 while every row of A streams past it.
    for (int64_t j = 0; j < n; j += 4) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) gemm_row_block<4>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
        switch (m - i) {
            case 1:
                gemm_row_block<1>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
                break;
            case 2:
                gemm_row_block<2>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
                break;
            case 3:
                gemm_row_block<3>(n, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, j);
                break;
            default:
                break;
        }
    }
}

// exp(x) for x <= 0 mostly (softmax) and any x (silu): Cephes-style range reduction, ~1 ulp.
inline __m512 exp_ps(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)),
                      _mm512_set1_ps(-87.3365447505531f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

// ---- attention: scores from 16-token key tiles, masked softmax, P·V ----
// s[i][jt*16 + l] = scale * q_i · key(jt*16 + l) for MR query rows and NT consecutive key tiles.
template <int MR, int NT>
void qk_tile(const float* q, int64_t hd, const float* kb, int64_t kt_stride, float scale, float* s,
             int64_t lds) {
    __m512 acc[MR][NT];
    for (int i = 0; i < MR; ++i)
        for (int t = 0; t < NT; ++t) acc[i][t] = _mm512_setzero_ps();
    for (int64_t d = 0; d < hd; ++d) {
        __m512 kv[NT];
        for (int t = 0; t < NT; ++t) kv[t] = _mm512_loadu_ps(kb + t * kt_stride + d * 16);
        for (int i = 0; i < MR; ++i) {
            const __m512 qb = _mm512_set1_ps(q[i * hd + d]);
            for (int t = 0; t < NT; ++t) acc[i][t] = _mm512_fmadd_ps(qb, kv[t], acc[i][t]);
        }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (int i = 0; i < MR; ++i)
        for (int t = 0; t < NT; ++t) _mm512_storeu_ps(s + i * lds + t * 16, _mm512_mul_ps(acc[i][t], sc));
}

template <int MR>
void qk_rows(const float* q, int64_t hd, const float* kt, int64_t kt_stride, int64_t n_tiles, float scale,
             float* s, int64_t lds) {
    int64_t t = 0;
    for (; t + 2 <= n_tiles; t += 2)
        qk_tile<MR, 2>(q, hd, kt + t * kt_stride, kt_stride, scale, s + t * 16, lds);
    if (t < n_tiles) qk_tile<MR, 1>(q, hd, kt + t * kt_stride, kt_stride, scale, s + t * 16, lds);
}

// P·V for MR rows of unnormalized probabilities; out rows are multiplied by inv[i].
template <int MR>
void pv_rows(const float* p, int64_t lds, const float* v, int64_t v_stride, int64_t n_keys, int64_t hd,
             const float* inv, float* out) {
    for (int64_t c0 = 0; c0 < hd; c0 += 64) {
        __mmask16 m[4];
        for (int t = 0; t < 4; ++t) {
            const int64_t left = hd - c0 - 16 * t;
            m[t] = left <= 0 ? 0 : tail_mask(left);
        }
        __m512 acc[MR][4];
        for (int i = 0; i < MR; ++i)
            for (int t = 0; t < 4; ++t) acc[i][t] = _mm512_setzero_ps();
        for (int64_t j = 0; j < n_keys; ++j) {
            bool any = false;
            for (int i = 0; i < MR; ++i) any |= p[i * lds + j] != 0.0f;
            if (!any) continue;  // masked for every row (the causal tail of a chunk)
            const float* vj = v + j * v_stride + c0;
            __m512 vv[4];
            for (int t = 0; t < 4; ++t) vv[t] = _mm512_maskz_loadu_ps(m[t], vj + 16 * t);
            for (int i = 0; i < MR; ++i) {
                const __m512 pb = _mm512_set1_ps(p[i * lds + j]);
                for (int t = 0; t < 4; ++t) acc[i][t] = _mm512_fmadd_ps(pb, vv[t], acc[i][t]);
            }
        }
        for (int i = 0; i < MR; ++i)
            for (int t = 0; t < 4; ++t)
                _mm512_mask_storeu_ps(out + i * hd + c0 + 16 * t, m[t],
                                      _mm512_mul_ps(acc[i][t], _mm512_set1_ps(inv[i])));
    }
}

// In place: s[j] <- exp(s[j] - max) for visible keys, 0 otherwise; returns 1 / sum (0 when nothing is
// visible).
float softmax_row(float* s, const int32_t* key_pos, int64_t n_keys, int32_t qpos) {
    const __m512i qp = _mm512_set1_epi32(qpos);
    __m512 mxv = _mm512_set1_ps(-__builtin_inff());
    for (int64_t j = 0; j < n_keys; j += 16) {
        const __mmask16 m = tail_mask(n_keys - j);
        const __mmask16 vis = _mm512_mask_cmple_epi32_mask(m, _mm512_maskz_loadu_epi32(m, key_pos + j), qp);
        mxv = _mm512_mask_max_ps(mxv, vis, mxv, _mm512_maskz_loadu_ps(vis, s + j));
    }
    const float mx = _mm512_reduce_max_ps(mxv);
    if (mx == -__builtin_inff()) {
        for (int64_t j = 0; j < n_keys; ++j) s[j] = 0.0f;
        return 0.0f;
    }
    const __m512 mv = _mm512_set1_ps(mx);
    __m512 sumv = _mm512_setzero_ps();
    for (int64_t j = 0; j < n_keys; j += 16) {
        const __mmask16 m = tail_mask(n_keys - j);
        const __mmask16 vis = _mm512_mask_cmple_epi32_mask(m, _mm512_maskz_loadu_epi32(m, key_pos + j), qp);
        const __m512 e =
            _mm512_maskz_mov_ps(vis, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(vis, s + j), mv)));
        _mm512_mask_storeu_ps(s + j, m, e);
        sumv = _mm512_add_ps(sumv, e);
    }
    return 1.0f / _mm512_reduce_add_ps(sumv);
}

void attention(int64_t nq, const float* q, const int32_t* qpos, const float* kt, int64_t kt_stride,
               const float* v, int64_t v_stride, const int32_t* key_pos, int64_t n_keys, int64_t hd,
               float scale, float* s, float* out) {
    const int64_t lds = (n_keys + 15) / 16 * 16, n_tiles = lds / 16;
    for (int64_t i0 = 0; i0 < nq; i0 += 4) {
        const int mr = nq - i0 < 4 ? static_cast<int>(nq - i0) : 4;
        const float* qi = q + i0 * hd;
        float* si = s + i0 * lds;
        switch (mr) {
            case 1:
                qk_rows<1>(qi, hd, kt, kt_stride, n_tiles, scale, si, lds);
                break;
            case 2:
                qk_rows<2>(qi, hd, kt, kt_stride, n_tiles, scale, si, lds);
                break;
            case 3:
                qk_rows<3>(qi, hd, kt, kt_stride, n_tiles, scale, si, lds);
                break;
            default:
                qk_rows<4>(qi, hd, kt, kt_stride, n_tiles, scale, si, lds);
                break;
        }
        float inv[4];
        for (int i = 0; i < mr; ++i) inv[i] = softmax_row(si + i * lds, key_pos, n_keys, qpos[i0 + i]);
        float* oi = out + i0 * hd;
        switch (mr) {
            case 1:
                pv_rows<1>(si, lds, v, v_stride, n_keys, hd, inv, oi);
                break;
            case 2:
                pv_rows<2>(si, lds, v, v_stride, n_keys, hd, inv, oi);
                break;
            case 3:
                pv_rows<3>(si, lds, v, v_stride, n_keys, hd, inv, oi);
                break;
            default:
                pv_rows<4>(si, lds, v, v_stride, n_keys, hd, inv, oi);
                break;
        }
    }
}

void swiglu(int64_t n, const float* gate, const float* up, float* out) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 r =
            _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, up + i));
        _mm512_mask_storeu_ps(out + i, m, r);
    }
}

}  // namespace

bool fill_avx512_kernels(CpuKernels& k) {
    k.level = SimdLevel::avx512;
    auto set = [&](GgmlType t, DequantFn dq, DotFn dot) {
        k.dequant[static_cast<int>(t)] = dq;
        k.dot[static_cast<int>(t)] = dot;
    };
    set(GgmlType::F32, dequant_f32, dot_w_f32);
    set(GgmlType::F16, dequant_f16, dot_half<false>);
    set(GgmlType::BF16, dequant_bf16, dot_half<true>);
    set(GgmlType::Q4_0, dequant32<vec_q4_0, kQ4_0Bytes>, dot32<vec_q4_0, kQ4_0Bytes>);
    set(GgmlType::Q4_1, dequant32<vec_q4_1, kQ4_1Bytes>, dot32<vec_q4_1, kQ4_1Bytes>);
    set(GgmlType::Q8_0, dequant32<vec_q8_0, kQ8_0Bytes>, dot32<vec_q8_0, kQ8_0Bytes>);
    set(GgmlType::Q4_K, dequant256<block_q4_k, kQ4_KBytes>, dot256<block_q4_k, kQ4_KBytes>);
    set(GgmlType::Q6_K, dequant256<block_q6_k, kQ6_KBytes>, dot256<block_q6_k, kQ6_KBytes>);
    k.gemm_nt = gemm_nt;
    k.dot_f32 = dot_f32;
    k.attention = attention;
    k.swiglu = swiglu;
    return true;
}

}  // namespace docket::cpu

#pragma GCC pop_options
#else
namespace docket::cpu {
bool fill_avx512_kernels(CpuKernels&) {
    return false;
}
}  // namespace docket::cpu
#endif

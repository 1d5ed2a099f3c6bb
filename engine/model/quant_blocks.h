#pragma once
// Scalar decoders of one block of the ggml formats the CPU kernels fuse (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K),
// bit-exact with ggml's dequantize_row_* (same float operations in the same order). Shared by dequantize_row
// (model/) and the CPU kernels' scalar paths (runtime/cpu/), so the two cannot drift.
#include <cstdint>
#include <cstring>

#include "util/half.h"

namespace docket::quant {

constexpr int kQK32 = 32;  // elements per block of the 32-element formats
constexpr int kQKK = 256;  // elements per k-quant super-block

inline float load_f16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return fp16_to_fp32(v);
}

inline void dq_q4_0(const uint8_t* b, float* y) {  // {f16 d; u8 qs[16]}
    const float d = load_f16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < kQK32 / 2; ++j) {
        const int x0 = (qs[j] & 0x0F) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + kQK32 / 2] = x1 * d;
    }
}

inline void dq_q4_1(const uint8_t* b, float* y) {  // {f16 d; f16 m; u8 qs[16]}
    const float d = load_f16(b);
    const float m = load_f16(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < kQK32 / 2; ++j) {
        const int x0 = qs[j] & 0x0F;
        const int x1 = qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + kQK32 / 2] = x1 * d + m;
    }
}

inline void dq_q8_0(const uint8_t* b, float* y) {  // {f16 d; i8 qs[32]}
    const float d = load_f16(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < kQK32; ++j) y[j] = qs[j] * d;
}

inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

inline void dq_q4_k(const uint8_t* b, float* y) {  // {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}
    const float d = load_f16(b);
    const float min = load_f16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < kQKK; j += 64) {
        scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

inline void dq_q6_k(const uint8_t* b, float* y) {  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = load_f16(b + 208);
    for (int n = 0; n < kQKK; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int8_t q1 = static_cast<int8_t>((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = static_cast<int8_t>((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

}  // namespace docket::quant

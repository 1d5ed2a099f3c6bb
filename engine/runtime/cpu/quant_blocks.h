#pragma once
// Block layouts of the ggml formats with fused CPU kernels (ggml-common.h), and the scalar decoders of one
// block. Each decoder reproduces ggml's reference arithmetic (dequantize_row_*), element order included.
#include <cstdint>

#include "runtime/cpu/half.h"

namespace docket::cpu {

constexpr int kQ4_0Bytes = 18;   // half d; u8 qs[16]          (32 values)
constexpr int kQ4_1Bytes = 20;   // half d, m; u8 qs[16]       (32 values)
constexpr int kQ8_0Bytes = 34;   // half d; i8 qs[32]          (32 values)
constexpr int kQ4_KBytes = 144;  // half d, dmin; u8 scales[12]; u8 qs[128]        (256 values)
constexpr int kQ6_KBytes = 210;  // u8 ql[128]; u8 qh[64]; i8 scales[16]; half d   (256 values)

// Scale and min of sub-block j (0..7) of a Q4_K block's packed 6-bit scales.
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

inline void decode_q4_0_scalar(const uint8_t* b, float* y) {
    const float d = half_to_f32(load_u16(b));
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
        y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
}

inline void decode_q4_1_scalar(const uint8_t* b, float* y) {
    const float d = half_to_f32(load_u16(b)), m = half_to_f32(load_u16(b + 2));
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
        y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
}

inline void decode_q8_0_scalar(const uint8_t* b, float* y) {
    const float d = half_to_f32(load_u16(b));
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

inline void decode_q4_k_scalar(const uint8_t* b, float* y) {
    const float d = half_to_f32(load_u16(b)), dmin = half_to_f32(load_u16(b + 2));
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int j = 0; j < 4; ++j) {
        uint8_t sc, m;
        q4k_scale_min(2 * j, scales, &sc, &m);
        const float d1 = d * sc, m1 = dmin * m;
        q4k_scale_min(2 * j + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = dmin * m;
        for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) y[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
        q += 32;
        y += 64;
    }
}

inline void decode_q6_k_scalar(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = half_to_f32(load_u16(b + 208));
    for (int n = 0; n < 256; n += 128) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = static_cast<int8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
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

}  // namespace docket::cpu

#pragma once
// IEEE half and bfloat16 <-> float, exact and bit-identical to ggml's conversions (round to nearest even,
// NaN kept quiet). One definition for the whole engine: dequantization, the CPU kernels and the KV codecs.
#include <cstdint>
#include <cstring>

namespace docket {

inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1F;
    const uint32_t mant = h & 0x3FF;
    if (exp == 0) {
        // Zero or subnormal: mant * 2^-24 is exact in float.
        const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
        return f32_from_bits(f32_bits(v) | sign);
    }
    if (exp == 31) return f32_from_bits(sign | 0x7F800000u | (mant << 13));  // inf / NaN keeps its payload
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    x &= 0x7FFFFFFFu;
    if (x > 0x7F800000u) return sign | 0x7E00;   // NaN -> quiet NaN, as ggml
    if (x >= 0x477FF000u) return sign | 0x7C00;  // >= 65520 rounds to infinity
    if (x >= 0x38800000u) {                      // normal half (>= 2^-14)
        uint32_t r = x - 0x38000000u;            // rebias exponent 127 -> 15
        r += 0xFFF + ((r >> 13) & 1);            // round to nearest even on the 13 dropped bits
        return static_cast<uint16_t>(sign | (r >> 13));
    }
    if (x <= 0x33000000u) return sign;  // <= 2^-25 rounds to zero (the tie goes to the even zero)
    // Subnormal half: value / 2^-24, rounded to nearest even.
    const uint32_t e = x >> 23;
    const uint32_t mant = (x & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24 for e in 102..112
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
}

inline float bf16_to_fp32(uint16_t h) {
    return f32_from_bits(static_cast<uint32_t>(h) << 16);
}

inline uint16_t fp32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
    return static_cast<uint16_t>((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

}  // namespace docket

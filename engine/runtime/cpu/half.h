#pragma once
// Scalar IEEE half / bfloat16 to float, inline for the kernels' scalar paths (exact conversions).
#include <cstdint>
#include <cstring>

namespace docket::cpu {

inline float bits_to_f32(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline float half_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mant << 13));  // inf / nan
    if (exp == 0) {
        if (mant == 0) return bits_to_f32(sign);
        // Subnormal: normalize.
        int e = -1;
        do {
            ++e;
            mant <<= 1;
        } while ((mant & 0x400) == 0);
        mant &= 0x3ff;
        return bits_to_f32(sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant << 13));
    }
    return bits_to_f32(sign | (exp + 127 - 15) << 23 | (mant << 13));
}

inline float bf16_to_f32(uint16_t h) {
    return bits_to_f32(static_cast<uint32_t>(h) << 16);
}

inline uint16_t load_u16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace docket::cpu

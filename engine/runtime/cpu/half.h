#pragma once
// Short names for the kernels' scalar paths over the engine's one exact conversion (util/half.h).
#include <cstdint>
#include <cstring>

#include "util/half.h"

namespace docket::cpu {

inline float bits_to_f32(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline float half_to_f32(uint16_t h) {
    return docket::fp16_to_fp32(h);
}

inline float bf16_to_f32(uint16_t h) {
    return docket::bf16_to_fp32(h);
}

inline uint16_t load_u16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace docket::cpu

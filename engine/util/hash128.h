#pragma once
// 128-bit content hashes (XXH3-128) as they enter snapshot keys and the index (16-byte BLOBs, low word
// first).
#include <cstdint>
#include <compare>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace docket {

struct Hash128 {
    uint64_t lo = 0, hi = 0;
    bool operator==(const Hash128&) const = default;
    auto operator<=>(const Hash128&) const = default;
    std::string hex() const { return fmt::format("{:016x}{:016x}", hi, lo); }
    void to_bytes(uint8_t out[16]) const {
        std::memcpy(out, &lo, 8);
        std::memcpy(out + 8, &hi, 8);
    }
    static Hash128 from_bytes(const uint8_t in[16]) {
        Hash128 h;
        std::memcpy(&h.lo, in, 8);
        std::memcpy(&h.hi, in + 8, 8);
        return h;
    }
};

// XXH3-128 of a byte range (implemented in util/hash128.cpp).
Hash128 hash128(const void* data, size_t size, uint64_t seed = 0);

}  // namespace docket

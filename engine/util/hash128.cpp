#include "util/hash128.h"

#include <xxhash.h>

namespace docket {

Hash128 hash128(const void* data, size_t size, uint64_t seed) {
    XXH128_hash_t h = XXH3_128bits_withSeed(data, size, seed);
    return Hash128{h.low64, h.high64};
}

}  // namespace docket

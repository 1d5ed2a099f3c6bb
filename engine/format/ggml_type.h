#pragma once
// GGML tensor element types as numbered in the GGUF format, with their block geometry.
#include <cstddef>
#include <cstdint>

namespace docket {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
};

struct GgmlTypeTraits {
    const char* name;
    int64_t block_size;  // elements per block
    size_t type_size;    // bytes per block
    bool quantized;
};

// Traits of a known type; nullptr for type ids Docket does not know (the caller reports them).
const GgmlTypeTraits* ggml_type_traits(uint32_t type);
inline const GgmlTypeTraits* ggml_type_traits(GgmlType t) { return ggml_type_traits(static_cast<uint32_t>(t)); }
const char* ggml_type_name(GgmlType t);

// Bytes of one row of `n` elements; n must be a multiple of the block size.
size_t ggml_row_size(GgmlType t, int64_t n);

constexpr int64_t QK_K = 256;  // super-block size of the k-quants

}  // namespace docket

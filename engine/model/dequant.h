#pragma once
// Dequantization of GGML block formats to float, bit-exact with ggml's reference (ggml-quants.c).
// Also reference quantizers for the formats `make-model` writes.
#include <cstdint>

#include "format/ggml_type.h"
#include "util/half.h"
#include "util/status.h"

namespace docket {

// Converts `n` elements (a multiple of the type's block size) of `type` at `src` into floats.
// Supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K (Q8_K, Q8_1 for completeness).
Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
bool can_dequantize(GgmlType type);

// Reference quantizers (round-to-nearest, ggml's block layouts). Supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K
// Q6_K.
Status quantize_row(GgmlType type, const float* src, void* dst, int64_t n);
bool can_quantize(GgmlType type);

// IEEE half / bfloat16 conversions (fp16_to_fp32 etc.) live in util/half.h, included here.

}  // namespace docket

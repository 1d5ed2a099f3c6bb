#pragma once
// Block sizes of the ggml formats with fused CPU kernels (ggml-common.h) and their scalar block decoders.
#include <cstdint>

#include "model/quant_blocks.h"
#include "runtime/cpu/half.h"

namespace docket::cpu {

constexpr int kQ4_0Bytes = 18;   // half d; u8 qs[16]          (32 values)
constexpr int kQ4_1Bytes = 20;   // half d, m; u8 qs[16]       (32 values)
constexpr int kQ8_0Bytes = 34;   // half d; i8 qs[32]          (32 values)
constexpr int kQ4_KBytes = 144;  // half d, dmin; u8 scales[12]; u8 qs[128]        (256 values)
constexpr int kQ6_KBytes = 210;  // u8 ql[128]; u8 qh[64]; i8 scales[16]; half d   (256 values)

// The scalar block decoders are model/quant_blocks.h's (bit-exact with ggml), shared with dequantize_row.
using quant::dq_q4_0;
using quant::dq_q4_1;
using quant::dq_q4_k;
using quant::dq_q6_k;
using quant::dq_q8_0;
using quant::scale_min_k4;

}  // namespace docket::cpu

#pragma once
// Decode-time matrix-vector products straight from quantized weights (fused dequant + dot, f32 accumulate).
#include <cuda_runtime.h>

#include <cstdint>

#include "format/ggml_type.h"
#include "util/status.h"

namespace docket::cuda {

// y[b][r] (+)= sum_k W[r][k] * x[b][k] for b < batch (1..8).
// w: [n_out][n_in] in GGML layout of `type` (rows of ggml_row_size(type, n_in) bytes, 16-byte aligned base);
// x: [batch][n_in] f32; y: [batch][n_out] f32. accumulate: add to y (fuses a residual add).
// n_in must be a multiple of the type's block size (256 for k-quants, 32 otherwise).
Status gemv_q(GgmlType type, const void* w, int64_t n_in, int64_t n_out, const float* x, int batch, float* y,
              bool accumulate, cudaStream_t stream);

}  // namespace docket::cuda

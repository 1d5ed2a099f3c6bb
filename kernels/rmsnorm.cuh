#pragma once
// RMSNorm: out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]^2) + eps) * w[i].
#include "common.cuh"

namespace docket::cuda {

// x: [n_rows][dim] f32; w: [dim] f32; out: [n_rows][dim] of out_type (may alias x when f32).
Status rmsnorm(const float* x, const float* w, int64_t n_rows, int dim, float eps, void* out, DType out_type,
               cudaStream_t stream);

}  // namespace docket::cuda

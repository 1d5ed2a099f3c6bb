#pragma once
// SwiGLU gate: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#include "common.cuh"

namespace docket::cuda {

// gate, up: [n] f32; out: [n] of out_type (may alias gate when f32).
Status swiglu(const float* gate, const float* up, int64_t n, void* out, DType out_type, cudaStream_t stream);

}  // namespace docket::cuda

#pragma once
// SwiGLU gate: out = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
#include "common.cuh"

namespace docket::cuda {

// gate, up: [n] f32; out: [n] of out_type (may alias gate when f32).
Status swiglu(const float* gate, const float* up, int64_t n, void* out, DType out_type, cudaStream_t stream);

// out[i] = bf16(in[i]) for n halves (the bf16 prefill path's copy of the f16 attention output).
Status half_to_bf16(const __half* in, int64_t n, void* out, cudaStream_t stream);

}  // namespace docket::cuda

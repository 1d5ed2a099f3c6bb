#pragma once
// Rotary position embedding, llama "normal" style (pairs x[2i], x[2i+1] rotated by pos *
// base^(-2i/head_dim)). Angles are formed in double precision so long contexts (128k) keep their phase
// (rope_angle.cuh).
#include "common.cuh"

namespace docket::cuda {

// x: [n_tok][n_heads][head_dim] f32; pos: [n_tok] int32 device; inv_freq: [head_dim/2] f32 device; out: same
// shape, out_type (may alias x if f32).
Status rope(const float* x, const int32_t* pos, int64_t n_tok, int n_heads, int head_dim,
            const float* inv_freq, void* out, DType out_type, cudaStream_t stream);

}  // namespace docket::cuda

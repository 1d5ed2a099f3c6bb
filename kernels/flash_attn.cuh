#pragma once
// Causal prefill attention, flash-attention 2 style: tiles of 64 queries x 64 keys, online softmax in
// registers, fp16 tensor-core MMAs (m16n8k16) with f32 accumulation, GQA by indexing, K/V tiles
// double-buffered with cp.async.
#include "common.cuh"

namespace docket::cuda {

// q: [n_q][n_heads][head_dim] f16, already rotated; k, v: [n_kv][n_kv_heads][head_dim] f16, k rotated.
// Query row i sits at key index i + (n_kv - n_q) (a chunk appended to a cached context) and attends to keys
// 0..that index. out: [n_q][n_heads][head_dim] f16. head_dim: 64 or 128; n_heads % n_kv_heads == 0.
// scale: usually 1/sqrt(head_dim).
Status flash_attn_prefill(const __half* q, const __half* k, const __half* v, int64_t n_q, int64_t n_kv,
                          int n_heads, int n_kv_heads, int head_dim, float scale, __half* out,
                          cudaStream_t stream);

}  // namespace docket::cuda

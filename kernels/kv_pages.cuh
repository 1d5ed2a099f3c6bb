#pragma once
// Writing and reading the live (f16) KV pages: append new tokens' pre-RoPE K and V, gather a sequence into
// contiguous rotated K / V for prefill attention, and fill pages with random content (benchmarks, tests).
#include "common.cuh"
#include "paged_kv.cuh"

namespace docket::cuda {

// k, v: [n_tok][n_kv_heads][head_dim] f32 (K before RoPE); slots: [n_tok] int32 device, slot = page_id *
// page_tokens + token_in_page. Writes into f16 pages of `pool` ([pages][page_bytes]).
Status kv_append_f16(const float* k, const float* v, const int32_t* slots, int64_t n_tok, int n_kv_heads,
                     int head_dim, int page_tokens, size_t page_bytes, uint8_t* pool, cudaStream_t stream);

// Decode step: kv_append_f16 of one token (slot: device int32) and, in the same kernel, RoPE of its queries
// q: [n_heads][head_dim] f32 in place at position *pos (device int32), as rope() would.
Status kv_append_f16_rope_q(const float* k, const float* v, const int32_t* slot, const int32_t* pos,
                            int n_kv_heads, int n_heads, int head_dim, int page_tokens, size_t page_bytes,
                            uint8_t* pool, float* q, const float* inv_freq, cudaStream_t stream,
                            bool pdl = false);

// Tokens 0..n_tok-1 of a sequence whose token j lives in page page_ids[j / page_tokens] at j % page_tokens
// with position page_pos[j / page_tokens] + j % page_tokens; inv_freq: [head_dim/2] device. k_out:
// [n_tok][n_kv_heads][head_dim] f16 rotated to that position; v_out: same shape, f16.
Status kv_gather_f16(const uint8_t* pool, size_t page_bytes, int page_tokens, const int32_t* page_ids,
                     const int32_t* page_pos, int64_t n_tok, int n_kv_heads, int head_dim,
                     const float* inv_freq, __half* k_out, __half* v_out, cudaStream_t stream);

// Fills n_pages pages of `codec` with random codes and plausible scales (|x| up to ~2), from `seed`.
Status kv_fill_random(Codec codec, int page_tokens, int n_kv_heads, int head_dim, size_t page_bytes,
                      int64_t n_pages, uint64_t seed, uint8_t* pool, cudaStream_t stream);

}  // namespace docket::cuda

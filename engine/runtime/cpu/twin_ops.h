#pragma once
// CPU twins of the CUDA kernels in kernels/ (one per op, same name), the references the CUDA consistency test
// (tests/cuda) measures each kernel against. Straightforward loops with double accumulation; not tuned.
// Built only with the CUDA backend: they exist to check it (the CPU runtime has its own fused kernels).
#if DOCKET_HAVE_CUDA
#include <cstdint>
#include <vector>

#include "decode_attn.cuh"
#include "format/ggml_type.h"
#include "paged_kv.cuh"
#include "util/status.h"

namespace docket::twin {

// y[b][r] (+)= W[r] . x[b]; w: [n_out] rows of `type`; x: [batch][n_in]; y: [batch][n_out].
Status gemv_q(GgmlType type, const void* w, int64_t n_in, int64_t n_out, const float* x, int batch, float* y,
              bool accumulate);
// x: [n_rows][dim]; w: [dim]; out: [n_rows][dim].
void rmsnorm(const float* x, const float* w, int64_t n_rows, int dim, float eps, float* out);
// x, out: [n_tok][n_heads][head_dim]; pos: [n_tok]; inv_freq: [head_dim/2].
void rope(const float* x, const int32_t* pos, int64_t n_tok, int n_heads, int head_dim, const float* inv_freq,
          float* out);
// cos/sin of angle pos * inv_freq in double, as the kernels form it.
void rope_cos_sin(int64_t pos, float inv_freq, double& c, double& s);
// Plain RoPE inverse frequencies base^(-2i/head_dim), i < head_dim/2.
std::vector<float> rope_inv_freq(float base, int head_dim);
void swiglu(const float* gate, const float* up, int64_t n, float* out);
// table: [n_vocab] rows of `type`; out: [n_tok][dim].
Status embed_rows(GgmlType type, const void* table, int64_t n_vocab, int dim, const int32_t* tokens,
                  int64_t n_tok, float* out);
// logits: [n_vocab] of sequence b. Same rule and random stream as cuda::sample_tokens.
int32_t sample_token(const float* logits, int n_vocab, float temperature, uint64_t seed, int b);
// q: [n_q][n_heads][hd]; k, v: [n_kv][n_kv_heads][hd] (k rotated); out: [n_q][n_heads][hd]. Causal with the
// chunk at the end of the context (row i sees keys <= i + n_kv - n_q).
void flash_attn_prefill(const float* q, const float* k, const float* v, int64_t n_q, int64_t n_kv,
                        int n_heads, int n_kv_heads, int head_dim, float scale, float* out);
// Same contract as cuda::decode_attention, with every PagedKv pointer in host memory. Pages are read with
// the one CPU decoder (format/kv_codec.h); pages for the CUDA tests are made with its encoder.
Status decode_attention(const float* q, const cuda::PagedKv* sources, int n_sources,
                        const cuda::DecodeAttnShape& s, float* out);
}  // namespace docket::twin
#endif

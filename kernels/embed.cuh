#pragma once
// Embedding lookup from a quantized table.
#include "common.cuh"
#include "format/ggml_type.h"

namespace docket::cuda {

// table: [n_vocab][dim] in GGML layout of `type`; tokens: [n_tok] int32 device; out: [n_tok][dim] f32.
// Token ids outside [0, n_vocab) produce rows of NaN so that a bad id can never pass silently
// (callers validate ids on the host first).
Status embed_rows(GgmlType type, const void* table, int64_t n_vocab, int dim, const int32_t* tokens,
                  int64_t n_tok, float* out, cudaStream_t stream);

}  // namespace docket::cuda

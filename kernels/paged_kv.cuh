#pragma once
// Paged KV descriptor of the decode-attention kernel and its CPU twin. The pages are the engine's KV pages
// (engine/format/kv_page.h: layout, codecs, kTokens); keys are stored BEFORE RoPE and attention rotates them
// to page_pos + token inside the kernel. Plain structs usable from host and device code.
#include <cstddef>
#include <cstdint>

#include "format/kv_page.h"

namespace docket::cuda {

using kv_page::Codec;

// One batch of sequences over one page pool (FlashInfer paged_kv_t style). All pointers are device memory.
struct PagedKv {
    Codec codec = Codec::fp16;
    int page_tokens = kv_page::kTokens;  // other sizes (16..256) in the kernels' own tests only
    int n_kv_heads = 0;
    int head_dim = 0;               // 64 or 128
    size_t page_bytes = 0;          // stride between pages in `pool` (>= kv_page::page_bytes(...))
    const uint8_t* pool = nullptr;  // [n_pool_pages][page_bytes]
    const int32_t* indptr =
        nullptr;  // [batch + 1]: pages of sequence b are indices[indptr[b] .. indptr[b+1])
    const int32_t* indices = nullptr;  // [nnz]: page ids into `pool`
    const int32_t* last_page_len =
        nullptr;                        // [batch]: tokens used in each sequence's last page (0 = no pages)
    const int32_t* page_pos = nullptr;  // [nnz]: position of each page's first token (RoPE target)
};

}  // namespace docket::cuda

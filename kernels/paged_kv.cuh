#pragma once
// Paged KV descriptor and the page byte layout shared by the decode-attention kernel, its CPU twin and the
// host/SSD tiers (design/ARCHITECTURE.md "KV page"). Plain structs usable from host and device code.
//
// A page holds `page_tokens` consecutive tokens of ONE layer for all KV heads, as one contiguous buffer
// (256-byte aligned) laid out [K codes][V codes][K scale,zero][V scale,zero], each part 16-byte aligned:
//   f16 : K, V as [head][token][dim] half; no scales.
//   intN (N = 8, 4, 2), asymmetric (x = zero + scale * code, code unsigned N bits):
//     K codes [head][dim][token] packed N bits little-endian along the token axis (channel-wise over the
//     page), V codes [head][token][dim] packed N bits little-endian along the dim axis (token-wise), K scales
//     [head][dim]   {scale, zero} half pairs, V scales [head][token] {scale, zero} half pairs.
// Keys are stored BEFORE RoPE; attention rotates them to page_pos + token inside the kernel.
#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define DK_HD __host__ __device__
#else
#define DK_HD
#endif

namespace docket::cuda {

enum class KvFormat : uint8_t { f16 = 0, int8 = 1, int4 = 2, int2 = 3 };

DK_HD inline int kv_bits(KvFormat f) {
    return f == KvFormat::f16 ? 16 : f == KvFormat::int8 ? 8 : f == KvFormat::int4 ? 4 : 2;
}

struct KvPageLayout {
    size_t k_codes = 0, v_codes = 0, k_scales = 0, v_scales = 0;  // byte offsets inside the page
    size_t k_code_bytes = 0, v_code_bytes = 0;                    // bytes of each part
    size_t page_bytes = 0;                                        // total, rounded up to 256
};

DK_HD inline size_t kv_align(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

DK_HD inline KvPageLayout kv_page_layout(KvFormat f, int page_tokens, int n_kv_heads, int head_dim) {
    KvPageLayout l;
    const size_t elems = static_cast<size_t>(page_tokens) * n_kv_heads * head_dim;
    const int bits = kv_bits(f);
    l.k_code_bytes = elems * bits / 8;
    l.v_code_bytes = l.k_code_bytes;
    l.k_codes = 0;
    l.v_codes = kv_align(l.k_code_bytes, 16);
    size_t end = l.v_codes + kv_align(l.v_code_bytes, 16);
    if (f != KvFormat::f16) {
        l.k_scales = end;
        end += kv_align(static_cast<size_t>(n_kv_heads) * head_dim * 4, 16);
        l.v_scales = end;
        end += kv_align(static_cast<size_t>(n_kv_heads) * page_tokens * 4, 16);
    } else {
        l.k_scales = l.v_scales = end;
    }
    l.page_bytes = kv_align(end, 256);
    return l;
}

// One batch of sequences over one page pool (FlashInfer paged_kv_t style). All pointers are device memory.
struct PagedKv {
    KvFormat format = KvFormat::f16;
    int page_tokens = 64;  // tokens per page: a multiple of 16 in [16, 256]
    int n_kv_heads = 0;
    int head_dim = 0;               // 64 or 128
    size_t page_bytes = 0;          // stride between pages in `pool` (>= kv_page_layout(...).page_bytes)
    const uint8_t* pool = nullptr;  // [n_pool_pages][page_bytes]
    const int32_t* indptr =
        nullptr;  // [batch + 1]: pages of sequence b are indices[indptr[b] .. indptr[b+1])
    const int32_t* indices = nullptr;  // [nnz]: page ids into `pool`
    const int32_t* last_page_len =
        nullptr;                        // [batch]: tokens used in each sequence's last page (0 = no pages)
    const int32_t* page_pos = nullptr;  // [nnz]: position of each page's first token (RoPE target)
};

}  // namespace docket::cuda

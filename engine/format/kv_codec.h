#pragma once
// The one CPU codec of KV pages (format/kv_page.h): f32 KV of one layer <-> page bytes (fp16, int8/4/2 KIVI),
// used by the store to write and read snapshots and by the CUDA kernels' CPU twins to make and read pages.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "format/kv_page.h"
#include "util/status.h"

namespace docket::kv_page {

// Codec identity as it enters a snapshot key: the codec, its group sizes and the page format version.
// Two snapshots whose params strings differ never match.
struct CodecParams {
    Codec codec = Codec::int4;
    int k_group = kTokens;  // keys: per channel over this many tokens (fixed by the page format)
    int v_group = 0;        // values: per token over this many dims (= head_dim)
};
// "int4;kg=64;vg=64;fmt=1"
std::string codec_params_string(const CodecParams& p);
CodecParams default_codec_params(Codec c, int head_dim);

// The codec named `name` (fp16, int8, int4, int2); invalid_argument naming `what` (e.g. "--codec") otherwise.
Result<Codec> parse_codec(std::string_view name, std::string_view what);

// Encodes `valid` tokens (1..page_tokens) of one layer into one page of page_bytes(codec, n_kv_heads,
// head_dim, page_tokens) bytes.
//   k, v: [valid, n_kv_heads, head_dim] f32 (keys before RoPE), contiguous.
//   page: output, page_bytes(...) bytes; every byte is written (padding zeroed).
// invalid_argument for a bad shape or count; non-finite inputs are clamped to the fp16 range.
// page_tokens other than kTokens (16..256, a multiple of 16): the CUDA kernels' tests only (kv_page.h).
Status encode_page(Codec codec, int n_kv_heads, int head_dim, const float* k, const float* v, int valid,
                   uint8_t* page, int page_tokens = kTokens);

// Decodes the first `valid` tokens of a page.
//   k, v: output [valid, n_kv_heads, head_dim] f32.
Status decode_page(Codec codec, int n_kv_heads, int head_dim, const uint8_t* page, int valid, float* k,
                   float* v, int page_tokens = kTokens);

}  // namespace docket::kv_page

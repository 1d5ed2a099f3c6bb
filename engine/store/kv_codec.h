#pragma once
// Page codecs: f32 KV of one layer <-> the page bytes defined in store/kv_page.h (fp16, int8/4/2 KIVI).
#include <cstddef>
#include <cstdint>
#include <string>

#include "store/kv_page.h"
#include "util/status.h"

namespace docket::store {

using kv_page::Codec;

// Codec identity as it enters a snapshot key: the codec, its group sizes and the page format version.
// Two snapshots whose params strings differ never match.
struct CodecParams {
    Codec codec = Codec::int4;
    int k_group = kv_page::kTokens;  // keys: per channel over this many tokens (fixed by the page format)
    int v_group = 0;                 // values: per token over this many dims (= head_dim)
};
// "int4;kg=64;vg=64;fmt=1"
std::string codec_params_string(const CodecParams& p);
CodecParams default_codec_params(Codec c, int head_dim);

// Encodes `valid` tokens (1..64) of one layer into one page of page_bytes(codec, n_kv_heads, head_dim) bytes.
//   k, v: [valid, n_kv_heads, head_dim] f32 (keys before RoPE), contiguous.
//   page: output, page_bytes(...) bytes; every byte is written (padding zeroed).
// invalid_argument for a bad shape or count; non-finite inputs are clamped to the fp16 range.
Status encode_page(Codec codec, int n_kv_heads, int head_dim, const float* k, const float* v, int valid,
                   uint8_t* page);

// Decodes the first `valid` tokens of a page.
//   k, v: output [valid, n_kv_heads, head_dim] f32.
Status decode_page(Codec codec, int n_kv_heads, int head_dim, const uint8_t* page, int valid, float* k,
                   float* v);

// IEEE half conversions (round to nearest even) used by the codecs.
uint16_t f32_to_f16(float f);
float f16_to_f32(uint16_t h);

}  // namespace docket::store

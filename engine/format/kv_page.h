#pragma once
// The KV page: the unit every tier (SSD extent, pinned host, GPU pool) moves, byte for byte, and the one
// description of it that the store, the runtime and the CUDA kernels share (the CPU encoder/decoder is
// format/kv_codec.h). Plain C++17 with no dependencies so that CUDA kernels include it as is.
//
// A page holds kv_page::kTokens (64) consecutive tokens of ONE layer for ALL KV heads, as one contiguous
// 256-byte-aligned buffer of page_layout(...).bytes bytes. Every page that is stored or leaves a device has
// kTokens tokens; only the CUDA kernels' own tests use other page_tokens (16..256, the layout below with
// page_tokens in place of 64):
//
//   [K codes][V codes][K scale,zero][V scale,zero]      each part starts 16-byte aligned (offsets below)
//
// fp16 (lossless for fp16 inputs): K codes = K as half [head][token][dim], V codes likewise; no scale parts.
// intN (N = 8, 4, 2), KIVI-style asymmetric, x ~= code * scale + zero (zero = group minimum):
//   K codes: [head][dim][token], N-bit codes packed little-endian along the token axis: the code of token t
//   of
//            channel (h, d) sits in byte (h*head_dim + d)*(64*N/8) + t*N/8, bits (t*N)%8 .. +N-1.
//            K is quantized per channel (h, d) over the page's 64 tokens.
//   V codes: [head][token][dim], N-bit codes packed little-endian along the dim axis: the code of (h, t, d)
//            sits in byte (h*64 + t)*(head_dim*N/8) + d*N/8, bits (d*N)%8 .. +N-1.
//            V is quantized per token over one head's dims (group = head_dim).
//   K scale,zero: [head][dim] pairs {scale, zero} as IEEE half (4 bytes per channel).
//   V scale,zero: [head][token] pairs {scale, zero} as IEEE half.
//
// Partial pages: the last page of a snapshot may hold fewer than 64 valid tokens (valid count is carried by
// the snapshot / extent header, never by the page). Invalid token slots have all-zero codes; their V scale
// and zero are 0 (so they decode to 0.0); K scale/zero are computed over the valid tokens only; fp16 slots
// are +0.0. Consumers must not attend to slots >= the valid count.
#include <cstddef>
#include <cstdint>
#include <string_view>

#ifdef __CUDACC__
#define DK_HD __host__ __device__
#else
#define DK_HD
#endif

namespace docket::kv_page {

inline constexpr int kTokens = 64;             // tokens per page: a constant of the format
inline constexpr size_t kPageAlign = 256;      // page buffers start (and their size rounds) to this
inline constexpr size_t kPartAlign = 16;       // each part starts at a multiple of this within the page
inline constexpr uint32_t kFormatVersion = 1;  // bump when any byte of this layout changes

// The codec of a page, with ONE name each (the names the CLI accepts and the snapshot keys carry).
enum class Codec : uint8_t { fp16 = 0, int8 = 1, int4 = 2, int2 = 3 };
inline constexpr int kNumCodecs = 4;
inline constexpr const char* kCodecNames = "fp16, int8, int4 or int2";  // for messages

DK_HD constexpr int codec_bits(Codec c) {
    return c == Codec::fp16 ? 16 : c == Codec::int8 ? 8 : c == Codec::int4 ? 4 : 2;
}
DK_HD constexpr bool codec_is_quantized(Codec c) {
    return c != Codec::fp16;
}
DK_HD constexpr const char* codec_name(Codec c) {
    return c == Codec::fp16 ? "fp16" : c == Codec::int8 ? "int8" : c == Codec::int4 ? "int4" : "int2";
}
DK_HD constexpr bool codec_valid(uint32_t raw) {
    return raw < static_cast<uint32_t>(kNumCodecs);
}
// The codec named `name` exactly (codec_name's spelling); false for any other string.
constexpr bool codec_from_name(std::string_view name, Codec& out) {
    for (int i = 0; i < kNumCodecs; ++i)
        if (name == codec_name(static_cast<Codec>(i))) {
            out = static_cast<Codec>(i);
            return true;
        }
    return false;
}

DK_HD constexpr size_t align_up(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

// Byte offsets and sizes of the four parts of one page. Sizes of the scale parts are 0 for fp16.
struct PageLayout {
    size_t k_codes = 0, k_codes_bytes = 0;
    size_t v_codes = 0, v_codes_bytes = 0;
    size_t k_scales = 0, k_scales_bytes = 0;  // [head][dim] {scale, zero} half
    size_t v_scales = 0, v_scales_bytes = 0;  // [head][token] {scale, zero} half
    size_t bytes = 0;                         // whole page, a multiple of kPageAlign
};

// Layout for (codec, n_kv_heads, head_dim). head_dim * bits must be a multiple of 8 (true for every shipped
// model: head_dim is a multiple of 4). page_tokens other than kTokens: GPU working pages only (see above).
DK_HD constexpr PageLayout page_layout(Codec c, int n_kv_heads, int head_dim, int page_tokens = kTokens) {
    PageLayout p;
    const size_t heads = static_cast<size_t>(n_kv_heads), dim = static_cast<size_t>(head_dim);
    const size_t bits = static_cast<size_t>(codec_bits(c)), tokens = static_cast<size_t>(page_tokens);
    const size_t codes = heads * dim * tokens * bits / 8;  // same count for K and V
    p.k_codes = 0;
    p.k_codes_bytes = codes;
    p.v_codes = align_up(p.k_codes + codes, kPartAlign);
    p.v_codes_bytes = codes;
    size_t end = p.v_codes + codes;
    if (codec_is_quantized(c)) {
        p.k_scales = align_up(end, kPartAlign);
        p.k_scales_bytes = heads * dim * 2 * 2;
        p.v_scales = align_up(p.k_scales + p.k_scales_bytes, kPartAlign);
        p.v_scales_bytes = heads * tokens * 2 * 2;
        end = p.v_scales + p.v_scales_bytes;
    } else {
        p.k_scales = p.v_scales = end;
    }
    p.bytes = align_up(end, kPageAlign);
    return p;
}

DK_HD constexpr size_t page_bytes(Codec c, int n_kv_heads, int head_dim, int page_tokens = kTokens) {
    return page_layout(c, n_kv_heads, head_dim, page_tokens).bytes;
}
DK_HD constexpr int pages_for_tokens(int64_t n_tokens) {
    return static_cast<int>((n_tokens + kTokens - 1) / kTokens);
}

// The figures ARCHITECTURE.md quotes for the Llama-3-8B shape (8 KV heads x 128), per token per layer.
static_assert(page_bytes(Codec::fp16, 8, 128) / kTokens == 4096);
static_assert(page_bytes(Codec::int8, 8, 128) / kTokens == 2144);
static_assert(page_bytes(Codec::int4, 8, 128) / kTokens == 1120);
static_assert(page_bytes(Codec::int2, 8, 128) / kTokens == 608);

}  // namespace docket::kv_page

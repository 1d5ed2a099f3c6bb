#include "format/kv_codec.h"

#include "util/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace docket::kv_page {

std::string codec_params_string(const CodecParams& p) {
    return fmt::format("{};kg={};vg={};fmt={}", codec_name(p.codec), p.k_group, p.v_group, kFormatVersion);
}

CodecParams default_codec_params(Codec c, int head_dim) {
    return CodecParams{c, kTokens, head_dim};
}

Result<Codec> parse_codec(std::string_view name, std::string_view what) {
    Codec c = Codec::fp16;
    if (!codec_from_name(name, c))
        return make_error(ErrorCode::invalid_argument, "{}: unknown codec '{}' (the codecs are {})", what,
                          name, kCodecNames);
    return c;
}

namespace {

constexpr float kHalfMax = 65504.0f;

float sanitize(float x) {
    if (std::isnan(x)) return 0.0f;
    return std::clamp(x, -kHalfMax, kHalfMax);
}

Status check_shape(Codec codec, int n_kv_heads, int head_dim, int valid, int page_tokens) {
    if (!codec_valid(static_cast<uint32_t>(codec)))
        return make_error(ErrorCode::invalid_argument, "unknown codec id {}", static_cast<int>(codec));
    if (n_kv_heads <= 0 || n_kv_heads > 1024 || head_dim <= 0 || head_dim > 1024 || head_dim % 4 != 0)
        return make_error(ErrorCode::invalid_argument, "bad KV shape: {} kv heads x head_dim {}", n_kv_heads,
                          head_dim);
    if (page_tokens < 16 || page_tokens > 256 || page_tokens % 16 != 0)
        return make_error(ErrorCode::invalid_argument,
                          "page of {} tokens: pages hold 16..256 (a multiple of 16)", page_tokens);
    if (valid < 1 || valid > page_tokens)
        return make_error(ErrorCode::invalid_argument, "page token count {} outside 1..{}", valid,
                          page_tokens);
    return Status::ok();
}

// Asymmetric quantizer for one group: scale and zero are rounded to half first so that the decoder, which
// only sees the halves, reconstructs exactly what the encoder aimed at.
struct Quant {
    float scale = 0, zero = 0, inv = 0;
    uint16_t scale_h = 0, zero_h = 0;
    int qmax = 0;
    Quant(float lo, float hi, int bits) {
        qmax = (1 << bits) - 1;
        zero_h = fp32_to_fp16(lo);
        zero = fp16_to_fp32(zero_h);
        float s = std::max(0.0f, (hi - zero) / static_cast<float>(qmax));
        scale_h = fp32_to_fp16(s);
        scale = fp16_to_fp32(scale_h);
        // Half rounding may shrink the scale so that hi no longer reaches qmax; nudge up one ulp then.
        if (scale > 0 && zero + scale * qmax < hi) {
            scale_h = static_cast<uint16_t>(scale_h + 1);
            scale = fp16_to_fp32(scale_h);
        }
        inv = scale > 0 ? 1.0f / scale : 0.0f;
    }
    uint32_t code(float x) const {
        float q = std::nearbyint((x - zero) * inv);
        return static_cast<uint32_t>(std::clamp(q, 0.0f, static_cast<float>(qmax)));
    }
};

void put_code(uint8_t* base, int index, int bits, uint32_t code) {
    const int bit = index * bits;
    base[bit >> 3] |= static_cast<uint8_t>(code << (bit & 7));
}

uint32_t get_code(const uint8_t* base, int index, int bits) {
    const int bit = index * bits;
    return (base[bit >> 3] >> (bit & 7)) & ((1u << bits) - 1);
}

void put_pair(uint8_t* p, uint16_t a, uint16_t b) {
    std::memcpy(p, &a, 2);
    std::memcpy(p + 2, &b, 2);
}

// One asymmetric group: the n values get(0..n-1) share a (scale, zero) pair written to `scale_pair`; codes
// are packed along the group. Keys are a channel over the page's tokens, values a token over one head's dims.
template <typename Get>
void quantize_group(int n, int bits, Get get, uint8_t* codes, uint8_t* scale_pair) {
    float lo = kHalfMax, hi = -kHalfMax;
    for (int i = 0; i < n; ++i) {
        const float x = get(i);
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
    Quant q(lo, hi, bits);
    for (int i = 0; i < n; ++i) put_code(codes, i, bits, q.code(get(i)));
    put_pair(scale_pair, q.scale_h, q.zero_h);
}

}  // namespace

Status encode_page(Codec codec, int n_kv_heads, int head_dim, const float* k, const float* v, int valid,
                   uint8_t* page, int page_tokens) {
    DK_TRY(check_shape(codec, n_kv_heads, head_dim, valid, page_tokens));
    const PageLayout L = page_layout(codec, n_kv_heads, head_dim, page_tokens);
    std::memset(page, 0, L.bytes);
    const int H = n_kv_heads, D = head_dim, T = page_tokens;
    auto at = [&](const float* x, int t, int h, int d) {
        return x[(static_cast<size_t>(t) * H + h) * D + d];
    };

    if (codec == Codec::fp16) {
        auto* ko = reinterpret_cast<uint8_t*>(page + L.k_codes);
        auto* vo = reinterpret_cast<uint8_t*>(page + L.v_codes);
        for (int h = 0; h < H; ++h)
            for (int t = 0; t < valid; ++t)
                for (int d = 0; d < D; ++d) {
                    const size_t o = ((static_cast<size_t>(h) * T + t) * D + d) * 2;
                    uint16_t kh = fp32_to_fp16(sanitize(at(k, t, h, d))),
                             vh = fp32_to_fp16(sanitize(at(v, t, h, d)));
                    std::memcpy(ko + o, &kh, 2);
                    std::memcpy(vo + o, &vh, 2);
                }
        return Status::ok();
    }

    const int bits = codec_bits(codec);
    const size_t k_chan_bytes = static_cast<size_t>(T) * bits / 8;  // one channel's page_tokens codes
    const size_t v_row_bytes = static_cast<size_t>(D) * bits / 8;   // one token's head_dim codes
    // Keys: per channel (h, d) over the valid tokens.
    for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d) {
            const size_t ch = static_cast<size_t>(h) * D + d;
            quantize_group(
                valid, bits, [&](int t) { return sanitize(at(k, t, h, d)); },
                page + L.k_codes + ch * k_chan_bytes, page + L.k_scales + ch * 4);
        }
    // Values: per token over one head's dims.
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < valid; ++t) {
            const size_t row = static_cast<size_t>(h) * T + t;
            quantize_group(
                D, bits, [&](int d) { return sanitize(at(v, t, h, d)); },
                page + L.v_codes + row * v_row_bytes, page + L.v_scales + row * 4);
        }
    return Status::ok();
}

Status decode_page(Codec codec, int n_kv_heads, int head_dim, const uint8_t* page, int valid, float* k,
                   float* v, int page_tokens) {
    DK_TRY(check_shape(codec, n_kv_heads, head_dim, valid, page_tokens));
    const PageLayout L = page_layout(codec, n_kv_heads, head_dim, page_tokens);
    const int H = n_kv_heads, D = head_dim, T = page_tokens;
    auto out = [&](float* x, int t, int h, int d) -> float& {
        return x[(static_cast<size_t>(t) * H + h) * D + d];
    };
    auto half_at = [&](size_t off) {
        uint16_t u;
        std::memcpy(&u, page + off, 2);
        return fp16_to_fp32(u);
    };

    if (codec == Codec::fp16) {
        for (int h = 0; h < H; ++h)
            for (int t = 0; t < valid; ++t)
                for (int d = 0; d < D; ++d) {
                    const size_t o = ((static_cast<size_t>(h) * T + t) * D + d) * 2;
                    out(k, t, h, d) = half_at(L.k_codes + o);
                    out(v, t, h, d) = half_at(L.v_codes + o);
                }
        return Status::ok();
    }

    const int bits = codec_bits(codec);
    const size_t k_chan_bytes = static_cast<size_t>(T) * bits / 8;
    const size_t v_row_bytes = static_cast<size_t>(D) * bits / 8;
    for (int h = 0; h < H; ++h)
        for (int d = 0; d < D; ++d) {
            const size_t ch = static_cast<size_t>(h) * D + d;
            const float scale = half_at(L.k_scales + ch * 4), zero = half_at(L.k_scales + ch * 4 + 2);
            const uint8_t* codes = page + L.k_codes + ch * k_chan_bytes;
            for (int t = 0; t < valid; ++t)
                out(k, t, h, d) = static_cast<float>(get_code(codes, t, bits)) * scale + zero;
        }
    for (int h = 0; h < H; ++h)
        for (int t = 0; t < valid; ++t) {
            const size_t row = static_cast<size_t>(h) * T + t;
            const float scale = half_at(L.v_scales + row * 4), zero = half_at(L.v_scales + row * 4 + 2);
            const uint8_t* codes = page + L.v_codes + row * v_row_bytes;
            for (int d = 0; d < D; ++d)
                out(v, t, h, d) = static_cast<float>(get_code(codes, d, bits)) * scale + zero;
        }
    return Status::ok();
}

}  // namespace docket::kv_page

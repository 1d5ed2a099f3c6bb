// Dequantization of ggml block formats, bit-exact with ggml-quants.c: every product is evaluated in the same
// order and in float, as ggml does (the build uses ISO C++ mode, so the compiler does not contract a*b+c into
// an FMA, which would change the low bits). Block layouts are ggml's (see the structs below).
#include "model/dequant.h"

#include "model/quant_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace docket {
namespace {

using quant::dq_q4_0;
using quant::dq_q4_1;
using quant::dq_q4_k;
using quant::dq_q6_k;
using quant::dq_q8_0;
using quant::scale_min_k4;

uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
float load_f16(const uint8_t* p) {
    return fp16_to_fp32(load_u16(p));
}
void store_f16(uint8_t* p, float f) {
    uint16_t h = fp32_to_fp16(f);
    std::memcpy(p, &h, 2);
}
// Round to nearest, ties to even (the default rounding mode), as ggml's nearest_int.
int nearest_int(float f) {
    return static_cast<int>(std::lrintf(f));
}

// ---- 32-element block formats ----
constexpr int QK = 32;

void dq_q5_0(const uint8_t* b, float* y) {  // {f16 d; u8 qh[4]; u8 qs[16]}
    const float d = load_f16(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < QK / 2; ++j) {
        const uint8_t xh0 = ((qh >> j) << 4) & 0x10;
        const uint8_t xh1 = (qh >> (j + 12)) & 0x10;
        const int x0 = ((qs[j] & 0x0F) | xh0) - 16;
        const int x1 = ((qs[j] >> 4) | xh1) - 16;
        y[j] = x0 * d;
        y[j + QK / 2] = x1 * d;
    }
}

void dq_q5_1(const uint8_t* b, float* y) {  // {f16 d; f16 m; u8 qh[4]; u8 qs[16]}
    const float d = load_f16(b);
    const float m = load_f16(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < QK / 2; ++j) {
        const uint8_t xh0 = ((qh >> j) << 4) & 0x10;
        const uint8_t xh1 = (qh >> (j + 12)) & 0x10;
        const int x0 = (qs[j] & 0x0F) | xh0;
        const int x1 = (qs[j] >> 4) | xh1;
        y[j] = x0 * d + m;
        y[j + QK / 2] = x1 * d + m;
    }
}

void dq_q8_1(const uint8_t* b, float* y) {  // {f16 d; f16 s; i8 qs[32]}
    const float d = load_f16(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 4);
    for (int j = 0; j < QK; ++j) y[j] = qs[j] * d;
}

// ---- k-quants: 256-element super-blocks ----
constexpr int kQK = static_cast<int>(QK_K);

void dq_q2_k(const uint8_t* b, float* y) {  // {u8 scales[16]; u8 qs[64]; f16 d; f16 dmin}
    const uint8_t* scales = b;
    const uint8_t* q = b + 16;
    const float d = load_f16(b + 80);
    const float min = load_f16(b + 82);
    int is = 0;
    for (int n = 0; n < kQK; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            uint8_t sc = scales[is++];
            float dl = d * (sc & 0xF), ml = min * (sc >> 4);
            for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<int8_t>((q[l] >> shift) & 3) - ml;
            sc = scales[is++];
            dl = d * (sc & 0xF), ml = min * (sc >> 4);
            for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<int8_t>((q[l + 16] >> shift) & 3) - ml;
            shift += 2;
        }
        q += 32;
    }
}

void dq_q3_k(const uint8_t* b, float* y) {  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d}
    const uint8_t* hm = b;
    const uint8_t* q = b + 32;
    const float d_all = load_f16(b + 108);
    // Unpack 16 6-bit scales: low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11.
    constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    uint32_t aux[4];
    std::memcpy(aux, b + 96, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < kQK; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
            float dl = d_all * (scales[is++] - 32);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (static_cast<int8_t>((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            dl = d_all * (scales[is++] - 32);
            for (int l = 0; l < 16; ++l)
                *y++ = dl * (static_cast<int8_t>((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
            shift += 2;
            m <<= 1;
        }
        q += 32;
    }
}

// 6-bit scale and min of sub-block j from the 12-byte packed table of Q4_K / Q5_K.

void dq_q5_k(const uint8_t* b, float* y) {  // {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
    const float d = load_f16(b);
    const float min = load_f16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* ql = b + 48;
    int is = 0;
    uint8_t sc, m;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < kQK; j += 64) {
        scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 <<= 2;
        u2 <<= 2;
    }
}

void dq_q8_k(const uint8_t* b, float* y) {  // {f32 d; i8 qs[256]; i16 bsums[16]}
    float d;
    std::memcpy(&d, b, 4);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 4);
    for (int j = 0; j < kQK; ++j) y[j] = d * qs[j];
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_dequantizer(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_0:
            return dq_q4_0;
        case GgmlType::Q4_1:
            return dq_q4_1;
        case GgmlType::Q5_0:
            return dq_q5_0;
        case GgmlType::Q5_1:
            return dq_q5_1;
        case GgmlType::Q8_0:
            return dq_q8_0;
        case GgmlType::Q8_1:
            return dq_q8_1;
        case GgmlType::Q2_K:
            return dq_q2_k;
        case GgmlType::Q3_K:
            return dq_q3_k;
        case GgmlType::Q4_K:
            return dq_q4_k;
        case GgmlType::Q5_K:
            return dq_q5_k;
        case GgmlType::Q6_K:
            return dq_q6_k;
        case GgmlType::Q8_K:
            return dq_q8_k;
        default:
            return nullptr;
    }
}

// ---- reference quantizers ----

void q_q8_0(const float* x, uint8_t* b) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(b, d);
    int8_t* qs = reinterpret_cast<int8_t*>(b + 2);
    for (int j = 0; j < QK; ++j) qs[j] = static_cast<int8_t>(std::clamp(nearest_int(x[j] * id), -127, 127));
}

void q_q4_0(const float* x, uint8_t* b) {
    // The signed value of largest magnitude maps to -8, so the full range [-8, 7] is used on its side.
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; ++j)
        if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(b, d);
    uint8_t* qs = b + 2;
    for (int j = 0; j < QK / 2; ++j) {
        const int x0 = std::clamp(static_cast<int>(x[j] * id + 8.5f), 0, 15);
        const int x1 = std::clamp(static_cast<int>(x[j + QK / 2] * id + 8.5f), 0, 15);
        qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
}

void q_q4_1(const float* x, uint8_t* b) {
    float min = x[0], max = x[0];
    for (int j = 1; j < QK; ++j) min = std::min(min, x[j]), max = std::max(max, x[j]);
    const float d = (max - min) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(b, d);
    store_f16(b + 2, min);
    uint8_t* qs = b + 4;
    for (int j = 0; j < QK / 2; ++j) {
        const int x0 = std::clamp(static_cast<int>((x[j] - min) * id + 0.5f), 0, 15);
        const int x1 = std::clamp(static_cast<int>((x[j + QK / 2] - min) * id + 0.5f), 0, 15);
        qs[j] = static_cast<uint8_t>(x0 | (x1 << 4));
    }
}

// Q4_K: 8 sub-blocks of 32, each y = d*sc*q - dmin*m with 6-bit sc, m and 4-bit q.
void q_q4_k(const float* x, uint8_t* b) {
    float scales[8], mins[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float lo = 0.0f, hi = xs[0];  // the min is clamped to <= 0 so that m stays non-negative
        for (int l = 0; l < 32; ++l) lo = std::min(lo, xs[l]), hi = std::max(hi, xs[l]);
        scales[j] = (hi - lo) / 15.0f;
        mins[j] = -lo;
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    uint8_t* sc = b + 4;
    std::memset(sc, 0, 12);
    for (int j = 0; j < 8; ++j) {
        // Round the scale up so that the sub-block's range still fits in 4 bits after 6-bit scale
        // quantization.
        uint8_t ls = static_cast<uint8_t>(std::min(63, static_cast<int>(std::ceil(scales[j] * inv_scale))));
        uint8_t lm = static_cast<uint8_t>(std::min(63, nearest_int(mins[j] * inv_min)));
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            sc[j - 4] |= ((ls >> 4) << 6);
            sc[j] |= ((lm >> 4) << 6);
        }
    }
    store_f16(b, max_scale / 63.0f);
    store_f16(b + 2, max_min / 63.0f);
    const float d = load_f16(b), dmin = load_f16(b + 2);
    uint8_t L[256];
    for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        scale_min_k4(j, sc, &s, &m);
        const float dd = d * s, dm = dmin * m;
        for (int l = 0; l < 32; ++l)
            L[32 * j + l] =
                dd == 0.0f ? 0
                           : static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + l] + dm) / dd), 0, 15));
    }
    uint8_t* qs = b + 16;
    for (int j = 0; j < kQK; j += 64) {
        for (int l = 0; l < 32; ++l) qs[l] = L[j + l] | (L[j + l + 32] << 4);
        qs += 32;
    }
}

// Q6_K: 16 sub-blocks of 16, y = d*sc*q with int8 sc and q in [-32, 31].
void q_q6_k(const float* x, uint8_t* b) {
    float scales[16];
    float max_abs_scale = 0.0f;
    for (int j = 0; j < 16; ++j) {
        float amax = 0.0f;
        for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
        scales[j] = amax / 31.0f;
        max_abs_scale = std::max(max_abs_scale, scales[j]);
    }
    int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
    const float inv = max_abs_scale > 0.0f ? 127.0f / max_abs_scale : 0.0f;
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(std::min(127, nearest_int(scales[j] * inv)));
    store_f16(b + 208, max_abs_scale / 127.0f);
    const float d = load_f16(b + 208);
    uint8_t L[256];
    for (int j = 0; j < 16; ++j) {
        const float dd = d * sc[j];
        for (int l = 0; l < 16; ++l) {
            const int q = dd == 0.0f ? 0 : std::clamp(nearest_int(x[16 * j + l] / dd), -32, 31);
            L[16 * j + l] = static_cast<uint8_t>(q + 32);
        }
    }
    uint8_t* ql = b;
    uint8_t* qh = b + 128;
    for (int j = 0; j < kQK; j += 128) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = (q1 & 0xF) | ((q3 & 0xF) << 4);
            ql[l + 32] = (q2 & 0xF) | ((q4 & 0xF) << 4);
            qh[l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
        ql += 64;
        qh += 32;
    }
}

using QuantFn = void (*)(const float*, uint8_t*);

QuantFn block_quantizer(GgmlType t) {
    switch (t) {
        case GgmlType::Q8_0:
            return q_q8_0;
        case GgmlType::Q4_0:
            return q_q4_0;
        case GgmlType::Q4_1:
            return q_q4_1;
        case GgmlType::Q4_K:
            return q_q4_k;
        case GgmlType::Q6_K:
            return q_q6_k;
        default:
            return nullptr;
    }
}

Status check_count(GgmlType type, int64_t n, const char* op) {
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    if (!tr)
        return make_error(ErrorCode::unsupported, "{}: unknown ggml type {}", op,
                          static_cast<uint32_t>(type));
    if (n < 0 || n % tr->block_size != 0)
        return make_error(ErrorCode::invalid_argument,
                          "{}: {} elements is not a multiple of the {} block size {}", op, n, tr->name,
                          tr->block_size);
    return Status::ok();
}

}  // namespace

bool can_dequantize(GgmlType type) {
    return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 ||
           block_dequantizer(type) != nullptr;
}

bool can_quantize(GgmlType type) {
    return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16 ||
           block_quantizer(type) != nullptr;
}

Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    DK_TRY(check_count(type, n, "dequantize_row"));
    const uint8_t* s = static_cast<const uint8_t*>(src);
    switch (type) {
        case GgmlType::F32:
            std::memcpy(dst, s, static_cast<size_t>(n) * 4);
            return Status::ok();
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(s + 2 * i));
            return Status::ok();
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(s + 2 * i));
            return Status::ok();
        default:
            break;
    }
    BlockFn fn = block_dequantizer(type);
    if (!fn)
        return make_error(ErrorCode::unsupported, "dequantize_row: no dequantizer for {}",
                          ggml_type_name(type));
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    const int64_t nb = n / tr->block_size;
    for (int64_t i = 0; i < nb; ++i) fn(s + static_cast<size_t>(i) * tr->type_size, dst + i * tr->block_size);
    return Status::ok();
}

Status quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
    DK_TRY(check_count(type, n, "quantize_row"));
    uint8_t* d = static_cast<uint8_t*>(dst);
    switch (type) {
        case GgmlType::F32:
            std::memcpy(d, src, static_cast<size_t>(n) * 4);
            return Status::ok();
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) store_f16(d + 2 * i, src[i]);
            return Status::ok();
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) {
                const uint16_t h = fp32_to_bf16(src[i]);
                std::memcpy(d + 2 * i, &h, 2);
            }
            return Status::ok();
        default:
            break;
    }
    QuantFn fn = block_quantizer(type);
    if (!fn)
        return make_error(ErrorCode::unsupported, "quantize_row: no quantizer for {}", ggml_type_name(type));
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    const int64_t nb = n / tr->block_size;
    for (int64_t i = 0; i < nb; ++i) fn(src + i * tr->block_size, d + static_cast<size_t>(i) * tr->type_size);
    return Status::ok();
}

}  // namespace docket

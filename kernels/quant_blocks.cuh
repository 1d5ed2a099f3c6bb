#pragma once
// Device-side decoding of the GGML weight block formats Docket keeps quantized on the GPU
// (Q4_K Q6_K Q8_0 Q4_0 Q4_1 F16 BF16), bit-compatible with ggml's dequantize_row_*.
//
// Every format is read in "groups" of 32 weights of one row: group g yields v[0..15] for row elements
// base0..base0+15 and v[16..31] for base1..base1+15. The split lets a Q4_K group take one 16-byte run of
// packed nibbles (low nibbles -> one sub-block, high nibbles -> the next), so every format decodes with
// aligned, coalesced loads and no lane reads bytes another lane already read.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "format/ggml_type.h"

namespace docket::cuda {

constexpr int kGroup = 32;  // weights per group

__device__ __forceinline__ float h2f(uint16_t h) {
    return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ float bf2f(uint16_t h) {
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
}
__device__ __forceinline__ uint16_t ld16(const uint8_t* p) {
    return *reinterpret_cast<const uint16_t*>(p);
}

template <GgmlType T>
struct BlockFmt;
template <>
struct BlockFmt<GgmlType::Q4_0> {
    static constexpr int qk = 32, bytes = 18;
};
template <>
struct BlockFmt<GgmlType::Q4_1> {
    static constexpr int qk = 32, bytes = 20;
};
template <>
struct BlockFmt<GgmlType::Q8_0> {
    static constexpr int qk = 32, bytes = 34;
};
template <>
struct BlockFmt<GgmlType::Q4_K> {
    static constexpr int qk = 256, bytes = 144;
};
template <>
struct BlockFmt<GgmlType::Q6_K> {
    static constexpr int qk = 256, bytes = 210;
};
template <>
struct BlockFmt<GgmlType::F16> {
    static constexpr int qk = 32, bytes = 64;  // a "block" here is one group of 32 halves
};
template <>
struct BlockFmt<GgmlType::BF16> {
    static constexpr int qk = 32, bytes = 64;
};

// Decodes group g of a row starting at `row` (the row's first block). base0/base1: see the file comment.
template <GgmlType T>
__device__ __forceinline__ void dequant_group(const uint8_t* __restrict__ row, int g, float v[32], int& base0,
                                              int& base1) {
    if constexpr (T == GgmlType::Q4_0 || T == GgmlType::Q4_1) {
        constexpr int B = BlockFmt<T>::bytes;
        const uint8_t* b = row + static_cast<int64_t>(g) * B;
        const float d = h2f(ld16(b));
        const float m = (T == GgmlType::Q4_1) ? h2f(ld16(b + 2)) : -8.0f * d;
        const uint8_t* qs = b + (T == GgmlType::Q4_1 ? 4 : 2);
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const uint16_t w = ld16(qs + 2 * i);
            const int q0 = w & 0xff, q1 = w >> 8;
            v[2 * i] = d * (q0 & 0xf) + m;
            v[2 * i + 1] = d * (q1 & 0xf) + m;
            v[16 + 2 * i] = d * (q0 >> 4) + m;
            v[16 + 2 * i + 1] = d * (q1 >> 4) + m;
        }
        base0 = 32 * g;
        base1 = base0 + 16;
    } else if constexpr (T == GgmlType::Q8_0) {
        const uint8_t* b = row + static_cast<int64_t>(g) * 34;
        const float d = h2f(ld16(b));
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const uint16_t w = ld16(b + 2 + 2 * i);
            v[2 * i] = d * static_cast<int8_t>(w & 0xff);
            v[2 * i + 1] = d * static_cast<int8_t>(w >> 8);
        }
        base0 = 32 * g;
        base1 = base0 + 16;
    } else if constexpr (T == GgmlType::F16 || T == GgmlType::BF16) {
        const uint4* p = reinterpret_cast<const uint4*>(row + static_cast<int64_t>(g) * 64);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint4 u = p[i];
            const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const uint16_t lo = w[k] & 0xffff, hi = w[k] >> 16;
                v[8 * i + 2 * k] = (T == GgmlType::F16) ? h2f(lo) : bf2f(lo);
                v[8 * i + 2 * k + 1] = (T == GgmlType::F16) ? h2f(hi) : bf2f(hi);
            }
        }
        base0 = 32 * g;
        base1 = base0 + 16;
    } else if constexpr (T == GgmlType::Q4_K) {
        const int blk = g >> 3, k = g & 7, j = k >> 1, h = k & 1;
        const uint8_t* b = row + static_cast<int64_t>(blk) * 144;
        const float d = h2f(ld16(b)), dmin = h2f(ld16(b + 2));
        const uint8_t* sc = b + 4;
        // 6-bit scale and min of sub-blocks 2j (low nibbles) and 2j+1 (high nibbles), as ggml's
        // get_scale_min_k4.
        int s0, m0, s1, m1;
        const int i0 = 2 * j, i1 = 2 * j + 1;
        if (i0 < 4) {
            s0 = sc[i0] & 63;
            m0 = sc[i0 + 4] & 63;
        } else {
            s0 = (sc[i0 + 4] & 0xf) | ((sc[i0 - 4] >> 6) << 4);
            m0 = (sc[i0 + 4] >> 4) | ((sc[i0] >> 6) << 4);
        }
        if (i1 < 4) {
            s1 = sc[i1] & 63;
            m1 = sc[i1 + 4] & 63;
        } else {
            s1 = (sc[i1 + 4] & 0xf) | ((sc[i1 - 4] >> 6) << 4);
            m1 = (sc[i1 + 4] >> 4) | ((sc[i1] >> 6) << 4);
        }
        const float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
        const uint4 u = *reinterpret_cast<const uint4*>(b + 16 + 32 * j + 16 * h);
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
#pragma unroll
            for (int k2 = 0; k2 < 4; ++k2) {
                const int q = (w[i] >> (8 * k2)) & 0xff;
                v[4 * i + k2] = d0 * (q & 0xf) - mm0;
                v[16 + 4 * i + k2] = d1 * (q >> 4) - mm1;
            }
        }
        base0 = 256 * blk + 64 * j + 16 * h;
        base1 = base0 + 32;
    } else if constexpr (T == GgmlType::Q6_K) {
        const int blk = g >> 3, k = g & 7, n = k >> 2, p = (k >> 1) & 1, l0 = (k & 1) * 16;
        const uint8_t* b = row + static_cast<int64_t>(blk) * 210;
        const uint8_t* ql = b + 64 * n + 32 * p + l0;
        const uint8_t* qh = b + 128 + 32 * n + l0;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        const float d = h2f(ld16(b + 208));
        const float dlo = d * sc[8 * n + l0 / 16 + 2 * p], dhi = d * sc[8 * n + l0 / 16 + 2 * p + 4];
        const int shlo = 2 * p, shhi = 2 * p + 4;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const uint16_t l = ld16(ql + 2 * i), hh = ld16(qh + 2 * i);
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int lb = (l >> (8 * e)) & 0xff, hb = (hh >> (8 * e)) & 0xff;
                v[2 * i + e] = dlo * static_cast<float>(((lb & 0xf) | (((hb >> shlo) & 3) << 4)) - 32);
                v[16 + 2 * i + e] = dhi * static_cast<float>(((lb >> 4) | (((hb >> shhi) & 3) << 4)) - 32);
            }
        }
        base0 = 256 * blk + 128 * n + 32 * p + l0;
        base1 = base0 + 64;
    }
}

// Block geometry of a GPU weight type (ggml's): elements and bytes per block; false for other types.
// Kept here rather than calling engine/model's traits so that docket_kernels links on its own.
inline bool gpu_weight_block(GgmlType t, int& qk, int& bytes) {
    switch (t) {
        case GgmlType::Q4_K:
            qk = 256;
            bytes = 144;
            return true;
        case GgmlType::Q6_K:
            qk = 256;
            bytes = 210;
            return true;
        case GgmlType::Q8_0:
            qk = 32;
            bytes = 34;
            return true;
        case GgmlType::Q4_0:
            qk = 32;
            bytes = 18;
            return true;
        case GgmlType::Q4_1:
            qk = 32;
            bytes = 20;
            return true;
        case GgmlType::F16:
        case GgmlType::BF16:
            qk = 1;
            bytes = 2;
            return true;
        default:
            return false;
    }
}
inline const char* gpu_weight_name(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_K:
            return "Q4_K";
        case GgmlType::Q6_K:
            return "Q6_K";
        case GgmlType::Q8_0:
            return "Q8_0";
        case GgmlType::Q4_0:
            return "Q4_0";
        case GgmlType::Q4_1:
            return "Q4_1";
        case GgmlType::F16:
            return "F16";
        case GgmlType::BF16:
            return "BF16";
        default:
            return "unsupported";
    }
}
// Bytes of one row of n elements (n a multiple of the block size).
inline size_t gpu_row_bytes(GgmlType t, int64_t n) {
    int qk = 1, bytes = 0;
    gpu_weight_block(t, qk, bytes);
    return static_cast<size_t>(n / qk) * bytes;
}
// Validates a weight matrix [n_out][n_in] of type t for the GPU kernels; empty string when fine.
inline std::string check_weight_shape(GgmlType t, int64_t n_in, int64_t n_out) {
    int qk = 1, bytes = 0;
    if (!gpu_weight_block(t, qk, bytes))
        return "weight type " + std::to_string(static_cast<int>(t)) + " is not kept on the GPU";
    if (n_in <= 0 || n_out <= 0 || n_in % qk != 0 || n_in % kGroup != 0 || n_in > (1 << 30) ||
        n_out > (1 << 30))
        return "bad weight shape n_in=" + std::to_string(n_in) + " n_out=" + std::to_string(n_out) + " for " +
               gpu_weight_name(t);
    return {};
}

// Expands X(T) once per GPU weight type; used by entry points to switch on a runtime GgmlType.
#define DK_GPU_WEIGHT_TYPES(X) X(Q4_K) X(Q6_K) X(Q8_0) X(Q4_0) X(Q4_1) X(F16) X(BF16)

}  // namespace docket::cuda

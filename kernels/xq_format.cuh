#pragma once
// The decode GEMV's activation format (gemv_xq.cuh): x in blocks of 16 as 16-bit fixed point,
// x ~= scale_b * (256 * hi + lo) with hi, lo int8, plus the block's plain sum. Shared by the kernels that
// write it as a by-product (rmsnorm/swiglu/quantize in gemv_xq.cu, the decode-attention combine).
#include <cstdint>

namespace docket::cuda {

// |X| <= 127 * 256 + 127 so that hi = (X + 128) >> 8 and lo = X - 256 hi both fit int8.
constexpr float kXqMax = 32639.0f;
constexpr int kXqBlock = 16;

#ifdef __CUDACC__
// Element i of block b held by the 16 lanes (aligned, consecutive) of a half warp, lane i holding v: writes
// hi[b*16+i], lo[b*16+i] and, from the group's first lane, scale[b] and sum[b]. All 32 lanes must call.
__device__ __forceinline__ void quantize_halfwarp16(float v, int64_t b, int i, int8_t* __restrict__ hi,
                                                    int8_t* __restrict__ lo, float* __restrict__ scale,
                                                    float* __restrict__ sum) {
    float amax = fabsf(v), s = v;
#pragma unroll
    for (int o = 1; o < 16; o <<= 1) {
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        s += __shfl_xor_sync(0xffffffffu, s, o);
    }
    const float inv = amax > 0.0f ? kXqMax / amax : 0.0f;
    const int X = __float2int_rn(v * inv);
    const int hh = (X + 128) >> 8;
    hi[b * kXqBlock + i] = static_cast<int8_t>(hh);
    lo[b * kXqBlock + i] = static_cast<int8_t>(X - 256 * hh);
    if (i == 0) scale[b] = amax / kXqMax, sum[b] = s;
}
#endif

}  // namespace docket::cuda

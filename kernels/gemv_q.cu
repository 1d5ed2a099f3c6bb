#include "common.cuh"
#include "gemv_q.cuh"
#include "quant_blocks.cuh"

namespace docket::cuda {

constexpr int kGemvWarps = 4;  // rows per block

// One warp per output row; lanes stride over the row's 32-weight groups.
template <GgmlType T, int MAXB>
static __global__ void __launch_bounds__(32 * kGemvWarps)
    gemv_q_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int n_groups, int n_in, int n_out,
                  const float* __restrict__ x, int batch, float* __restrict__ y, bool accumulate) {
    const int lane = threadIdx.x & 31;
    const int r = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
    if (r >= n_out) return;
    const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
    float acc[MAXB];
#pragma unroll
    for (int b = 0; b < MAXB; ++b) acc[b] = 0.0f;
#pragma unroll 2
    for (int g = lane; g < n_groups; g += 32) {
        float v[32];
        int base0, base1;
        dequant_group<T>(row, g, v, base0, base1);
#pragma unroll
        for (int b = 0; b < MAXB; ++b) {
            if (b < batch) {
                const float4* x0 = reinterpret_cast<const float4*>(x + static_cast<size_t>(b) * n_in + base0);
                const float4* x1 = reinterpret_cast<const float4*>(x + static_cast<size_t>(b) * n_in + base1);
                float s = 0.0f;
#pragma unroll
                for (int i = 0; i < 4; ++i) {
                    const float4 a = __ldg(x0 + i), c = __ldg(x1 + i);
                    s += v[4 * i] * a.x + v[4 * i + 1] * a.y + v[4 * i + 2] * a.z + v[4 * i + 3] * a.w;
                    s += v[16 + 4 * i] * c.x + v[16 + 4 * i + 1] * c.y + v[16 + 4 * i + 2] * c.z +
                         v[16 + 4 * i + 3] * c.w;
                }
                acc[b] += s;
            }
        }
    }
#pragma unroll
    for (int b = 0; b < MAXB; ++b) {
        if (b < batch) {
            const float s = warp_sum(acc[b]);
            if (lane == 0) {
                float* out = y + static_cast<size_t>(b) * n_out + r;
                *out = accumulate ? *out + s : s;
            }
        }
    }
}

template <GgmlType T>
static void launch_gemv_q(const void* w, int64_t n_in, int64_t n_out, const float* x, int batch, float* y,
                          bool accumulate, cudaStream_t stream) {
    const size_t row_bytes = gpu_row_bytes(T, n_in);
    const int n_groups = static_cast<int>(n_in / kGroup);
    const dim3 grid(ceil_div(n_out, kGemvWarps)), block(32 * kGemvWarps);
    const auto* wp = static_cast<const uint8_t*>(w);
    if (batch == 1)
        gemv_q_kernel<T, 1><<<grid, block, 0, stream>>>(wp, row_bytes, n_groups, (int)n_in, (int)n_out, x,
                                                        batch, y, accumulate);
    else
        gemv_q_kernel<T, 8><<<grid, block, 0, stream>>>(wp, row_bytes, n_groups, (int)n_in, (int)n_out, x,
                                                        batch, y, accumulate);
}

Status gemv_q(GgmlType type, const void* w, int64_t n_in, int64_t n_out, const float* x, int batch, float* y,
              bool accumulate, cudaStream_t stream) {
    if (auto e = check_weight_shape(type, n_in, n_out); !e.empty()) return bad_arg("gemv_q", e);
    if (batch < 1 || batch > 8) return bad_arg("gemv_q", "batch must be 1..8, got " + std::to_string(batch));
    if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0)
        return bad_arg("gemv_q", "weights and x must be 16-byte aligned");
    switch (type) {
#define DK_CASE(T)                                                                   \
    case GgmlType::T:                                                                \
        launch_gemv_q<GgmlType::T>(w, n_in, n_out, x, batch, y, accumulate, stream); \
        break;
        DK_GPU_WEIGHT_TYPES(DK_CASE)
#undef DK_CASE
        default:
            break;
    }
    return launch_status("gemv_q");
}

}  // namespace docket::cuda

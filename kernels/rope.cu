#include "rope.cuh"
#include "rope_angle.cuh"

namespace docket::cuda {

static __global__ void rope_kernel(const float* __restrict__ x, const int32_t* __restrict__ pos,
                                   int64_t n_pairs, int n_heads, int half, const float* __restrict__ inv_freq,
                                   void* out, DType out_type) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n_pairs) return;
    const int p = static_cast<int>(i % half);
    const int64_t tok = i / half / n_heads;
    float c, s;
    rope_cos_sin(pos[tok], inv_freq[p], c, s);
    const float x0 = x[2 * i], x1 = x[2 * i + 1];
    store_as(out, 2 * i, x0 * c - x1 * s, out_type);
    store_as(out, 2 * i + 1, x0 * s + x1 * c, out_type);
}

Status rope(const float* x, const int32_t* pos, int64_t n_tok, int n_heads, int head_dim,
            const float* inv_freq, void* out, DType out_type, cudaStream_t stream) {
    if (n_tok <= 0 || n_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0 || !inv_freq)
        return bad_arg("rope", "bad shape");
    const int64_t n_pairs = n_tok * n_heads * (head_dim / 2);
    rope_kernel<<<ceil_div(n_pairs, 256), 256, 0, stream>>>(x, pos, n_pairs, n_heads, head_dim / 2, inv_freq,
                                                            out, out_type);
    return launch_status("rope");
}

}  // namespace docket::cuda

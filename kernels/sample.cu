#include "sample.cuh"

namespace docket::cuda {

static __global__ void sample_kernel(const float* __restrict__ logits, int n_vocab, float temperature,
                                     uint64_t seed, int32_t* __restrict__ out) {
    const int b = blockIdx.x;
    const float* l = logits + static_cast<int64_t>(b) * n_vocab;
    float best = -INFINITY;
    int best_i = INT32_MAX;
    for (int i = threadIdx.x; i < n_vocab; i += blockDim.x) {
        float v = l[i];
        if (temperature > 0.0f) v = v / temperature - logf(-logf(sample_uniform(seed, b, i)));
        if (!(v == v)) v = -INFINITY;  // a NaN logit never wins
        if (v > best || best_i == INT32_MAX) {
            best = v;
            best_i = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, best, o);
        const int oi = __shfl_xor_sync(0xffffffffu, best_i, o);
        if (ov > best || (ov == best && oi < best_i)) {
            best = ov;
            best_i = oi;
        }
    }
    __shared__ float sv[32];
    __shared__ int si[32];
    if ((threadIdx.x & 31) == 0) {
        sv[threadIdx.x >> 5] = best;
        si[threadIdx.x >> 5] = best_i;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w)
            if (sv[w] > best || (sv[w] == best && si[w] < best_i)) {
                best = sv[w];
                best_i = si[w];
            }
        out[b] = best_i == INT32_MAX ? 0 : best_i;
    }
}

Status sample_tokens(const float* logits, int batch, int n_vocab, float temperature, uint64_t seed,
                     int32_t* out, cudaStream_t stream) {
    if (batch <= 0 || n_vocab <= 0) return bad_arg("sample_tokens", "bad shape");
    sample_kernel<<<batch, 1024, 0, stream>>>(logits, n_vocab, temperature, seed, out);
    return launch_status("sample_tokens");
}

}  // namespace docket::cuda

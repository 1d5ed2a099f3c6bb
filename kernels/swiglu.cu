#include "swiglu.cuh"

namespace docket::cuda {

static __global__ void swiglu_kernel(const float* __restrict__ gate, const float* __restrict__ up, int64_t n,
                                     void* out, DType out_type) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float g = gate[i];
    store_as(out, i, g / (1.0f + expf(-g)) * up[i], out_type);
}

Status swiglu(const float* gate, const float* up, int64_t n, void* out, DType out_type, cudaStream_t stream) {
    if (n <= 0) return bad_arg("swiglu", "empty input");
    swiglu_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(gate, up, n, out, out_type);
    return launch_status("swiglu");
}

}  // namespace docket::cuda

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

namespace docket::cuda {

static __global__ void half_to_bf16_kernel(const __half* __restrict__ in, int64_t n,
                                           __nv_bfloat16* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2bfloat16_rn(__half2float(in[i]));
}

Status half_to_bf16(const __half* in, int64_t n, void* out, cudaStream_t stream) {
    if (n <= 0) return bad_arg("half_to_bf16", "empty input");
    half_to_bf16_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(in, n, static_cast<__nv_bfloat16*>(out));
    return launch_status("half_to_bf16");
}

}  // namespace docket::cuda

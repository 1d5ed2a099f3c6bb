#include "rmsnorm.cuh"

namespace docket::cuda {

static __global__ void rmsnorm_kernel(const float* __restrict__ x, const float* __restrict__ w, int dim,
                                      float eps, void* out, DType out_type) {
    const float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
    __shared__ float part[32];
    ss = warp_sum(ss);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.0f;
        v = warp_sum(v);
        if (threadIdx.x == 0) part[0] = v;
    }
    __syncthreads();
    const float scale = rsqrtf(part[0] / dim + eps);
    const int64_t base = static_cast<int64_t>(blockIdx.x) * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        store_as(out, base + i, xr[i] * scale * w[i], out_type);
}

Status rmsnorm(const float* x, const float* w, int64_t n_rows, int dim, float eps, void* out, DType out_type,
               cudaStream_t stream) {
    if (n_rows <= 0 || n_rows > INT32_MAX || dim <= 0 || !(eps > 0.0f))
        return bad_arg("rmsnorm", "bad shape rows=" + std::to_string(n_rows) + " dim=" + std::to_string(dim));
    rmsnorm_kernel<<<static_cast<int>(n_rows), 256, 0, stream>>>(x, w, dim, eps, out, out_type);
    return launch_status("rmsnorm");
}

}  // namespace docket::cuda

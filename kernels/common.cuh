#pragma once
// Helpers shared by the kernel files: error checks that turn CUDA failures into docket::Status, and
// warp reductions. Kernel entry points never abort; they return a Status naming the op and the failure.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "util/status.h"

namespace docket::cuda {

// Status for a failed CUDA call or launch, e.g. "rmsnorm: launch: invalid configuration argument".
inline Status cuda_status(cudaError_t e, const char* op, const char* what) {
    if (e == cudaSuccess) return Status::ok();
    return Status(e == cudaErrorMemoryAllocation ? ErrorCode::out_of_memory : ErrorCode::internal,
                  std::string(op) + ": " + what + ": " + cudaGetErrorString(e));
}

// Last launch error (does not synchronize).
inline Status launch_status(const char* op) {
    return cuda_status(cudaGetLastError(), op, "launch");
}

inline Status bad_arg(const char* op, const std::string& what) {
    return Status(ErrorCode::invalid_argument, std::string(op) + ": " + what);
}

// Element type of an activation buffer.
enum class DType { f32, f16, bf16 };

inline int ceil_div(int64_t a, int64_t b) {
    return static_cast<int>((a + b - 1) / b);
}

#ifdef __CUDACC__
__device__ __forceinline__ void store_as(void* out, int64_t i, float v, DType t) {
    if (t == DType::f32)
        static_cast<float*>(out)[i] = v;
    else if (t == DType::f16)
        static_cast<__half*>(out)[i] = __float2half_rn(v);
    else
        static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(v);
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
#endif

}  // namespace docket::cuda

#pragma once
// Helpers shared by the kernel files: error checks that turn CUDA failures into docket::Status, and
// warp reductions. Kernel entry points never abort; they return a Status naming the op and the failure.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

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
// Four consecutive values v at element 4*i4 of out (type T known at compile time): one 16-byte (f32) or
// 8-byte (f16, bf16) store; out must be aligned to that.
template <DType T>
__device__ __forceinline__ void store4_as(void* out, int64_t i4, const float (&v)[4]) {
    if constexpr (T == DType::f32) {
        static_cast<float4*>(out)[i4] = make_float4(v[0], v[1], v[2], v[3]);
    } else if constexpr (T == DType::f16) {
        const __half2 a = __floats2half2_rn(v[0], v[1]), b = __floats2half2_rn(v[2], v[3]);
        static_cast<uint2*>(out)[i4] =
            make_uint2(*reinterpret_cast<const uint32_t*>(&a), *reinterpret_cast<const uint32_t*>(&b));
    } else {
        const __nv_bfloat162 a = __floats2bfloat162_rn(v[0], v[1]), b = __floats2bfloat162_rn(v[2], v[3]);
        static_cast<uint2*>(out)[i4] =
            make_uint2(*reinterpret_cast<const uint32_t*>(&a), *reinterpret_cast<const uint32_t*>(&b));
    }
}
// Whether out can take store4_as of type t.
inline bool store4_aligned(const void* out, DType t) {
    return reinterpret_cast<uintptr_t>(out) % (t == DType::f32 ? 16 : 8) == 0;
}
inline bool aligned16(const void* p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
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
// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread. Two
// barriers; uses 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float part[32];
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float w = threadIdx.x < (blockDim.x + 31) / 32 ? part[threadIdx.x] : 0.0f;
        w = warp_sum(w);
        if (threadIdx.x == 0) part[0] = w;
    }
    __syncthreads();
    return part[0];
}

// Programmatic dependent launch (sm_90+; no-ops elsewhere and when the launch did not ask for it). A kernel
// launched with pdl = true may start while the previous kernel in the stream still runs, so it must call
// pdl_wait() before it reads anything an earlier kernel wrote or writes anything an earlier kernel reads.
// Only work on constant data (weights) may come before the wait. pdl_launch_dependents() lets the next
// kernel's blocks be scheduled once every block of this one has started; it implies nothing about memory.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Starts moving the 128-byte line at p toward L2 (no register result; a hint).
__device__ __forceinline__ void prefetch_l2_line(const void* p) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}
// Prefetches [p, p + bytes) into L2, lines split over `n` cooperating threads (this one is `i`).
__device__ __forceinline__ void prefetch_l2_range(const void* p, size_t bytes, int i, int n) {
    const auto* c = static_cast<const uint8_t*>(p);
    for (size_t o = static_cast<size_t>(i) * 128; o < bytes; o += static_cast<size_t>(n) * 128)
        prefetch_l2_line(c + o);
}

// Launches `kernel` on `stream`, as a programmatic dependent launch when `pdl` (callers pass pdl = true only
// on sm_90+, only for kernels that call pdl_wait(), and only on non-blocking streams: a twin case with
// dependent launches on a stream from plain cudaStreamCreate hung on the H100, cause not isolated. The stream
// is not checked here because the check, cudaStreamGetFlags, breaks a stream capture: measured, H100).
template <typename... P, typename... A>
cudaError_t launch_kernel(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                          bool pdl, A&&... args) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = pdl ? attr : nullptr;
    cfg.numAttrs = pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, kernel, std::forward<A>(args)...);
}
#endif

}  // namespace docket::cuda

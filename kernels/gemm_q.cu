#include "common.cuh"
#include "gemm_q.cuh"
#include "quant_blocks.cuh"

namespace docket::cuda {

// One thread per 32-weight group: decode, then two 32-byte bf16 stores.
template <GgmlType T>
static __global__ void dequant_bf16_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int n_groups,
                                           int n_in, int64_t total_groups, __nv_bfloat16* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total_groups) return;
    const int64_t r = i / n_groups;
    const int g = static_cast<int>(i - r * n_groups);
    float v[32];
    int base0, base1;
    dequant_group<T>(w + r * row_bytes, g, v, base0, base1);
    __nv_bfloat16* o = out + r * n_in;
    alignas(16) __nv_bfloat162 h[16];
#pragma unroll
    for (int k = 0; k < 16; ++k) h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
    const uint4* hu = reinterpret_cast<const uint4*>(h);
    uint4* o0 = reinterpret_cast<uint4*>(o + base0);
    uint4* o1 = reinterpret_cast<uint4*>(o + base1);
    o0[0] = hu[0];
    o0[1] = hu[1];
    o1[0] = hu[2];
    o1[1] = hu[3];
}

template <GgmlType T>
static void launch_dequant_bf16(const void* w, int64_t n_in, int64_t n_out, __nv_bfloat16* out,
                                cudaStream_t s) {
    const int n_groups = static_cast<int>(n_in / kGroup);
    const int64_t total = static_cast<int64_t>(n_groups) * n_out;
    dequant_bf16_kernel<T><<<ceil_div(total, 256), 256, 0, s>>>(
        static_cast<const uint8_t*>(w), gpu_row_bytes(T, n_in), n_groups, static_cast<int>(n_in), total, out);
}

Status dequant_bf16(GgmlType type, const void* w, int64_t n_in, int64_t n_out, __nv_bfloat16* out,
                    cudaStream_t stream) {
    if (auto e = check_weight_shape(type, n_in, n_out); !e.empty()) return bad_arg("dequant_bf16", e);
    if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(out) % 16 != 0)
        return bad_arg("dequant_bf16", "weights and output must be 16-byte aligned");
    switch (type) {
#define DK_CASE(T)                                                     \
    case GgmlType::T:                                                  \
        launch_dequant_bf16<GgmlType::T>(w, n_in, n_out, out, stream); \
        break;
        DK_GPU_WEIGHT_TYPES(DK_CASE)
#undef DK_CASE
        default:
            break;
    }
    return launch_status("dequant_bf16");
}

static const char* cublas_name(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "invalid value";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "architecture mismatch";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "execution failed";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "not supported";
        default:
            return "error";
    }
}

// Row-major c[n][m] = a[n][k] . b[m][k]^T is column-major C(m x n) = B^T(m x k) . A(k x n).
static Status gemm_rowmajor(cublasHandle_t handle, const __nv_bfloat16* a, const __nv_bfloat16* b, float* c,
                            int64_t n, int64_t m, int64_t k, float beta, cudaStream_t stream,
                            const char* op) {
    cublasStatus_t st = cublasSetStream(handle, stream);
    const float alpha = 1.0f;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(n),
                          static_cast<int>(k), &alpha, b, CUDA_R_16BF, static_cast<int>(k), a, CUDA_R_16BF,
                          static_cast<int>(k), &beta, c, CUDA_R_32F, static_cast<int>(m), CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS)
        return Status(ErrorCode::internal, std::string(op) + ": cublasGemmEx: " + cublas_name(st));
    return Status::ok();
}

Status gemm_q(cublasHandle_t handle, GgmlType type, const void* w, int64_t n_in, int64_t n_out,
              const __nv_bfloat16* x, int64_t n_tok, float* y, bool accumulate, __nv_bfloat16* scratch,
              cudaStream_t stream) {
    if (n_tok <= 0 || n_tok > (1 << 30)) return bad_arg("gemm_q", "bad n_tok " + std::to_string(n_tok));
    DK_TRY(dequant_bf16(type, w, n_in, n_out, scratch, stream));
    return gemm_rowmajor(handle, x, scratch, y, n_tok, n_out, n_in, accumulate ? 1.0f : 0.0f, stream,
                         "gemm_q");
}

Status gemm_bf16(cublasHandle_t handle, const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, int64_t n,
                 int64_t m, int64_t k, cudaStream_t stream) {
    return gemm_rowmajor(handle, a, b, c, n, m, k, 0.0f, stream, "gemm_bf16");
}

}  // namespace docket::cuda

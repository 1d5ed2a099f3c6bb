#include <type_traits>

#include "common.cuh"
#include "gemm_q.cuh"

#include "cublas_api.cuh"
#include "quant_blocks.cuh"

namespace docket::cuda {

// One thread per 32-weight group: decode, then two 32-byte stores of H (__half or __nv_bfloat16).
template <GgmlType T, typename H>
static __global__ void dequant_16_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int n_groups,
                                         int n_in, int64_t total_groups, H* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= total_groups) return;
    const int64_t r = i / n_groups;
    const int g = static_cast<int>(i - r * n_groups);
    float v[32];
    int base0, base1;
    dequant_group<T>(w + r * row_bytes, g, v, base0, base1);
    H* o = out + r * n_in;
    alignas(16) uint32_t h[16];
#pragma unroll
    for (int k = 0; k < 16; ++k) {
        if constexpr (std::is_same_v<H, __half>) {
            const __half2 p = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
            h[k] = *reinterpret_cast<const uint32_t*>(&p);
        } else {
            const __nv_bfloat162 p = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
            h[k] = *reinterpret_cast<const uint32_t*>(&p);
        }
    }
    const uint4* hu = reinterpret_cast<const uint4*>(h);
    uint4* o0 = reinterpret_cast<uint4*>(o + base0);
    uint4* o1 = reinterpret_cast<uint4*>(o + base1);
    o0[0] = hu[0];
    o0[1] = hu[1];
    o1[0] = hu[2];
    o1[1] = hu[3];
}

template <GgmlType T>
static void launch_dequant_16(const void* w, int64_t n_in, int64_t n_out, DType out_type, void* out,
                              cudaStream_t s) {
    const int n_groups = static_cast<int>(n_in / kGroup);
    const int64_t total = static_cast<int64_t>(n_groups) * n_out;
    const auto* wp = static_cast<const uint8_t*>(w);
    if (out_type == DType::f16)
        dequant_16_kernel<T><<<ceil_div(total, 256), 256, 0, s>>>(
            wp, gpu_row_bytes(T, n_in), n_groups, static_cast<int>(n_in), total, static_cast<__half*>(out));
    else
        dequant_16_kernel<T><<<ceil_div(total, 256), 256, 0, s>>>(wp, gpu_row_bytes(T, n_in), n_groups,
                                                                  static_cast<int>(n_in), total,
                                                                  static_cast<__nv_bfloat16*>(out));
}

Status dequant_16(GgmlType type, const void* w, int64_t n_in, int64_t n_out, DType out_type, void* out,
                  cudaStream_t stream) {
    if (auto e = check_weight_shape(type, n_in, n_out); !e.empty()) return bad_arg("dequant_16", e);
    if (out_type == DType::f32) return bad_arg("dequant_16", "output type must be f16 or bf16");
    if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(out) % 16 != 0)
        return bad_arg("dequant_16", "weights and output must be 16-byte aligned");
    switch (type) {
#define DK_CASE(T)                                                             \
    case GgmlType::T:                                                          \
        launch_dequant_16<GgmlType::T>(w, n_in, n_out, out_type, out, stream); \
        break;
        DK_GPU_WEIGHT_TYPES(DK_CASE)
#undef DK_CASE
        default:
            break;
    }
    return launch_status("dequant_16");
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
static Status gemm_rowmajor(cublasHandle_t handle, const void* a, const void* b, cudaDataType_t ab_type,
                            float* c, int64_t n, int64_t m, int64_t k, float beta, cudaStream_t stream,
                            const char* op) {
    DK_ASSIGN_OR_RETURN(const CublasApi* blas, cublas_api());
    cublasStatus_t st = blas->set_stream(handle, stream);
    const float alpha = 1.0f;
    if (st == CUBLAS_STATUS_SUCCESS)
        st = blas->gemm_ex(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(m), static_cast<int>(n),
                          static_cast<int>(k), &alpha, b, ab_type, static_cast<int>(k), a, ab_type,
                          static_cast<int>(k), &beta, c, CUDA_R_32F, static_cast<int>(m), CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS)
        return Status(ErrorCode::internal, std::string(op) + ": cublasGemmEx: " + cublas_name(st));
    return Status::ok();
}

Status gemm_q(cublasHandle_t handle, GgmlType type, const void* w, int64_t n_in, int64_t n_out, DType act,
              const void* x, int64_t n_tok, float* y, bool accumulate, void* scratch, cudaStream_t stream) {
    if (n_tok <= 0 || n_tok > (1 << 30)) return bad_arg("gemm_q", "bad n_tok " + std::to_string(n_tok));
    if (act == DType::f32) return bad_arg("gemm_q", "activations must be f16 or bf16");
    DK_TRY(dequant_16(type, w, n_in, n_out, act, scratch, stream));
    return gemm_rowmajor(handle, x, scratch, act == DType::f16 ? CUDA_R_16F : CUDA_R_16BF, y, n_tok, n_out,
                         n_in, accumulate ? 1.0f : 0.0f, stream, "gemm_q");
}

Status gemm_bf16(cublasHandle_t handle, const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, int64_t n,
                 int64_t m, int64_t k, cudaStream_t stream) {
    return gemm_rowmajor(handle, a, b, CUDA_R_16BF, c, n, m, k, 0.0f, stream, "gemm_bf16");
}

}  // namespace docket::cuda

#pragma once
// Prefill matrix products: quantized weights are expanded tile by tile into a bf16 scratch matrix and
// multiplied on the tensor cores through cuBLAS (bf16 operands, f32 accumulate and output).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "model/ggml_type.h"
#include "util/status.h"

namespace docket::cuda {

// out: [n_out][n_in] bf16, row r = dequantized row r of w ([n_out][n_in] in GGML layout of `type`).
Status dequant_bf16(GgmlType type, const void* w, int64_t n_in, int64_t n_out, __nv_bfloat16* out,
                    cudaStream_t stream);

// y[t][r] (+)= sum_k W[r][k] * x[t][k]. x: [n_tok][n_in] bf16; y: [n_tok][n_out] f32;
// scratch: at least n_out*n_in bf16 (the dequantized W). accumulate: add to y (fuses a residual add).
Status gemm_q(cublasHandle_t handle, GgmlType type, const void* w, int64_t n_in, int64_t n_out,
              const __nv_bfloat16* x, int64_t n_tok, float* y, bool accumulate, __nv_bfloat16* scratch,
              cudaStream_t stream);

// Plain bf16 GEMM used by the benchmark's tensor-core limit: c[n][m] = a[n][k] . b[m][k]^T, f32 out.
Status gemm_bf16(cublasHandle_t handle, const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, int64_t n,
                 int64_t m, int64_t k, cudaStream_t stream);

}  // namespace docket::cuda

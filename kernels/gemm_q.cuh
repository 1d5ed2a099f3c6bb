#pragma once
// Prefill matrix products: quantized weights are expanded tile by tile into a 16-bit scratch matrix and
// multiplied on the tensor cores through cuBLAS (f16 or bf16 operands, f32 accumulate and output). f16 is
// the default for the model: same tensor-core rate as bf16 and 8x finer mantissa (activations entering the
// GEMMs are normed or bounded, far below f16's 65504).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "common.cuh"
#include "format/ggml_type.h"
#include "util/status.h"

namespace docket::cuda {

// out: [n_out][n_in] in `out_type` (f16 or bf16), row r = dequantized row r of w ([n_out][n_in] in GGML
// layout of `type`).
Status dequant_16(GgmlType type, const void* w, int64_t n_in, int64_t n_out, DType out_type, void* out,
                  cudaStream_t stream);

// y[t][r] (+)= sum_k W[r][k] * x[t][k]. x: [n_tok][n_in] in `act` (f16 or bf16); y: [n_tok][n_out] f32;
// scratch: at least n_out*n_in 16-bit values (the dequantized W). accumulate: add to y (fuses a residual
// add).
Status gemm_q(cublasHandle_t handle, GgmlType type, const void* w, int64_t n_in, int64_t n_out, DType act,
              const void* x, int64_t n_tok, float* y, bool accumulate, void* scratch, cudaStream_t stream);

// Plain bf16 GEMM used by the benchmark's tensor-core limit: c[n][m] = a[n][k] . b[m][k]^T, f32 out.
Status gemm_bf16(cublasHandle_t handle, const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, int64_t n,
                 int64_t m, int64_t k, cudaStream_t stream);

}  // namespace docket::cuda

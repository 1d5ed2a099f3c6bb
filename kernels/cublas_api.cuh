#pragma once
// cuBLAS, loaded when the GPU is first used: libcublas.so.13 and the libcublasLt it needs relocate ~220 MB of
// pages at load time, which a process linked against them pays at start-up even when it never touches the GPU
// (`docket-dev tokenize`, the CPU backend). Resolved once with dlopen; the handful of entry points Docket calls.
#include <cublas_v2.h>

#include "util/status.h"

namespace docket::cuda {

struct CublasApi {
    decltype(&cublasCreate_v2) create = nullptr;
    decltype(&cublasDestroy_v2) destroy = nullptr;
    decltype(&cublasSetStream_v2) set_stream = nullptr;
    // cublasGemmEx's C signature (the header also declares C++ overloads of the name).
    cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                              const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                              cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// The loaded entry points, or no_device naming the library and dlerror() when cuBLAS cannot be loaded.
Result<const CublasApi*> cublas_api();

}  // namespace docket::cuda

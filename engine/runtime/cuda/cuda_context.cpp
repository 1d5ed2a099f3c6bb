#if DOCKET_HAVE_CUDA
#include "runtime/cuda/cuda_context.h"

#include <fmt/format.h>

#include "cublas_api.cuh"

namespace docket::cuda {

Status cuda_error(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return Status::ok();
    return Status(e == cudaErrorMemoryAllocation ? ErrorCode::out_of_memory : ErrorCode::internal,
                  fmt::format("{}: {}", what, cudaGetErrorString(e)));
}

Result<DeviceBuffer> DeviceBuffer::alloc(size_t bytes, const char* what) {
    DeviceBuffer b;
    if (bytes == 0) return b;
    cudaError_t e = cudaMalloc(&b.p_, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        return make_error(ErrorCode::out_of_memory, "cudaMalloc {} bytes for {}: {} ({} MiB free of {} MiB)",
                          bytes, what, cudaGetErrorString(e), free_b >> 20, total_b >> 20);
    }
    b.n_ = bytes;
    return b;
}

Result<PinnedBuffer> PinnedBuffer::alloc(size_t bytes) {
    PinnedBuffer b;
    if (bytes == 0) return b;
    DK_TRY(cuda_error(cudaMallocHost(&b.p_, bytes), "cudaMallocHost"));
    b.n_ = bytes;
    return b;
}

Result<Event> Event::create(bool timing) {
    Event e;
    DK_TRY(cuda_error(cudaEventCreateWithFlags(&e.e_, timing ? cudaEventDefault : cudaEventDisableTiming),
                      "cudaEventCreate"));
    return e;
}
Event& Event::operator=(Event&& o) noexcept {
    if (this != &o) {
        if (e_) cudaEventDestroy(e_);
        e_ = o.e_;
        o.e_ = nullptr;
    }
    return *this;
}
Event::~Event() {
    if (e_) cudaEventDestroy(e_);
}
Status Event::record(cudaStream_t s) {
    return cuda_error(cudaEventRecord(e_, s), "cudaEventRecord");
}
Status Event::wait_on(cudaStream_t waiter) const {
    return cuda_error(cudaStreamWaitEvent(waiter, e_, 0), "cudaStreamWaitEvent");
}
Status Event::sync() const {
    return cuda_error(cudaEventSynchronize(e_), "cudaEventSynchronize");
}
bool Event::done() const {
    return cudaEventQuery(e_) == cudaSuccess;
}
Result<float> Event::elapsed_ms(const Event& a, const Event& b) {
    float ms = 0.0f;
    DK_TRY(cuda_error(cudaEventElapsedTime(&ms, a.e_, b.e_), "cudaEventElapsedTime"));
    return ms;
}

Result<std::unique_ptr<CudaContext>> CudaContext::create(int device) {
    std::unique_ptr<CudaContext> c(new CudaContext());
    c->device_ = device;
    DK_TRY(cuda_error(cudaSetDevice(device), "cudaSetDevice"));
    DK_TRY(cuda_error(cudaGetDeviceProperties(&c->props_, device), "cudaGetDeviceProperties"));
    DK_TRY(cuda_error(cudaStreamCreateWithFlags(&c->compute_, cudaStreamNonBlocking), "cudaStreamCreate"));
    DK_TRY(cuda_error(cudaStreamCreateWithFlags(&c->h2d_, cudaStreamNonBlocking), "cudaStreamCreate"));
    DK_TRY(cuda_error(cudaStreamCreateWithFlags(&c->d2h_, cudaStreamNonBlocking), "cudaStreamCreate"));
    DK_ASSIGN_OR_RETURN(const cuda::CublasApi* blas, cuda::cublas_api());
    if (blas->create(&c->cublas_) != CUBLAS_STATUS_SUCCESS)
        return Status(ErrorCode::no_device,
                      "cublasCreate failed (is libcublas installed and the GPU usable?)");
    return c;
}

CudaContext::~CudaContext() {
    if (cublas_) (*cuda::cublas_api())->destroy(cublas_);  // a handle exists only if cuBLAS was loaded
    for (cudaStream_t s : {compute_, h2d_, d2h_})
        if (s) cudaStreamDestroy(s);
}

Status CudaContext::upload_async(void* dst, const void* src, size_t bytes, Event* done) {
    DK_TRY(cuda_error(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, h2d_), "upload"));
    return done ? done->record(h2d_) : Status::ok();
}
Status CudaContext::download_async(void* dst, const void* src, size_t bytes, Event* done) {
    DK_TRY(cuda_error(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, d2h_), "download"));
    return done ? done->record(d2h_) : Status::ok();
}
Status CudaContext::sync_compute() {
    return cuda_error(cudaStreamSynchronize(compute_), "cudaStreamSynchronize");
}

}  // namespace docket::cuda
#endif

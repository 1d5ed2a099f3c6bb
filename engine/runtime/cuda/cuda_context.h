#pragma once
// The CUDA backend's per-device context: a compute stream, host->device and device->host copy streams (so
// the tier manager's KV transfers overlap compute), a cuBLAS handle, and RAII owners for device, pinned host
// memory and events. Errors come back as Status; nothing here aborts.
#if DOCKET_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "util/status.h"

namespace docket::cuda {

// Owns one CUDA allocation and releases it with Free (cudaFree or cudaFreeHost); move-only.
template <cudaError_t (*Free)(void*)>
class CudaAllocation {
public:
    CudaAllocation() = default;
    CudaAllocation(CudaAllocation&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    CudaAllocation& operator=(CudaAllocation&& o) noexcept {
        if (this != &o) {
            release();
            p_ = o.p_;
            n_ = o.n_;
            o.p_ = nullptr;
            o.n_ = 0;
        }
        return *this;
    }
    CudaAllocation(const CudaAllocation&) = delete;
    CudaAllocation& operator=(const CudaAllocation&) = delete;
    ~CudaAllocation() { release(); }
    void* get() const { return p_; }
    template <typename T>
    T* as() const {
        return static_cast<T*>(p_);
    }
    size_t size() const { return n_; }

protected:
    void release() {
        if (p_) Free(p_);
        p_ = nullptr;
        n_ = 0;
    }
    void* p_ = nullptr;
    size_t n_ = 0;
};

// Device memory (cudaMalloc; never managed memory).
class DeviceBuffer : public CudaAllocation<cudaFree> {
public:
    static Result<DeviceBuffer> alloc(size_t bytes, const char* what);
};

// Page-locked host memory, required for copies that overlap compute.
class PinnedBuffer : public CudaAllocation<cudaFreeHost> {
public:
    static Result<PinnedBuffer> alloc(size_t bytes);
};

class Event {
public:
    Event() = default;
    static Result<Event> create(bool timing = false);
    Event(Event&& o) noexcept : e_(o.e_) { o.e_ = nullptr; }
    Event& operator=(Event&& o) noexcept;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    ~Event();
    cudaEvent_t get() const { return e_; }
    Status record(cudaStream_t s);
    Status wait_on(cudaStream_t waiter) const;  // `waiter` waits for this event, host does not block
    Status sync() const;
    bool done() const;  // non-blocking query
    // Milliseconds between two recorded timing events.
    static Result<float> elapsed_ms(const Event& a, const Event& b);

private:
    cudaEvent_t e_ = nullptr;
};

class CudaContext {
public:
    // Selects `device`, creates the streams and the cuBLAS handle.
    static Result<std::unique_ptr<CudaContext>> create(int device = 0);
    ~CudaContext();
    CudaContext(const CudaContext&) = delete;
    CudaContext& operator=(const CudaContext&) = delete;

    int device() const { return device_; }
    cudaStream_t compute() const { return compute_; }
    cudaStream_t h2d() const { return h2d_; }  // host -> device copies (KV pages coming in)
    cudaStream_t d2h() const { return d2h_; }  // device -> host copies (KV pages going out)
    cublasHandle_t cublas() const { return cublas_; }
    const cudaDeviceProp& props() const { return props_; }

    // Async copy on the h2d / d2h stream; `done` (optional) is recorded after it so compute can wait on it.
    Status upload_async(void* dst_device, const void* src_pinned, size_t bytes, Event* done);
    Status download_async(void* dst_pinned, const void* src_device, size_t bytes, Event* done);
    Status sync_compute();

private:
    CudaContext() = default;
    int device_ = 0;
    cudaStream_t compute_ = nullptr, h2d_ = nullptr, d2h_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    cudaDeviceProp props_{};
};

// "what: cudaMalloc: out of memory" style Status for a CUDA error code.
Status cuda_error(cudaError_t e, const char* what);

}  // namespace docket::cuda
#endif

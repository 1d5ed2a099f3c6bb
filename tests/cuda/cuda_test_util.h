#pragma once
// Helpers for the CUDA tests: device copies of host vectors, poisoned outputs, relative error.
#include <cuda_runtime.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/cuda/cuda_context.h"

namespace docket::test {

template <typename T>
cuda::DeviceBuffer to_device(const std::vector<T>& v) {
    auto b = cuda::DeviceBuffer::alloc(v.size() * sizeof(T) + 16, "test");
    if (!b) return {};
    cudaMemcpy(b->get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
    return std::move(*b);
}

// Device buffer of n elements filled with 0xFF bytes (NaN for f32/f16/bf16) so unwritten outputs show.
template <typename T>
cuda::DeviceBuffer poisoned(size_t n) {
    auto b = cuda::DeviceBuffer::alloc(n * sizeof(T) + 16, "test");
    if (!b) return {};
    cudaMemset(b->get(), 0xFF, n * sizeof(T));
    return std::move(*b);
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer& b, size_t n) {
    std::vector<T> v(n);
    cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost);
    return v;
}

// ||out - ref|| / ||ref||; +inf when out holds a NaN/inf or the sizes differ.
inline double rel_err(const std::vector<float>& out, const std::vector<float>& ref) {
    if (out.size() != ref.size()) return INFINITY;
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!std::isfinite(out[i])) return INFINITY;
        const double d = static_cast<double>(out[i]) - ref[i];
        num += d * d;
        den += static_cast<double>(ref[i]) * ref[i];
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline std::vector<float> randn(std::mt19937_64& rng, size_t n, float std_dev = 1.0f, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, std_dev);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

}  // namespace docket::test

#include "device.cuh"

#include <cuda_runtime.h>

namespace docket::cuda {

DeviceInfo query_devices() {
    DeviceInfo info;
    cudaRuntimeGetVersion(&info.runtime_version);
    cudaDriverGetVersion(&info.driver_version);
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        info.error = cudaGetErrorString(err);
        if (info.driver_version == 0) {
            info.error = "no NVIDIA driver is loaded (" + info.error + ")";
        } else if (info.driver_version < info.runtime_version) {
            info.error = "the NVIDIA driver supports CUDA " + std::to_string(info.driver_version / 1000) +
                         "." + std::to_string(info.driver_version % 1000 / 10) +
                         " but Docket was built for CUDA " + std::to_string(info.runtime_version / 1000) +
                         "." + std::to_string(info.runtime_version % 1000 / 10) + "; update the driver";
        }
        cudaGetLastError();  // clear the sticky error so later probes start clean
        return info;
    }
    info.count = n;
    if (n > 0) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
            info.name = prop.name;
            info.sm_major = prop.major;
            info.sm_minor = prop.minor;
            info.total_mem = prop.totalGlobalMem;
        }
    } else {
        info.error = "no CUDA device found";
    }
    return info;
}

}  // namespace docket::cuda

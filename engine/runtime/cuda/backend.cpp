#include "runtime/cuda/backend.h"

#if DOCKET_HAVE_CUDA
#include "device.cuh"
#endif

namespace docket {

Result<BackendChoice> select_backend(std::string_view name) {
    if (name != "cuda" && name != "cpu" && name != "auto")
        return make_error(ErrorCode::invalid_argument, "--backend must be cuda, cpu or auto, got '{}'", name);
    if (name == "cpu") return BackendChoice{Backend::cpu, "CPU (requested)"};
#if DOCKET_HAVE_CUDA
    const cuda::DeviceInfo info = cuda::query_devices();
    if (info.count > 0) {
        if (info.sm_major < 8) {
            const std::string why =
                fmt::format("{} is compute capability {}.{}; Docket's CUDA kernels need 8.0 or newer",
                            info.name, info.sm_major, info.sm_minor);
            if (name == "cuda") return Status(ErrorCode::no_device, why);
            return BackendChoice{Backend::cpu, "CPU (" + why + ")"};
        }
        return BackendChoice{
            Backend::cuda,
            fmt::format("{} (sm_{}{}, {} GiB, driver {}.{})", info.name, info.sm_major, info.sm_minor,
                        info.total_mem >> 30, info.driver_version / 1000, info.driver_version % 1000 / 10)};
    }
    if (name == "cuda") return Status(ErrorCode::no_device, "CUDA backend unavailable: " + info.error);
    return BackendChoice{Backend::cpu, "CPU (CUDA unavailable: " + info.error + ")"};
#else
    if (name == "cuda")
        return Status(ErrorCode::no_device,
                      "this build of Docket has no CUDA backend (nvcc was not found at build time)");
    return BackendChoice{Backend::cpu, "CPU (built without CUDA)"};
#endif
}

}  // namespace docket

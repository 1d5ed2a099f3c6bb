#include "cublas_api.cuh"

#include <dlfcn.h>

#include <mutex>
#include <string>
#include <type_traits>

namespace docket::cuda {
namespace {

constexpr const char* kLibrary = "libcublas.so." DOCKET_CUBLAS_SOVERSION;

Result<CublasApi> load() {
    void* h = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    // The loader's search path first (LD_LIBRARY_PATH, the executable's RUNPATH), then where the toolkit's
    // libraries were at build time.
    if (!h) h = ::dlopen((std::string(DOCKET_CUDA_LIBRARY_DIR) + "/" + kLibrary).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) return make_error(ErrorCode::no_device, "cannot load {}: {}", kLibrary, ::dlerror());
    CublasApi api;
    bool ok = true;
    auto sym = [&](auto& fn, const char* name) {
        fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(h, name));
        ok = ok && fn != nullptr;
    };
    sym(api.create, "cublasCreate_v2");
    sym(api.destroy, "cublasDestroy_v2");
    sym(api.set_stream, "cublasSetStream_v2");
    sym(api.gemm_ex, "cublasGemmEx");
    if (!ok) return make_error(ErrorCode::no_device, "{} lacks an entry point Docket needs", kLibrary);
    return api;  // the library stays loaded for the process's life
}

}  // namespace

Result<const CublasApi*> cublas_api() {
    static std::once_flag once;
    static Result<CublasApi> api = Status(ErrorCode::internal, "cuBLAS not loaded yet");
    std::call_once(once, [] { api = load(); });
    if (!api) return api.status();
    return &*api;
}

}  // namespace docket::cuda

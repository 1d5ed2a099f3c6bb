#include "runtime/cpu/simd.h"

#include <cstdlib>
#include <cstring>

namespace docket::cpu {

const char* simd_level_name(SimdLevel l) {
    switch (l) {
        case SimdLevel::scalar:
            return "scalar";
        case SimdLevel::avx2:
            return "avx2";
        case SimdLevel::avx512:
            return "avx512";
    }
    return "?";
}

namespace {

bool cpu_has(SimdLevel l) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (l) {
        case SimdLevel::scalar:
            return true;
        case SimdLevel::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                   __builtin_cpu_supports("f16c");
        case SimdLevel::avx512:
            return cpu_has(SimdLevel::avx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq");
    }
    return false;
#else
    return l == SimdLevel::scalar;
#endif
}

struct Tables {
    CpuKernels scalar, avx2, avx512;
    bool has_avx2 = false, has_avx512 = false;
    Tables() {
        fill_scalar_kernels(scalar);
        avx2 = scalar;
        avx512 = scalar;
        has_avx2 = cpu_has(SimdLevel::avx2) && fill_avx2_kernels(avx2);
        has_avx512 = has_avx2 && cpu_has(SimdLevel::avx512) && fill_avx512_kernels(avx512);
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

const CpuKernels* kernels_for(SimdLevel level) {
    const Tables& t = tables();
    switch (level) {
        case SimdLevel::scalar:
            return &t.scalar;
        case SimdLevel::avx2:
            return t.has_avx2 ? &t.avx2 : nullptr;
        case SimdLevel::avx512:
            return t.has_avx512 ? &t.avx512 : nullptr;
    }
    return nullptr;
}

const CpuKernels& kernels() {
    static const CpuKernels* best = [] {
        SimdLevel cap = SimdLevel::avx512;
        if (const char* e = std::getenv("DOCKET_SIMD")) {
            if (std::strcmp(e, "scalar") == 0)
                cap = SimdLevel::scalar;
            else if (std::strcmp(e, "avx2") == 0)
                cap = SimdLevel::avx2;
        }
        for (int l = static_cast<int>(cap); l >= 0; --l)
            if (const CpuKernels* k = kernels_for(static_cast<SimdLevel>(l))) return k;
        return kernels_for(SimdLevel::scalar);
    }();
    return *best;
}

}  // namespace docket::cpu

#pragma once
// Kernel-level GPU measurements for `docket-dev bench gpu`: the limits a run is measured against (HBM copy
// bandwidth, bf16 tensor-core GEMM rate) and the Q4_K GEMV in every compiled configuration. The CLI reaches
// the kernels only through this runtime header.
#if DOCKET_HAVE_CUDA
#include <algorithm>
#include <string>
#include <vector>

#include "runtime/cuda/cuda_context.h"
#include "util/status.h"

namespace docket::cuda {

// Median milliseconds of `reps` runs of f (returning Status) on the compute stream, timed with events, after
// `warm` untimed runs.
template <typename F>
Result<double> time_ms(CudaContext& ctx, int warm, int reps, F&& f) {
    for (int i = 0; i < warm; ++i) DK_TRY(f());
    DK_TRY(ctx.sync_compute());
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        DK_ASSIGN_OR_RETURN(Event a, Event::create(true));
        DK_ASSIGN_OR_RETURN(Event b, Event::create(true));
        DK_TRY(a.record(ctx.compute()));
        DK_TRY(f());
        DK_TRY(b.record(ctx.compute()));
        DK_TRY(b.sync());
        DK_ASSIGN_OR_RETURN(float ms, Event::elapsed_ms(a, b));
        t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

struct GpuLimits {
    double hbm_gb_s = 0;     // device-to-device copy of 2 GiB, bytes read + written
    double bf16_tflops = 0;  // cuBLAS bf16 GEMM 8192^3 on random (non-zero) data
};
Result<GpuLimits> measure_gpu_limits(CudaContext& ctx);

// GEMV alone, Q4_K at the Llama-3-8B shapes (random codes and scales), fresh matrices per rep so L2 holds
// none: the f32 kernel, then every compiled config of the integer kernel, then the fastest per shape. One
// report line per measurement, with its share of `hbm_gb_s`.
Result<std::vector<std::string>> bench_gemv_q4k(CudaContext& ctx, double hbm_gb_s);

}  // namespace docket::cuda
#endif

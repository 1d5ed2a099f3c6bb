#pragma once
// Decode-time matrix-vector products on the integer units: the activation vector is quantized ONCE per step
// to 16-bit fixed point in blocks of 16 (x ~= scale_b * (256 * hi + lo), hi, lo int8; relative precision
// ~3e-5 of the block's largest |x|), then every weight row is streamed with wide loads and dotted with
// dp4a against hi and lo. Each block does 2 or 4 rows so one load of x serves them all. Several matrices that
// read the same x (q|k|v, gate|up) go in one launch so small matrices still fill the GPU.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "format/ggml_type.h"
#include "util/status.h"

namespace docket::cuda {

// Bytes of the quantized-x buffer for n_in elements (n_in a multiple of 32): int8 hi[n_in], int8 lo[n_in],
// float scale[n_in/16], float sum[n_in/16] (sum of the original x over each block).
size_t gemv_xq_bytes(int64_t n_in);

// x: [n_in] f32 -> xq (gemv_xq_bytes(n_in) bytes, 16-byte aligned). `pdl` on every launcher here: launch as a
// programmatic dependent launch (sm_90+ only; see common.cuh).
Status quantize_x(const float* x, int64_t n_in, void* xq, cudaStream_t stream, bool pdl = false);

// xq = quantize_x(rmsnorm(x, w)) for one row x: [dim] f32, w: [dim] f32, in one kernel.
Status rmsnorm_quantize_x(const float* x, const float* w, int64_t dim, float eps, void* xq,
                          cudaStream_t stream, bool pdl = false);

// xq = quantize_x(silu(gate) * up), gate, up: [n] f32, in one kernel.
Status swiglu_quantize_x(const float* gate, const float* up, int64_t n, void* xq, cudaStream_t stream,
                         bool pdl = false);

// True when `type` has the integer path (Q4_K Q6_K Q8_0 Q4_0 Q4_1); F16/BF16 use gemv_q on f32 x.
bool gemv_xq_supported(GgmlType type);

// One matrix of a fused launch: w [n_out][n_in] of the launch's type; y [n_out] f32 (+)= W . x.
struct GemvXqMat {
    const void* w = nullptr;
    int64_t n_out = 0;
    float* y = nullptr;
    bool accumulate = false;
};

// Shape of one gemv_xq kernel: `rows` rows per block, `warps` warps per block splitting each row's 32-weight
// groups, `unroll` groups per thread per row loaded before use, `min_blocks` > 0 an occupancy hint (resident
// blocks per SM the register allocation must allow). Same result for every config; a tuning choice.
// `staged`: the block's rows are copied into shared memory (cp.async, before the dependent-launch wait)
// and read from there; unroll 1, no min_blocks. blocks_per_sm of such a config assumes n_in 4096.
struct GemvXqConfig {
    int rows = 2;
    int warps = 4;
    int unroll = 1;
    int min_blocks = 0;
    bool staged = false;
};

struct GemvXqConfigInfo {
    GemvXqConfig cfg;
    bool all_types;  // compiled for every gemv_xq_supported type; false: Q4_K only (tuning points)
};

// The config the decode path uses for n_mats fused matrices of n_in inputs: staged rows (the fastest in the
// H100 decode graph) or, with staged false, the register-loading config of the isolated sweep (bench gpu;
// tests/bench/RESULTS.md). Compiled for every type.
GemvXqConfig gemv_xq_decode_config(int n_mats, int64_t n_in, bool staged = true);

// The compiled configs; all_types marks those compiled for every type (the decode path uses them).
std::vector<GemvXqConfigInfo> gemv_xq_configs();

// Resources of cfg's kernel for `type` on the current device (for tuning reports).
struct GemvXqKernelInfo {
    int regs = 0;           // registers per thread
    int local_bytes = 0;    // local memory per thread (spills)
    int blocks_per_sm = 0;  // resident blocks per SM
};
Result<GemvXqKernelInfo> gemv_xq_kernel_info(GgmlType type, GemvXqConfig cfg);

// y_i (+)= W_i . x for 1..3 matrices of the same type and n_in, x given as quantize_x's output, with the
// kernel shape `cfg` (same result for every config); invalid_argument when `cfg` is not compiled for `type`.
Status gemv_xq(GgmlType type, const GemvXqMat* mats, int n_mats, int64_t n_in, const void* xq,
               cudaStream_t stream, GemvXqConfig cfg, bool pdl = false);

}  // namespace docket::cuda

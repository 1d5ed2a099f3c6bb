#if DOCKET_HAVE_CUDA
#include "runtime/cuda/kernel_bench.h"

#include <fmt/format.h>

#include "gemm_q.cuh"
#include "gemv_q.cuh"
#include "gemv_xq.cuh"
#include "kv_pages.cuh"

namespace docket::cuda {

// Random f16 pairs in (-2, 2) over `bytes` (a multiple of 4 KB), written as 4 KB "pages" (16 tokens x 1 head
// x 64 dims): non-zero data for copies, GEMMs and GEMV matrices.
static Status fill_random(uint8_t* dst, size_t bytes, uint64_t seed, cudaStream_t stream) {
    return kv_fill_random(Codec::fp16, 16, 1, 64, 4096, static_cast<int64_t>(bytes / 4096), seed, dst,
                          stream);
}

Result<GpuLimits> measure_gpu_limits(CudaContext& ctx) {
    GpuLimits lim;
    const size_t cbytes = size_t{2} << 30;
    DK_ASSIGN_OR_RETURN(DeviceBuffer src, DeviceBuffer::alloc(cbytes, "copy source"));
    DK_ASSIGN_OR_RETURN(DeviceBuffer dst, DeviceBuffer::alloc(cbytes, "copy target"));
    DK_TRY(fill_random(src.as<uint8_t>(), cbytes, 7, ctx.compute()));
    DK_ASSIGN_OR_RETURN(double copy_ms, time_ms(ctx, 2, 10, [&] {
                            return cuda_error(cudaMemcpyAsync(dst.get(), src.get(), cbytes,
                                                              cudaMemcpyDeviceToDevice, ctx.compute()),
                                              "copy");
                        }));
    lim.hbm_gb_s = 2.0 * cbytes / (copy_ms * 1e-3) / 1e9;
    const int64_t g = 8192;
    DK_TRY(fill_random(src.as<uint8_t>(), g * g * 2 * 2, 9, ctx.compute()));
    auto* A = src.as<__nv_bfloat16>();
    auto* B = A + g * g;
    DK_ASSIGN_OR_RETURN(double gemm_ms, time_ms(ctx, 3, 10, [&] {
                            return gemm_bf16(ctx.cublas(), A, B, dst.as<float>(), g, g, g, ctx.compute());
                        }));
    lim.bf16_tflops = 2.0 * g * g * g / (gemm_ms * 1e-3) / 1e12;
    return lim;
}

namespace {

struct GemvShape {
    const char* name;
    int64_t n_in, n_out;
    int mats;
};

// One shape: the f32 kernel, every config of the integer kernel ("production" marks gemv_xq_decode_config's
// choice), then the best.
Status bench_gemv_shape(CudaContext& ctx, const GemvShape& sh, double hbm, const DeviceBuffer& xf,
                        const DeviceBuffer& xq, const DeviceBuffer& yb, std::vector<std::string>& out) {
    const int64_t outs[3] = {sh.mats == 3 ? 4096 : sh.n_out, sh.mats == 3 ? 1024 : sh.n_out, 1024};
    size_t bytes = 0;
    for (int i = 0; i < sh.mats; ++i) bytes += ggml_row_size(GgmlType::Q4_K, sh.n_in) * outs[i];
    // Rotate over copies totalling >= 160 MB (> 3x the 50 MB L2), so a rep finds none of its matrices left in
    // L2 by the previous reps (q|k|v is 14 MB: 4 copies would not be enough).
    const int sets = std::max<int>(4, static_cast<int>((160e6 + bytes - 1) / bytes));
    std::vector<DeviceBuffer> w;
    for (int i = 0; i < sets * sh.mats; ++i) {
        const size_t b = ggml_row_size(GgmlType::Q4_K, sh.n_in) * outs[i % sh.mats];
        DK_ASSIGN_OR_RETURN(DeviceBuffer m, DeviceBuffer::alloc(b, "gemv matrix"));
        DK_TRY(fill_random(m.as<uint8_t>(), b, 11 + i, ctx.compute()));
        w.push_back(std::move(m));
    }
    int rep = 0;
    auto time_int = [&](const GemvXqConfig& cfg) {
        return time_ms(ctx, 3, 30, [&]() -> Status {
            const int set = rep++ % sets;
            GemvXqMat mats[3];
            for (int i = 0; i < sh.mats && i < 3; ++i)
                mats[i] = {w[set * sh.mats + i].get(), outs[i], yb.as<float>() + i * 14336, false};
            DK_TRY(quantize_x(xf.as<float>(), sh.n_in, xq.get(), ctx.compute()));
            return gemv_xq(GgmlType::Q4_K, mats, sh.mats, sh.n_in, xq.get(), ctx.compute(), cfg);
        });
    };
    DK_ASSIGN_OR_RETURN(
        double ms_f32, time_ms(ctx, 3, 20, [&]() -> Status {
            const int set = rep++ % sets;
            for (int i = 0; i < sh.mats; ++i)
                DK_TRY(gemv_q(GgmlType::Q4_K, w[set * sh.mats + i].get(), sh.n_in, outs[i], xf.as<float>(), 1,
                              yb.as<float>() + i * 14336, false, ctx.compute()));
            return Status::ok();
        }));
    auto of_hbm = [&](double ms) { return bytes / (ms * 1e-3) / 1e9 / hbm; };
    out.push_back(fmt::format("gemv   {:<24} Q4_K {:6.1f} MB, {} copies: f32 {:7.1f} us = {:4.2f} of HBM",
                              sh.name, bytes / 1e6, sets, ms_f32 * 1e3, of_hbm(ms_f32)));
    double best_ms = 1e30, prod_ms = 0;
    GemvXqConfig best{};
    const GemvXqConfig d = gemv_xq_decode_config(sh.mats, sh.n_in);  // the decode path's
    for (const GemvXqConfigInfo& ci : gemv_xq_configs()) {
        const GemvXqConfig& c = ci.cfg;
        DK_ASSIGN_OR_RETURN(double ms, time_int(c));
        DK_ASSIGN_OR_RETURN(GemvXqKernelInfo info, gemv_xq_kernel_info(GgmlType::Q4_K, c));
        const bool prod = c.rows == d.rows && c.warps == d.warps && c.unroll == d.unroll &&
                          c.min_blocks == d.min_blocks && c.staged == d.staged;
        out.push_back(
            fmt::format("gemv   {:<24} int8 R{} W{} U{} MB{:<2}{} {:3} regs {:2} blk/SM{}: {:7.1f} us = "
                        "{:5.0f} GB/s = {:4.2f} "
                        "of HBM{}",
                        sh.name, c.rows, c.warps, c.unroll, c.min_blocks, c.staged ? " staged" : "",
                        info.regs, info.blocks_per_sm, info.local_bytes ? " SPILLS" : "", ms * 1e3,
                        bytes / (ms * 1e-3) / 1e9, of_hbm(ms), prod ? "  (production)" : ""));
        if (prod) prod_ms = ms;
        if (ms < best_ms) best_ms = ms, best = c;
    }
    out.push_back(fmt::format(
        "gemv   {:<24} best R{} W{} U{} MB{}{}: {:7.1f} us = {:4.2f} of HBM (production {:.1f} us, {:+.1f}%)",
        sh.name, best.rows, best.warps, best.unroll, best.min_blocks, best.staged ? " staged" : "",
        best_ms * 1e3, of_hbm(best_ms), prod_ms * 1e3, 100.0 * (prod_ms - best_ms) / prod_ms));
    return Status::ok();
}

}  // namespace

Result<std::vector<std::string>> bench_gemv_q4k(CudaContext& ctx, double hbm_gb_s) {
    const GemvShape shapes[] = {{"down 14336->4096", 14336, 4096, 1},
                                {"gate|up 4096->2x14336", 4096, 14336, 2},
                                {"q|k|v 4096->4096+2x1024", 4096, 2048, 3},
                                {"wo 4096->4096", 4096, 4096, 1}};
    const int64_t max_in = 14336;
    DK_ASSIGN_OR_RETURN(DeviceBuffer xf, DeviceBuffer::alloc(max_in * 4, "x"));
    DK_ASSIGN_OR_RETURN(DeviceBuffer xq, DeviceBuffer::alloc(gemv_xq_bytes(max_in), "xq"));
    DK_ASSIGN_OR_RETURN(DeviceBuffer yb, DeviceBuffer::alloc(3 * 14336 * 4, "y"));
    DK_TRY(fill_random(xf.as<uint8_t>(), max_in * 4, 3, ctx.compute()));
    std::vector<std::string> out;
    for (const GemvShape& sh : shapes) DK_TRY(bench_gemv_shape(ctx, sh, hbm_gb_s, xf, xq, yb, out));
    return out;
}

}  // namespace docket::cuda
#endif

// docket-cli bench gpu: the CUDA runtime's figures beside the limits measured in the same run (HBM copy
// bandwidth counting read + write, bf16 tensor-core GEMM rate): prefill tok/s per chunk size, decode tok/s
// per context and KV format, the decode-attention kernel's bandwidth, and GPU memory for weights + KV.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "command.h"
#include "runtime/cuda/backend.h"

#if DOCKET_HAVE_CUDA
#include "gemm_q.cuh"
#include "gemv_q.cuh"
#include "gemv_xq.cuh"
#include "kv_pages.cuh"
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/model.h"
#endif

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-cli bench gpu --model FILE.gguf [--chunks 512,4096,16384] [--contexts "
    "0,8192,32768,131072]\n"
    "                            [--formats f16,int8,int4,int2] [--steps 32] [--backend cuda|auto]\n"
    "                            [--compare]   (decode also without dependent launches, with them for\n"
    "                                           attention too, without the next-chunk prefetch, with the\n"
    "                                           live tail's attention on the main stream)\n";

std::vector<long long> parse_list(const std::string& s) {
    std::vector<long long> v;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) v.push_back(std::stoll(item));
    return v;
}

#if DOCKET_HAVE_CUDA
using namespace docket::cuda;

#define BENCH_TRY(expr)                                              \
    do {                                                             \
        ::docket::Status st_ = (expr);                               \
        if (!st_.is_ok()) return fail("bench gpu", st_.to_string()); \
    } while (0)

// Median milliseconds of `reps` runs of f on the compute stream, timed with events.
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

const char* fmt_name(KvFormat f) {
    return f == KvFormat::f16 ? "f16" : f == KvFormat::int8 ? "int8" : f == KvFormat::int4 ? "int4" : "int2";
}

int run_cuda(const Args& args, const std::string& model_path) {
    auto ctx_r = CudaContext::create(0);
    if (!ctx_r) return fail("bench gpu", ctx_r.status().to_string());
    CudaContext& ctx = **ctx_r;
    std::printf("GPU: %s, %d SMs, %.1f GiB\n", ctx.props().name, ctx.props().multiProcessorCount,
                ctx.props().totalGlobalMem / 1073741824.0);

    // Limit 1: HBM bandwidth, device-to-device copy of 2 GiB, bytes read + written.
    const size_t cbytes = size_t{2} << 30;
    auto src = DeviceBuffer::alloc(cbytes, "copy source"), dst = DeviceBuffer::alloc(cbytes, "copy target");
    if (!src || !dst) return fail("bench gpu", "cannot allocate the copy buffers");
    BENCH_TRY(kv_fill_random(KvFormat::f16, 64, 1, 64, 16384, cbytes / 16384, 7, src->as<uint8_t>(),
                             ctx.compute()));
    auto copy_ms = time_ms(ctx, 2, 10, [&] {
        return cuda_error(
            cudaMemcpyAsync(dst->get(), src->get(), cbytes, cudaMemcpyDeviceToDevice, ctx.compute()), "copy");
    });
    if (!copy_ms) return fail("bench gpu", copy_ms.status().to_string());
    const double hbm = 2.0 * cbytes / (*copy_ms * 1e-3) / 1e9;
    std::printf("limit  HBM copy (read+write)            %8.0f GB/s\n", hbm);
    // Limit 2: bf16 GEMM 8192^3 on random (non-zero) data.
    const int64_t g = 8192;
    BENCH_TRY(kv_fill_random(KvFormat::f16, 64, 1, 64, 16384, g * g * 2 * 2 / 16384, 9, src->as<uint8_t>(),
                             ctx.compute()));
    auto* A = src->as<__nv_bfloat16>();
    auto* B = A + g * g;
    auto gemm_ms = time_ms(
        ctx, 3, 10, [&] { return gemm_bf16(ctx.cublas(), A, B, dst->as<float>(), g, g, g, ctx.compute()); });
    if (!gemm_ms) return fail("bench gpu", gemm_ms.status().to_string());
    const double tflops = 2.0 * g * g * g / (*gemm_ms * 1e-3) / 1e12;
    std::printf("limit  bf16 GEMM 8192^3 (cuBLAS)         %8.0f TFLOP/s\n", tflops);
    *src = DeviceBuffer();
    *dst = DeviceBuffer();
    // GEMV alone, Q4_K at the 8B shapes (random codes and scales), fresh matrices per rep so L2 holds none:
    // the f32 kernel, then every compiled config of the integer kernel (dp4a; fused matrices in one launch;
    // gemv_xq_configs(); "production" marks gemv_xq_decode_config's choice), then the fastest per shape.
    {
        struct Shape {
            const char* name;
            int64_t n_in, n_out;
            int mats;
        };
        const Shape shapes[] = {{"down 14336->4096", 14336, 4096, 1},
                                {"gate|up 4096->2x14336", 4096, 14336, 2},
                                {"q|k|v 4096->4096+2x1024", 4096, 2048, 3},
                                {"wo 4096->4096", 4096, 4096, 1}};
        const int64_t max_in = 14336;
        auto xf = DeviceBuffer::alloc(max_in * 4, "x"), xq = DeviceBuffer::alloc(gemv_xq_bytes(max_in), "xq"),
             yb = DeviceBuffer::alloc(3 * 14336 * 4, "y");
        if (!xf || !xq || !yb) return fail("bench gpu", "cannot allocate GEMV buffers");
        // Random f16 pairs in (-2, 2), written as 4 KB "pages" (16 tokens x 1 head x 64 dims).
        BENCH_TRY(kv_fill_random(KvFormat::f16, 16, 1, 64, 4096, max_in * 4 / 4096, 3, xf->as<uint8_t>(),
                                 ctx.compute()));
        const std::vector<GemvXqConfigInfo> configs = gemv_xq_configs();
        for (const Shape& sh : shapes) {
            const int64_t outs[3] = {sh.mats == 3 ? 4096 : sh.n_out, sh.mats == 3 ? 1024 : sh.n_out, 1024};
            size_t bytes = 0;
            for (int i = 0; i < sh.mats; ++i) bytes += ggml_row_size(GgmlType::Q4_K, sh.n_in) * outs[i];
            // Rotate over copies totalling >= 160 MB (> 3x the 50 MB L2), so a rep finds none of its matrices
            // left in L2 by the previous reps (q|k|v is 14 MB: 4 copies would not be enough).
            const int sets = std::max<int>(4, static_cast<int>((160e6 + bytes - 1) / bytes));
            std::vector<DeviceBuffer> w;
            for (int i = 0; i < sets * sh.mats; ++i) {
                const size_t b = ggml_row_size(GgmlType::Q4_K, sh.n_in) * outs[i % sh.mats];
                auto m = DeviceBuffer::alloc(b, "gemv matrix");
                if (!m) return fail("bench gpu", m.status().to_string());
                BENCH_TRY(kv_fill_random(KvFormat::f16, 16, 1, 64, 4096, b / 4096, 11 + i, m->as<uint8_t>(),
                                         ctx.compute()));
                w.push_back(std::move(*m));
            }
            int rep = 0;
            auto time_int = [&](const GemvXqConfig& cfg) {
                return time_ms(ctx, 3, 30, [&]() -> Status {
                    const int set = rep++ % sets;
                    GemvXqMat mats[3];
                    for (int i = 0; i < sh.mats && i < 3; ++i)
                        mats[i] = {w[set * sh.mats + i].get(), outs[i], yb->as<float>() + i * 14336, false};
                    DK_TRY(quantize_x(xf->as<float>(), sh.n_in, xq->get(), ctx.compute()));
                    return gemv_xq(GgmlType::Q4_K, mats, sh.mats, sh.n_in, xq->get(), ctx.compute(), cfg);
                });
            };
            auto ms_f32 = time_ms(ctx, 3, 20, [&]() -> Status {
                const int set = rep++ % sets;
                for (int i = 0; i < sh.mats; ++i)
                    DK_TRY(gemv_q(GgmlType::Q4_K, w[set * sh.mats + i].get(), sh.n_in, outs[i],
                                  xf->as<float>(), 1, yb->as<float>() + i * 14336, false, ctx.compute()));
                return Status::ok();
            });
            if (!ms_f32) return fail("bench gpu", ms_f32.status().to_string());
            auto of_hbm = [&](double ms) { return bytes / (ms * 1e-3) / 1e9 / hbm; };
            std::printf("gemv   %-24s Q4_K %6.1f MB, %d copies: f32 %7.1f us = %4.2f of HBM\n", sh.name,
                        bytes / 1e6, sets, *ms_f32 * 1e3, of_hbm(*ms_f32));
            double best_ms = 1e30, prod_ms = 0;
            GemvXqConfig best{};
            for (size_t k = 0; k < configs.size(); ++k) {
                const GemvXqConfig& c = configs[k].cfg;
                auto ms = time_int(c);
                if (!ms) return fail("bench gpu", ms.status().to_string());
                auto info = gemv_xq_kernel_info(GgmlType::Q4_K, c);
                if (!info) return fail("bench gpu", info.status().to_string());
                const GemvXqConfig d = gemv_xq_decode_config(sh.mats, sh.n_in);  // the decode path's
                const bool prod = c.rows == d.rows && c.warps == d.warps && c.unroll == d.unroll &&
                                  c.min_blocks == d.min_blocks && c.staged == d.staged;
                std::printf(
                    "gemv   %-24s int8 R%d W%d U%d MB%-2d%s %3d regs %2d blk/SM%s: %7.1f us = %5.0f GB/s = "
                    "%4.2f "
                    "of HBM%s\n",
                    sh.name, c.rows, c.warps, c.unroll, c.min_blocks, c.staged ? " staged" : "", info->regs,
                    info->blocks_per_sm, info->local_bytes ? " SPILLS" : "", *ms * 1e3,
                    bytes / (*ms * 1e-3) / 1e9, of_hbm(*ms), prod ? "  (production)" : "");
                if (prod) prod_ms = *ms;
                if (*ms < best_ms) best_ms = *ms, best = c;
            }
            std::printf(
                "gemv   %-24s best R%d W%d U%d MB%d%s: %7.1f us = %4.2f of HBM (production %.1f us, "
                "%+.1f%%)\n",
                sh.name, best.rows, best.warps, best.unroll, best.min_blocks, best.staged ? " staged" : "",
                best_ms * 1e3, of_hbm(best_ms), prod_ms * 1e3, 100.0 * (prod_ms - best_ms) / prod_ms);
        }
    }

    auto model_r = Model::load(model_path);
    if (!model_r) return fail("bench gpu", model_r.status().to_string());
    const Model& model = **model_r;
    const ModelConfig& c = model.config();
    std::printf("model  %s: %d layers, dim %d, ff %d, heads %d/%d x %d, vocab %d, weights %.2f GB\n",
                model_path.c_str(), c.n_layer, c.n_embd, c.n_ff, c.n_head, c.n_head_kv, c.head_dim, c.n_vocab,
                model.weight_bytes() / 1e9);
    // Matmul parameters per token (all layer matrices + output head).
    double params = 0;
    for (int l = 0; l < c.n_layer; ++l)
        params += static_cast<double>(c.n_embd) * (2.0 * c.n_q_dim() + 2.0 * c.n_kv_dim()) +
                  3.0 * c.n_embd * c.n_ff;

    const auto chunks = parse_list(args.get("--chunks", "512,4096,16384"));
    const auto contexts = parse_list(args.get("--contexts", "0,8192,32768,131072"));
    auto steps_arg = args.get_int("--steps", 32, 1, 4096);
    if (!steps_arg) return fail("bench gpu", steps_arg.status().to_string());
    const int steps = static_cast<int>(*steps_arg);
    std::vector<KvFormat> formats;
    for (const auto& f : {std::string("f16"), std::string("int8"), std::string("int4"), std::string("int2")})
        if (args.get("--formats", "f16,int8,int4,int2").find(f) != std::string::npos)
            formats.push_back(f == "f16"    ? KvFormat::f16
                              : f == "int8" ? KvFormat::int8
                              : f == "int4" ? KvFormat::int4
                                            : KvFormat::int2);
    std::mt19937 rng(1234);

    // Prefill.
    if (!chunks.empty()) {
        CudaModelOptions o;
        o.max_chunk = static_cast<int32_t>(*std::max_element(chunks.begin(), chunks.end()));
        o.capacity = o.max_chunk;
        auto gm = CudaModel::create(model, ctx, o);
        if (!gm) return fail("bench gpu", gm.status().to_string());
        for (long long n : chunks) {
            std::vector<int32_t> toks(n);
            for (auto& t : toks) t = static_cast<int32_t>(rng() % c.n_vocab);
            auto ms = time_ms(ctx, 1, 3, [&]() -> Status {
                (*gm)->reset();
                return (*gm)->prefill(toks, false, nullptr);
            });
            if (!ms) return fail("bench gpu", ms.status().to_string());
            const double tok_s = n / (*ms * 1e-3);
            const double attn_flops = 2.0 * 2.0 * n * (n + 1) / 2.0 * c.head_dim * c.n_head * c.n_layer;
            const double tf = (2.0 * params * n + attn_flops) / (*ms * 1e-3) / 1e12;
            std::printf(
                "prefill chunk %6lld   %9.0f tok/s   %6.1f ms   %6.0f TFLOP/s = %4.2f of GEMM limit\n", n,
                tok_s, *ms, tf, tf / tflops);
        }
    }

    // Decode, with the context as a snapshot prefix in each KV format.
    const uint64_t weights = model.weight_bytes();
    // Decode variants: the default (dependent launches), and with --compare the same step without them, so
    // their gain shows in one run.
    struct Variant {
        const char* name;
        bool pdl, attn_pdl, attn_prefetch, side, staged;
    };
    std::vector<Variant> variants = {{"", true, true, true, true, true}};
    if (args.has("--compare"))
        variants.insert(variants.end(), {{"no-pdl", false, false, true, true, true},
                                         {"no-attn-pdl", true, false, true, true, true},
                                         {"no-next-prefetch", true, true, false, true, true},
                                         {"no-side-stream", true, true, true, false, true},
                                         {"no-staged-gemv", true, true, true, true, false}});
    for (long long ctx_tokens : contexts) {
        for (KvFormat f : formats) {
            for (const Variant& var : variants) {
                if (ctx_tokens == 0 && f != formats.front()) continue;
                // At context 0 there is no attention to speak of: only the default, no-pdl and
                // no-staged-gemv.
                if (ctx_tokens == 0 && ((var.pdl && !var.attn_pdl) || !var.attn_prefetch || !var.side))
                    continue;
                CudaModelOptions o;
                o.max_chunk = 64;
                o.capacity = 1024;
                o.use_pdl = var.pdl;
                o.attn_pdl = var.attn_pdl;
                o.attn_prefetch = var.attn_prefetch;
                o.attn_side_stream = var.side;
                o.gemv_staged = var.staged;
                size_t free0 = 0, total = 0;
                cudaMemGetInfo(&free0, &total);
                auto gm = CudaModel::create(model, ctx, o);
                if (!gm) return fail("bench gpu", gm.status().to_string());
                BENCH_TRY((*gm)->set_random_snapshot(f, static_cast<int32_t>(ctx_tokens), 42));
                size_t free1 = 0;
                cudaMemGetInfo(&free1, &total);
                int32_t tok = 1, next = 0;
                for (int i = 0; i < 3; ++i) {
                    BENCH_TRY((*gm)->decode(tok, nullptr, &next));
                    tok = next;
                }
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < steps; ++i) {
                    BENCH_TRY((*gm)->decode(tok, nullptr, &next));
                    tok = next;
                }
                const double sec =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                const double tok_s = steps / sec;
                const double kv_bytes_tok =
                    ctx_tokens == 0
                        ? 0.0
                        : static_cast<double>(kv_page_layout(f, 64, c.n_head_kv, c.head_dim).page_bytes) /
                              64.0 * c.n_layer;
                const double bytes = weights + kv_bytes_tok * (ctx_tokens + 3 + steps / 2);
                const double bw = bytes * tok_s / 1e9;
                std::printf(
                    "decode ctx %6lld %-4s %-16s %9.1f tok/s   %6.2f ms/tok  reads %5.2f GB/tok = %6.0f GB/s "
                    "= %4.2f "
                    "of HBM"
                    "   GPU memory %.2f GB\n",
                    ctx_tokens, ctx_tokens ? fmt_name(f) : "-", var.name, tok_s, 1e3 / tok_s, bytes / 1e9, bw,
                    bw / hbm, (free0 - free1) / 1e9);
                if (ctx_tokens > 0 && &var == &variants.front()) {
                    for (int impl : {0, 2, 1}) {
                        uint64_t kb = 0;
                        auto ams = time_ms(ctx, 2, 20, [&]() -> Status {
                            auto r = (*gm)->run_decode_attention_only(0, impl);
                            if (!r) return r.status();
                            kb = *r;
                            return Status::ok();
                        });
                        if (!ams) return fail("bench gpu", ams.status().to_string());
                        const double abw = kb / (*ams * 1e-3) / 1e9;
                        std::printf(
                            "   decode-attention kernel (%s), one layer: %.1f MB in %.3f ms = %6.0f GB/s = "
                            "%4.2f of HBM\n",
                            impl == 0   ? "warp chunks "
                            : impl == 2 ? "block chunks"
                                        : "CUDA cores  ",
                            kb / 1e6, *ams, abw, abw / hbm);
                    }
                }
            }
        }
    }
    return 0;
}
#endif

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model", "--chunks", "--contexts", "--formats", "--steps", "--backend"},
                     .flags = {"--compare"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("bench gpu", s.message(), kUsage);
    auto choice = select_backend(args.get("--backend", "cuda"));
    if (!choice) return fail("bench gpu", choice.status().to_string());
    if (choice->backend != Backend::cuda)
        return fail("bench gpu", "needs the CUDA backend: " + choice->detail);
    std::printf("backend: %s\n", choice->detail.c_str());
    const std::string model = args.get("--model");
    if (model.empty()) return fail("bench gpu", std::string("--model FILE.gguf is required\n") + kUsage);
#if DOCKET_HAVE_CUDA
    return run_cuda(args, model);
#else
    return 1;
#endif
}

}  // namespace

DOCKET_CLI_BENCH(
    "gpu", "CUDA runtime: prefill/decode tok/s, decode attention GB/s, against measured HBM and GEMM limits",
    run);

}  // namespace docket::cli

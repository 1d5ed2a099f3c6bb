// docket-dev bench gpu: the CUDA runtime's figures beside the limits measured in the same run (HBM copy
// bandwidth counting read + write, bf16 tensor-core GEMM rate): prefill tok/s per chunk size, decode tok/s
// per context and KV format, the decode-attention kernel's bandwidth, and GPU memory for weights + KV.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "command.h"
#include "format/kv_codec.h"
#include "runtime/cuda/backend.h"

#if DOCKET_HAVE_CUDA
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/cuda/kernel_bench.h"
#include "runtime/model.h"
#endif

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-dev bench gpu --model FILE.gguf [--chunks 512,4096,16384] [--contexts "
    "0,8192,32768,131072]\n"
    "                            [--codecs fp16,int8,int4,int2] [--steps 32] [--backend cuda|auto]\n"
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

int run_cuda(const Args& args, const std::string& model_path) {
    auto ctx_r = CudaContext::create(0);
    if (!ctx_r) return fail("bench gpu", ctx_r.status().to_string());
    CudaContext& ctx = **ctx_r;
    std::printf("GPU: %s, %d SMs, %.1f GiB\n", ctx.props().name, ctx.props().multiProcessorCount,
                ctx.props().totalGlobalMem / 1073741824.0);

    // The limits this run is measured against, then the GEMV alone in every compiled config.
    auto limits = measure_gpu_limits(ctx);
    if (!limits) return fail("bench gpu", limits.status().to_string());
    const double hbm = limits->hbm_gb_s, tflops = limits->bf16_tflops;
    std::printf("limit  HBM copy (read+write)            %8.0f GB/s\n", hbm);
    std::printf("limit  bf16 GEMM 8192^3 (cuBLAS)         %8.0f TFLOP/s\n", tflops);
    auto gemv = bench_gemv_q4k(ctx, hbm);
    if (!gemv) return fail("bench gpu", gemv.status().to_string());
    for (const std::string& line : *gemv) std::printf("%s\n", line.c_str());

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
    std::vector<Codec> formats;
    std::stringstream codec_list(args.get("--codecs", "fp16,int8,int4,int2"));
    for (std::string name; std::getline(codec_list, name, ',');) {
        auto codec = kv_page::parse_codec(name, "--codecs");
        if (!codec) return fail("bench gpu", codec.status().message());
        formats.push_back(*codec);
    }
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
        for (Codec f : formats) {
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
                    ctx_tokens == 0 ? 0.0
                                    : static_cast<double>(kv_page::page_bytes(f, c.n_head_kv, c.head_dim)) /
                                          kv_page::kTokens * c.n_layer;
                const double bytes = weights + kv_bytes_tok * (ctx_tokens + 3 + steps / 2);
                const double bw = bytes * tok_s / 1e9;
                std::printf(
                    "decode ctx %6lld %-4s %-16s %9.1f tok/s   %6.2f ms/tok  reads %5.2f GB/tok = %6.0f GB/s "
                    "= %4.2f "
                    "of HBM"
                    "   GPU memory %.2f GB\n",
                    ctx_tokens, ctx_tokens ? kv_page::codec_name(f) : "-", var.name, tok_s, 1e3 / tok_s,
                    bytes / 1e9, bw, bw / hbm, (free0 - free1) / 1e9);
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
    Args args(argv, {.values = {"--model", "--chunks", "--contexts", "--codecs", "--steps", "--backend"},
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

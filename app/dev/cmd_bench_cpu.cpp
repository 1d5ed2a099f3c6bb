// docket-dev bench cpu: prompt processing and generation speed of the CPU runtime, each printed beside a
// limit measured in the same run (memory read bandwidth for decode, f32 FMA throughput for prefill).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "command.h"
#include "runtime/cpu/simd.h"
#include "runtime/forward.h"
#include "util/thread_pool.h"

namespace docket::cli {
namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

// Read bandwidth: every thread streams its share of a buffer much larger than the caches through a dot
// product.
double measure_read_gbps(ThreadPool& pool, size_t bytes) {
    const int64_t n = static_cast<int64_t>(bytes / sizeof(float));
    std::unique_ptr<float[]> buf(new float[n]);
    pool.parallel_for(n, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023) * 1e-3f;
    });
    const auto& k = cpu::kernels();
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 5; ++rep) {
        std::vector<float> part(pool.size(), 0.0f);
        const auto t0 = clock_type::now();
        pool.parallel_for(n, [&](int64_t b, int64_t e, int th) {
            part[th] += k.dot_f32(buf.get() + b, buf.get() + b, e - b);
        });
        const double s = seconds_since(t0);
        for (float p : part) sink = sink + p;
        best = std::max(best, static_cast<double>(bytes) / s / 1e9);
    }
    return best;
}

// f32 multiply-add throughput of the GEMM kernel the prefill uses, on cache-resident tiles (per thread).
double measure_gemm_gflops(ThreadPool& pool, int64_t k_dim) {
    const int64_t m = 64, n = 16, iters = 200;
    double best = 0.0;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = clock_type::now();
        pool.parallel_for(pool.size(), [&](int64_t b, int64_t e, int) {
            std::vector<float> a(m * k_dim, 0.5f), w(n * k_dim, 0.25f), c(m * n);
            for (int64_t t = b; t < e; ++t)
                for (int64_t it = 0; it < iters; ++it)
                    cpu::kernels().gemm_nt(m, n, k_dim, a.data(), k_dim, w.data(), k_dim, c.data(), n);
        });
        const double s = seconds_since(t0);
        best = std::max(best, 2.0 * m * n * k_dim * iters * pool.size() / s / 1e9);
    }
    return best;
}

constexpr const char* kUsage =
    "usage: docket-dev bench cpu [--model FILE.gguf] [--threads N] [--prompt N] [--gen N]\n"
    "Prompt processing (default 512 tokens) and generation (default 128 tokens) speed of the CPU runtime,\n"
    "next to this machine's measured memory read bandwidth and f32 GEMM throughput.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model", "--threads", "--prompt", "--gen"}});
    if (args.has("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("bench cpu", s.message(), kUsage);
    const char* home = std::getenv("HOME");
    OptionReader o(args);
    const std::string path =
        o.get_string("--model", std::string(home ? home : "/root") +
                                    "/.cache/docket/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    // Bounded so that prompt + generated tokens fit an int32 context.
    const int n_prompt = static_cast<int>(o.get_int("--prompt", 512, 1, 1 << 20));
    const int n_gen = static_cast<int>(o.get_int("--gen", 128, 2, 1 << 20));
    const int threads = static_cast<int>(o.get_int("--threads", 0, 0, 1024));
    if (!o.ok()) return fail("bench cpu", o.error());
    auto model = Model::load(path);
    if (!model) return fail("bench cpu", model.status().to_string());
    const Model& m = **model;
    const ModelConfig& c = m.config();
    CpuForward fw(m, threads);

    // Weight elements one token multiplies through (layers; the output head only for sampled tokens).
    double layer_params = 0.0;
    for (int l = 0; l < c.n_layer; ++l) {
        const LayerWeights& L = m.layer(l);
        for (const WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
            layer_params += static_cast<double>(w->n_in) * w->n_out;
    }
    const double head_params = static_cast<double>(m.output().n_in) * m.output().n_out;
    // Bytes one decode step reads: every layer matrix and the output head (the embedding row is negligible).
    double decode_bytes = static_cast<double>(m.output().row_bytes) * m.output().n_out;
    for (int l = 0; l < c.n_layer; ++l) {
        const LayerWeights& L = m.layer(l);
        for (const WeightView* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
            decode_bytes += static_cast<double>(w->row_bytes) * w->n_out;
    }

    std::printf("model: %s (%s, %d layers, %.0f M multiply-adds per token, %.1f MB read per decode step)\n",
                path.c_str(), arch_name(c.arch), c.n_layer, (layer_params + head_params) / 1e6,
                decode_bytes / 1e6);
    std::printf("cpu: %d threads, kernels %s\n", fw.pool().size(),
                cpu::simd_level_name(cpu::kernels().level));
    std::fflush(stdout);

    const double gbps = measure_read_gbps(fw.pool(), size_t(1) << 30);
    const double gflops = measure_gemm_gflops(fw.pool(), c.n_embd);
    std::printf(
        "limits measured now: memory read %.1f GB/s (1 GiB, all threads); f32 GEMM %.1f GFLOP/s "
        "(cache-resident 64x16x%d tiles, all threads)\n",
        gbps, gflops, c.n_embd);

    std::vector<TokenId> prompt(n_prompt);
    for (int i = 0; i < n_prompt; ++i) prompt[i] = static_cast<TokenId>((i * 7919 + 17) % c.n_vocab);
    auto cache = KvCache::create(c, n_prompt + n_gen + 1);
    if (!cache) return fail("bench cpu", cache.status().to_string());
    std::vector<float> logits;
    {  // warm-up: page the weights in, size the scratch buffers
        auto warm = KvCache::create(c, 64);
        if (!warm) return fail("bench cpu", warm.status().to_string());
        std::vector<TokenId> w(32, 1);
        if (Status s = fw.eval(**warm, w, LogitsMode::last, &logits); !s.is_ok())
            return fail("bench cpu", s.to_string());
    }
    auto t0 = clock_type::now();
    if (Status s = fw.eval(**cache, prompt, LogitsMode::last, &logits); !s.is_ok())
        return fail("bench cpu", s.to_string());
    const double pp_s = seconds_since(t0);
    t0 = clock_type::now();
    for (int i = 0; i < n_gen; ++i) {
        const TokenId t =
            static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (Status s = fw.eval(**cache, std::span<const TokenId>(&t, 1), LogitsMode::last, &logits);
            !s.is_ok())
            return fail("bench cpu", s.to_string());
    }
    const double tg_s = seconds_since(t0);

    const double pp = n_prompt / pp_s, tg = n_gen / tg_s;
    const double pp_limit = gflops * 1e9 / (2.0 * layer_params);
    const double tg_limit = gbps * 1e9 / decode_bytes;
    std::printf("prompt processing: %d tokens in %.2f s = %.1f tok/s   (GEMM limit %.0f tok/s: %.0f%%)\n",
                n_prompt, pp_s, pp, pp_limit, 100.0 * pp / pp_limit);
    std::printf(
        "generation:        %d tokens in %.2f s = %.1f tok/s   (%.2f GB/s of weights = %.0f%% of the "
        "measured bandwidth; limit %.0f tok/s)\n",
        n_gen, tg_s, tg, tg * decode_bytes / 1e9, 100.0 * tg / tg_limit, tg_limit);
    return 0;
}

}  // namespace

DOCKET_CLI_BENCH("cpu", "CPU runtime: prompt and generation tok/s beside measured bandwidth and GEMM limits",
                 run);

}  // namespace docket::cli

// Every CUDA kernel against its CPU twin (engine/runtime/cpu/twin_*.cpp) on fresh random inputs, one table
// row per (op, configuration) with its own error bound: ||out - ref|| / ||ref|| is printed for each. Outputs
// are poisoned (NaN) before every launch so an unwritten element fails. Skips when no GPU is usable.
#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <numeric>

#include "cuda_test_util.h"
#include "decode_attn.cuh"
#include "device.cuh"
#include "embed.cuh"
#include "flash_attn.cuh"
#include "format/kv_codec.h"
#include "gemm_q.cuh"
#include "gemv_q.cuh"
#include "gemv_xq.cuh"
#include "kv_pages.cuh"
#include "model/dequant.h"
#include "rmsnorm.cuh"
#include "rope.cuh"
#include "runtime/cpu/twin_ops.h"
#include "sample.cuh"
#include "swiglu.cuh"

using namespace docket;
using namespace docket::test;

namespace {

struct Case {
    std::string name;
    double bound;
    // Runs GPU and twin; returns the relative error, or sets `why` and returns +inf on a failed call.
    std::function<double(std::mt19937_64&, std::string& why)> run;
};

#define CHECK_OK(expr)                            \
    do {                                          \
        ::docket::Status st_ = (expr);            \
        if (!st_.is_ok()) {                       \
            why = st_.to_string();                \
            return static_cast<double>(INFINITY); \
        }                                         \
    } while (0)

std::vector<uint8_t> quantize_matrix(GgmlType t, const std::vector<float>& w, int64_t n_in, int64_t n_out) {
    const size_t rb = ggml_row_size(t, n_in);
    std::vector<uint8_t> q(rb * n_out);
    for (int64_t r = 0; r < n_out; ++r)
        if (!quantize_row(t, w.data() + r * n_in, q.data() + r * rb, n_in).is_ok()) return {};
    return q;
}

std::vector<uint16_t> to_f16(const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = fp32_to_fp16(v[i]);
    return h;
}
std::vector<float> from_f16(const std::vector<uint16_t>& h) {
    std::vector<float> v(h.size());
    for (size_t i = 0; i < h.size(); ++i) v[i] = fp16_to_fp32(h[i]);
    return v;
}
std::vector<float> from_bf16(const std::vector<uint16_t>& h) {
    std::vector<float> v(h.size());
    for (size_t i = 0; i < h.size(); ++i) v[i] = bf16_to_fp32(h[i]);
    return v;
}

const GgmlType kTypes[] = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::F16,  GgmlType::BF16};

// gemv_xq of 3 fused matrices (301, 64, 17 rows: no multiple of the rows per block; the first accumulates)
// against twin::gemv_q, x from producer 0 quantize_x, 1 rmsnorm_quantize_x or 2 swiglu_quantize_x, on a
// non-blocking stream (as the runtime's streams are: no implicit joins), as dependent launches when `pdl`.
double run_gemv_xq(std::mt19937_64& rng, std::string& why, GgmlType t, int64_t n_in, int producer,
                   const cuda::GemvXqConfig& cfg, bool pdl = true) {
    const int64_t outs[3] = {301, 64, 17};
    auto x = randn(rng, n_in, producer == 2 ? 3.0f : 1.0f);
    for (int i = 0; i < 8; ++i) x[rng() % n_in] *= 40.0f;  // a few large entries, as real activations have
    auto aux = producer == 1 ? randn(rng, n_in, 0.2f, 1.0f) : randn(rng, n_in);
    std::vector<float> xin(n_in);  // the twin's input vector
    if (producer == 0) xin = x;
    if (producer == 1) twin::rmsnorm(x.data(), aux.data(), 1, n_in, 1e-5f, xin.data());
    if (producer == 2) twin::swiglu(x.data(), aux.data(), n_in, xin.data());
    auto dx = to_device(x), da = to_device(aux);
    auto xq = poisoned<uint8_t>(cuda::gemv_xq_bytes(n_in));
    cudaStream_t st = nullptr;
    CHECK_OK(cuda::cuda_status(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "stream", "create"));
    struct Guard {
        cudaStream_t s;
        ~Guard() { cudaStreamDestroy(s); }
    } guard{st};
    std::vector<std::vector<uint8_t>> wq(3);
    std::vector<std::vector<float>> y0(3);
    std::vector<cuda::DeviceBuffer> dw(3), dy(3);
    cuda::GemvXqMat mats[3];
    for (int i = 0; i < 3; ++i) {
        wq[i] = quantize_matrix(t, randn(rng, n_in * outs[i], 0.5f), n_in, outs[i]);
        y0[i] = randn(rng, outs[i]);
        dw[i] = to_device(wq[i]);
        dy[i] = i == 0 ? to_device(y0[i]) : poisoned<float>(outs[i]);
        mats[i] = {dw[i].get(), outs[i], dy[i].as<float>(), i == 0};
    }
    if (producer == 0) CHECK_OK(cuda::quantize_x(dx.as<float>(), n_in, xq.get(), st, pdl));
    if (producer == 1)
        CHECK_OK(cuda::rmsnorm_quantize_x(dx.as<float>(), da.as<float>(), n_in, 1e-5f, xq.get(), st, pdl));
    if (producer == 2)
        CHECK_OK(cuda::swiglu_quantize_x(dx.as<float>(), da.as<float>(), n_in, xq.get(), st, pdl));
    CHECK_OK(cuda::gemv_xq(t, mats, 3, n_in, xq.get(), st, cfg, pdl));
    CHECK_OK(cuda::cuda_status(cudaStreamSynchronize(st), "gemv_xq", "sync"));
    std::vector<float> got, ref;
    for (int i = 0; i < 3; ++i) {
        std::vector<float> r = i == 0 ? y0[i] : std::vector<float>(outs[i]);
        CHECK_OK(twin::gemv_q(t, wq[i].data(), n_in, outs[i], xin.data(), 1, r.data(), i == 0));
        auto g = to_host<float>(dy[i], outs[i]);
        got.insert(got.end(), g.begin(), g.end());
        ref.insert(ref.end(), r.begin(), r.end());
    }
    return rel_err(got, ref);
}

// Every compiled gemv_xq config (the bench's tuning points are Q4_K only) at n_in with 24 groups (fewer than
// a warp), 72 (a partial step of 64 x 2), 128 (one 128-thread step) and 448 (3.5 steps), and a config that is
// not compiled for a type must be refused, not launched.
void add_gemv_xq_config_cases(std::vector<Case>& cases) {
    bool refusal = false;  // one refusal case is enough
    for (const cuda::GemvXqConfigInfo& ci : cuda::gemv_xq_configs()) {
        const cuda::GemvXqConfig c = ci.cfg;
        for (int64_t n_in : {768, 2304, 4096, 14336})
            cases.push_back(
                {fmt::format("gemv_xq Q4_K config R{} W{} U{} MB{}{}, n_in {} (dependent launches)", c.rows,
                             c.warps, c.unroll, c.min_blocks, c.staged ? " staged" : "", n_in),
                 1e-3, [c, n_in](std::mt19937_64& rng, std::string& why) {
                     return run_gemv_xq(rng, why, GgmlType::Q4_K, n_in, 0, c);
                 }});
        if (ci.all_types || refusal) continue;
        refusal = true;
        cases.push_back({fmt::format("gemv_xq Q6_K refuses the Q4_K-only config R{} W{} U{} MB{}", c.rows,
                                     c.warps, c.unroll, c.min_blocks),
                         0.0, [c](std::mt19937_64&, std::string& why) {
                             auto dw = poisoned<uint8_t>(ggml_row_size(GgmlType::Q6_K, 256) * 4);
                             auto dy = poisoned<float>(4), xq = poisoned<uint8_t>(cuda::gemv_xq_bytes(256));
                             cuda::GemvXqMat m{dw.get(), 4, dy.as<float>(), false};
                             const Status st =
                                 cuda::gemv_xq(GgmlType::Q6_K, &m, 1, 256, xq.get(), nullptr, c);
                             if (st.code() == ErrorCode::invalid_argument) return 0.0;
                             why = "expected invalid_argument, got: " + st.to_string();
                             return static_cast<double>(INFINITY);
                         }});
    }
}

void add_weight_cases(std::vector<Case>& cases) {
    for (GgmlType t : kTypes) {
        for (int batch : {1, 3, 8}) {
            cases.push_back(
                {fmt::format("gemv_q {} batch {}", ggml_type_name(t), batch), 1e-3,
                 [t, batch](std::mt19937_64& rng, std::string& why) {
                     const int64_t n_in = 2048, n_out = 301;
                     auto wq = quantize_matrix(t, randn(rng, n_in * n_out, 0.5f), n_in, n_out);
                     auto x = randn(rng, batch * n_in);
                     auto y0 = randn(rng, batch * n_out);  // accumulate onto this
                     auto dw = to_device(wq), dx = to_device(x), dy = to_device(y0);
                     CHECK_OK(cuda::gemv_q(t, dw.get(), n_in, n_out, dx.as<float>(), batch, dy.as<float>(),
                                           true, nullptr));
                     CHECK_OK(cuda::cuda_status(cudaDeviceSynchronize(), "gemv_q", "sync"));
                     std::vector<float> ref = y0;
                     CHECK_OK(twin::gemv_q(t, wq.data(), n_in, n_out, x.data(), batch, ref.data(), true));
                     return rel_err(to_host<float>(dy, ref.size()), ref);
                 }});
        }
        for (int rpb : {2, 4}) {
            if (!cuda::gemv_xq_supported(t)) break;
            cases.push_back(
                {fmt::format("gemv_xq {} (dp4a, x 16-bit fixed point), 3 fused matrices, {} rows per block, "
                             "plain launches",
                             ggml_type_name(t), rpb),
                 1e-3, [t, rpb](std::mt19937_64& rng, std::string& why) {
                     return run_gemv_xq(rng, why, t, 2048, 0, cuda::GemvXqConfig{rpb, 4, 1, 0}, false);
                 }});
        }
        for (const cuda::GemvXqConfigInfo& ci : cuda::gemv_xq_configs()) {
            if (!cuda::gemv_xq_supported(t)) break;
            if (!ci.all_types) continue;  // the Q4_K-only tuning configs have their own cases
            const cuda::GemvXqConfig cfg = ci.cfg;
            // Input formed by each producer kernel (plain quantize, rmsnorm+quantize, swiglu+quantize), n_in
            // with whole, partial and sub-warp group counts; launched as dependent launches on a stream.
            for (int producer : {0, 1, 2}) {
                const bool kq = t == GgmlType::Q4_K || t == GgmlType::Q6_K;  // 256-element super-blocks
                const int64_t n_in = producer == 0 ? 2048 : producer == 1 ? (kq ? 768 : 576) : 14336;
                cases.push_back(
                    {fmt::format(
                         "gemv_xq {} {} rows x {} warps per block{}, n_in {}, x from {} (dependent launches)",
                         ggml_type_name(t), cfg.rows, cfg.warps, cfg.staged ? " (staged)" : "", n_in,
                         producer == 0   ? "quantize_x"
                         : producer == 1 ? "rmsnorm_quantize_x"
                                         : "swiglu_quantize_x"),
                     1e-3, [t, cfg, producer, n_in](std::mt19937_64& rng, std::string& why) {
                         return run_gemv_xq(rng, why, t, n_in, producer, cfg);
                     }});
            }
        }
        for (auto act : {cuda::DType::f16, cuda::DType::bf16}) {
            const bool f16 = act == cuda::DType::f16;
            cases.push_back(
                {fmt::format("gemm_q {} ({} tensor cores)", ggml_type_name(t), f16 ? "f16" : "bf16"),
                 f16 ? 1e-3 : 1e-2, [t, act, f16](std::mt19937_64& rng, std::string& why) {
                     const int64_t n_in = 512, n_out = 200, n_tok = 77;
                     auto wq = quantize_matrix(t, randn(rng, n_in * n_out, 0.5f), n_in, n_out);
                     auto x = randn(rng, n_tok * n_in);
                     std::vector<uint16_t> xb(x.size());
                     for (size_t i = 0; i < x.size(); ++i) {
                         xb[i] = f16 ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
                         x[i] = f16 ? fp16_to_fp32(xb[i]) : bf16_to_fp32(xb[i]);
                     }
                     auto dw = to_device(wq), dx = to_device(xb);
                     auto dy = poisoned<float>(n_tok * n_out);
                     auto scratch = poisoned<uint16_t>(n_in * n_out);
                     auto ctx = cuda::CudaContext::create(0);
                     if (!ctx) CHECK_OK(ctx.status());
                     CHECK_OK(cuda::gemm_q((*ctx)->cublas(), t, dw.get(), n_in, n_out, act, dx.get(), n_tok,
                                           dy.as<float>(), false, scratch.get(), (*ctx)->compute()));
                     CHECK_OK((*ctx)->sync_compute());
                     std::vector<float> ref(n_tok * n_out);
                     CHECK_OK(twin::gemv_q(t, wq.data(), n_in, n_out, x.data(), n_tok, ref.data(), false));
                     return rel_err(to_host<float>(dy, ref.size()), ref);
                 }});
        }
        cases.push_back({fmt::format("embed_rows {}", ggml_type_name(t)), 1e-6,
                         [t](std::mt19937_64& rng, std::string& why) {
                             const int64_t n_vocab = 1000, dim = 512, n_tok = 33;
                             auto tq = quantize_matrix(t, randn(rng, n_vocab * dim), dim, n_vocab);
                             std::vector<int32_t> tok(n_tok);
                             for (auto& id : tok) id = static_cast<int32_t>(rng() % n_vocab);
                             auto dt = to_device(tq), dk = to_device(tok);
                             auto dout = poisoned<float>(n_tok * dim);
                             CHECK_OK(cuda::embed_rows(t, dt.get(), n_vocab, dim, dk.as<int32_t>(), n_tok,
                                                       dout.as<float>(), nullptr));
                             std::vector<float> ref(n_tok * dim);
                             CHECK_OK(
                                 twin::embed_rows(t, tq.data(), n_vocab, dim, tok.data(), n_tok, ref.data()));
                             return rel_err(to_host<float>(dout, ref.size()), ref);
                         }});
    }
}

void add_elementwise_cases(std::vector<Case>& cases) {
    for (auto out_t : {cuda::DType::f32, cuda::DType::bf16}) {
        const bool f32 = out_t == cuda::DType::f32;
        cases.push_back({f32 ? "rmsnorm f32" : "rmsnorm bf16 out", f32 ? 1e-5 : 1e-2,
                         [out_t, f32](std::mt19937_64& rng, std::string& why) {
                             const int rows = 9, dim = 4096;
                             auto x = randn(rng, rows * dim, 3.0f), w = randn(rng, dim, 0.2f, 1.0f);
                             auto dx = to_device(x), dw = to_device(w);
                             auto dout = poisoned<float>(rows * dim);
                             CHECK_OK(cuda::rmsnorm(dx.as<float>(), dw.as<float>(), rows, dim, 1e-5f,
                                                    dout.get(), out_t, nullptr));
                             std::vector<float> ref(rows * dim);
                             twin::rmsnorm(x.data(), w.data(), rows, dim, 1e-5f, ref.data());
                             auto out = f32 ? to_host<float>(dout, ref.size())
                                            : from_bf16(to_host<uint16_t>(dout, ref.size()));
                             return rel_err(out, ref);
                         }});
    }
    // Shapes that take the scalar kernel (dim % 4 != 0) and the vector kernel with f16 out (SmolLM2's 576).
    for (int dim : {576, 4098}) {
        cases.push_back(
            {dim == 576 ? "rmsnorm f16 out, dim 576 (4-wide)" : "rmsnorm f16 out, dim 4098 (scalar)", 1e-3,
             [dim](std::mt19937_64& rng, std::string& why) {
                 const int rows = 5;
                 auto x = randn(rng, rows * dim, 3.0f), w = randn(rng, dim, 0.2f, 1.0f);
                 auto dx = to_device(x), dw = to_device(w);
                 auto dout = poisoned<float>(rows * dim);
                 CHECK_OK(cuda::rmsnorm(dx.as<float>(), dw.as<float>(), rows, dim, 1e-5f, dout.get(),
                                        cuda::DType::f16, nullptr));
                 std::vector<float> ref(rows * dim);
                 twin::rmsnorm(x.data(), w.data(), rows, dim, 1e-5f, ref.data());
                 return rel_err(from_f16(to_host<uint16_t>(dout, ref.size())), ref);
             }});
    }
    cases.push_back({"rope f32, positions to 131071", 1e-5, [](std::mt19937_64& rng, std::string& why) {
                         const int n_heads = 4, hd = 128;
                         std::vector<int32_t> pos = {0, 1, 100, 4095, 32767, 100000, 131071};
                         const int64_t n = static_cast<int64_t>(pos.size());
                         auto x = randn(rng, n * n_heads * hd);
                         auto inv = twin::rope_inv_freq(500000.0f, hd);
                         auto dx = to_device(x), dp = to_device(pos), di = to_device(inv);
                         auto dout = poisoned<float>(x.size());
                         CHECK_OK(cuda::rope(dx.as<float>(), dp.as<int32_t>(), n, n_heads, hd, di.as<float>(),
                                             dout.get(), cuda::DType::f32, nullptr));
                         std::vector<float> ref(x.size());
                         twin::rope(x.data(), pos.data(), n, n_heads, hd, inv.data(), ref.data());
                         return rel_err(to_host<float>(dout, ref.size()), ref);
                     }});
    cases.push_back(
        {"swiglu f32", 1e-5, [](std::mt19937_64& rng, std::string& why) {
             const int64_t n = 3 * 14336;
             auto g = randn(rng, n, 3.0f), u = randn(rng, n);
             auto dg = to_device(g), du = to_device(u);
             auto dout = poisoned<float>(n);
             CHECK_OK(cuda::swiglu(dg.as<float>(), du.as<float>(), n, dout.get(), cuda::DType::f32, nullptr));
             std::vector<float> ref(n);
             twin::swiglu(g.data(), u.data(), n, ref.data());
             return rel_err(to_host<float>(dout, n), ref);
         }});
    // A tail of 3 after the 4-wide part, f16 out; and inputs one float off 16-byte alignment (scalar kernel).
    for (int shift : {0, 1}) {
        cases.push_back({shift ? "swiglu f32, unaligned inputs (scalar)" : "swiglu f16 out, n % 4 = 3",
                         shift ? 1e-5 : 1e-3, [shift](std::mt19937_64& rng, std::string& why) {
                             const int64_t n = 3 * 14336 + 3;
                             auto g = randn(rng, n + shift, 3.0f), u = randn(rng, n + shift);
                             auto dg = to_device(g), du = to_device(u);
                             const cuda::DType t = shift ? cuda::DType::f32 : cuda::DType::f16;
                             auto dout = poisoned<float>(n);
                             CHECK_OK(cuda::swiglu(dg.as<float>() + shift, du.as<float>() + shift, n,
                                                   dout.get(), t, nullptr));
                             std::vector<float> ref(n);
                             twin::swiglu(g.data() + shift, u.data() + shift, n, ref.data());
                             auto out =
                                 shift ? to_host<float>(dout, n) : from_f16(to_host<uint16_t>(dout, n));
                             return rel_err(out, ref);
                         }});
    }
    for (float temp : {0.0f, 0.8f}) {
        cases.push_back({temp == 0.0f ? "sample greedy (argmax)" : "sample temperature 0.8 (Gumbel-max)", 0.0,
                         [temp](std::mt19937_64& rng, std::string& why) {
                             const int batch = 4, n_vocab = 49152;
                             auto l = randn(rng, batch * n_vocab, 2.0f);
                             const uint64_t seed = rng();
                             auto dl = to_device(l);
                             auto dout = poisoned<int32_t>(batch);
                             CHECK_OK(cuda::sample_tokens(dl.as<float>(), batch, n_vocab, temp, seed,
                                                          dout.as<int32_t>(), nullptr));
                             auto got = to_host<int32_t>(dout, batch);
                             int mismatches = 0;
                             for (int b = 0; b < batch; ++b) {
                                 const int32_t want =
                                     twin::sample_token(l.data() + b * n_vocab, n_vocab, temp, seed, b);
                                 if (got[b] != want) {
                                     ++mismatches;
                                     why += fmt::format("seq {}: gpu {} cpu {}; ", b, got[b], want);
                                 }
                             }
                             return static_cast<double>(mismatches);
                         }});
    }
}

void add_attention_cases(std::vector<Case>& cases) {
    struct FaCfg {
        int64_t n_q, n_kv;
        int heads, kv_heads, hd;
    };
    for (FaCfg c : {FaCfg{300, 300, 8, 2, 128}, FaCfg{129, 1000, 9, 3, 64}, FaCfg{1, 77, 4, 4, 128},
                    FaCfg{64, 64, 2, 1, 64}}) {
        cases.push_back({fmt::format("flash_attn_prefill q{} kv{} heads {}/{} hd{}", c.n_q, c.n_kv, c.heads,
                                     c.kv_heads, c.hd),
                         1e-2, [c](std::mt19937_64& rng, std::string& why) {
                             auto qh = to_f16(randn(rng, c.n_q * c.heads * c.hd));
                             auto kh = to_f16(randn(rng, c.n_kv * c.kv_heads * c.hd));
                             auto vh = to_f16(randn(rng, c.n_kv * c.kv_heads * c.hd));
                             auto dq = to_device(qh), dk = to_device(kh), dv = to_device(vh);
                             auto dout = poisoned<uint16_t>(qh.size());
                             const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
                             CHECK_OK(cuda::flash_attn_prefill(
                                 dq.as<__half>(), dk.as<__half>(), dv.as<__half>(), c.n_q, c.n_kv, c.heads,
                                 c.kv_heads, c.hd, scale, dout.as<__half>(), nullptr));
                             std::vector<float> ref(qh.size());
                             twin::flash_attn_prefill(from_f16(qh).data(), from_f16(kh).data(),
                                                      from_f16(vh).data(), c.n_q, c.n_kv, c.heads, c.kv_heads,
                                                      c.hd, scale, ref.data());
                             return rel_err(from_f16(to_host<uint16_t>(dout, ref.size())), ref);
                         }});
    }
}

// A batch of sequences over a shuffled page pool, pages placed at composed positions (segments at offsets).
struct PagedFixture {
    kv_page::Codec fmt;
    int T, n_kv, hd;
    std::vector<int> lens;
    size_t page_bytes = 0;
    std::vector<uint8_t> pool;
    std::vector<int32_t> indptr, indices, last_len, page_pos;

    // Pages made by the one CPU encoder (format/kv_codec.h), as the store makes them.
    Status build(std::mt19937_64& rng, int64_t pos_base) {
        page_bytes = kv_page::page_layout(fmt, n_kv, hd, T).bytes;
        int total_pages = 0;
        for (int n : lens) total_pages += (n + T - 1) / T;
        std::vector<int32_t> perm(total_pages + 3);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        pool.assign(page_bytes * perm.size(), 0xEE);
        indptr = {0};
        int next = 0;
        for (int n : lens) {
            const int np = (n + T - 1) / T;
            int64_t pos = pos_base + static_cast<int64_t>(rng() % 1000);
            for (int p = 0; p < np; ++p) {
                const int used = std::min(T, n - p * T);
                auto k = randn(rng, static_cast<size_t>(T) * n_kv * hd, 1.0f, 0.3f);
                auto v = randn(rng, static_cast<size_t>(T) * n_kv * hd);
                const int id = perm[next++];
                DK_TRY(kv_page::encode_page(fmt, n_kv, hd, k.data(), v.data(), used,
                                            pool.data() + id * page_bytes, T));
                indices.push_back(id);
                page_pos.push_back(static_cast<int32_t>(pos));
                // Every third page starts a new "segment" at a jump in position.
                pos += (p % 3 == 2) ? T + static_cast<int64_t>(rng() % 5000) : T;
            }
            indptr.push_back(static_cast<int32_t>(indices.size()));
            last_len.push_back(np ? n - (np - 1) * T : 0);
        }
        return Status::ok();
    }
    cuda::PagedKv host() const {
        return {fmt,
                T,
                n_kv,
                hd,
                page_bytes,
                pool.data(),
                indptr.data(),
                indices.data(),
                last_len.data(),
                page_pos.data()};
    }
    struct Dev {
        cuda::DeviceBuffer pool, indptr, indices, last_len, page_pos;
    };
    Dev upload() const {
        return {to_device(pool), to_device(indptr), to_device(indices), to_device(last_len),
                to_device(page_pos)};
    }
    cuda::PagedKv device(const Dev& d) const {
        return {fmt,
                T,
                n_kv,
                hd,
                page_bytes,
                d.pool.as<uint8_t>(),
                d.indptr.as<int32_t>(),
                d.indices.as<int32_t>(),
                d.last_len.as<int32_t>(),
                d.page_pos.as<int32_t>()};
    }
};

// The decode step's two attention sources: an int4 snapshot of 40 pages and a 37-token f16 live tail
// (hd 128, 32 / 8 heads), a random query and the shape with 16 splits, all on the device.
struct SnapAndTail {
    static constexpr int hd = 128, heads = 32, kv = 8;
    static constexpr int T = kv_page::kTokens;
    PagedFixture snap{kv_page::Codec::int4, T, kv, hd, {T * 40}}, live{kv_page::Codec::fp16, T, kv, hd, {37}};
    cuda::DeviceBuffer dinv, dq;
    PagedFixture::Dev ds, dl;
    cuda::PagedKv src[2];
    cuda::DecodeAttnShape shape;
    Status built;  // of the two fixtures' pages

    explicit SnapAndTail(std::mt19937_64& rng) {
        built = snap.build(rng, 0);
        if (built.is_ok()) built = live.build(rng, T * 40);
        dinv = to_device(twin::rope_inv_freq(500000.0f, hd));
        dq = to_device(randn(rng, heads * hd));
        ds = snap.upload(), dl = live.upload();
        src[0] = snap.device(ds), src[1] = live.device(dl);
        shape.batch = 1, shape.n_heads = heads, shape.head_dim = hd, shape.scale = 0.088f;
        shape.n_splits = 16, shape.max_pages = 40, shape.inv_freq = dinv.as<float>();
    }
};

double run_decode(std::mt19937_64& rng, std::string& why, std::vector<PagedFixture> fx, int n_heads,
                  int n_splits, int64_t pos_base, int impl) {
    const int hd = fx[0].hd, batch = static_cast<int>(fx[0].lens.size());
    int max_pages = 0;
    for (auto& f : fx) {
        CHECK_OK(f.build(rng, pos_base));
        for (int b = 0; b < batch; ++b) max_pages = std::max(max_pages, f.indptr[b + 1] - f.indptr[b]);
    }
    auto inv = twin::rope_inv_freq(500000.0f, hd);
    auto q = randn(rng, static_cast<size_t>(batch) * n_heads * hd);
    std::vector<PagedFixture::Dev> devs;
    std::vector<cuda::PagedKv> dsrc, hsrc;
    for (auto& f : fx) devs.push_back(f.upload());
    for (size_t i = 0; i < fx.size(); ++i) {
        dsrc.push_back(fx[i].device(devs[i]));
        hsrc.push_back(fx[i].host());
    }
    auto dq = to_device(q), dinv = to_device(inv);
    cuda::DecodeAttnShape s;
    s.batch = batch;
    s.n_heads = n_heads;
    s.head_dim = hd;
    s.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    s.n_splits = n_splits;
    s.max_pages = max_pages;
    s.impl = impl;
    s.inv_freq = dinv.as<float>();
    auto ws = poisoned<float>(cuda::decode_attention_workspace(s, static_cast<int>(fx.size())));
    auto dout = poisoned<float>(q.size());
    CHECK_OK(cuda::decode_attention(dq.as<float>(), dsrc.data(), static_cast<int>(dsrc.size()), s,
                                    ws.as<float>(), dout.as<float>(), nullptr));
    CHECK_OK(cuda::cuda_status(cudaDeviceSynchronize(), "decode_attention", "sync"));
    s.inv_freq = inv.data();
    std::vector<float> ref(q.size());
    CHECK_OK(twin::decode_attention(q.data(), hsrc.data(), static_cast<int>(hsrc.size()), s, ref.data()));
    return rel_err(to_host<float>(dout, ref.size()), ref);
}

const char* impl_name(int impl) {
    return impl == 0   ? "tensor cores (warp per chunk)"
           : impl == 2 ? "tensor cores (block per chunk)"
                       : "CUDA cores";
}

void add_decode_cases(std::vector<Case>& cases) {
    using F = kv_page::Codec;
    for (int impl : {0, 2, 1}) {
        for (F f : {F::fp16, F::int8, F::int4, F::int2})
            for (int hd : {64, 128})
                for (int T : {16, 64, 256}) {
                    const int heads = hd == 64 ? 9 : 32, kv = hd == 64 ? 3 : 8;
                    cases.push_back({fmt::format("decode_attention {} {} hd{} page{} heads {}/{} batch 3",
                                                 impl_name(impl), kv_page::codec_name(f), hd, T, heads, kv),
                                     1e-3, [=](std::mt19937_64& rng, std::string& why) {
                                         PagedFixture p{f, T, kv, hd, {1, 300, 1100}};
                                         return run_decode(rng, why, {p}, heads, 0, 1000, impl);
                                     }});
                }
        cases.push_back(
            {fmt::format("decode_attention {} int4 snapshot pages + f16 live tail, positions near 128k",
                         impl_name(impl)),
             1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                 PagedFixture snap{F::int4, kv_page::kTokens, 8, 128, {2000, 640}};
                 PagedFixture tail{F::fp16, kv_page::kTokens, 8, 128, {37, 1}};
                 return run_decode(rng, why, {snap, tail}, 32, 0, 120000, impl);
             }});
        cases.push_back({fmt::format("decode_attention {} int2 one split (no merge), 4 heads per KV head",
                                     impl_name(impl)),
                         1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                             PagedFixture p{F::int2, 64, 2, 64, {500, 64}};
                             return run_decode(rng, why, {p}, 8, 1, 0, impl);
                         }});
        cases.push_back(
            {fmt::format("decode_attention {} int8 8 query heads per KV head, page 128", impl_name(impl)),
             1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                 PagedFixture p{F::int8, 128, 2, 128, {777, 129}};
                 return run_decode(rng, why, {p}, 16, 0, 50, impl);
             }});
    }
    // Long contexts: several chunks per warp, so the warp kernel's cp.async ring wraps (2 stages for int4, 1
    // for int8 at hd 128) and page 256 is read as 64-token slices.
    for (int impl : {0, 2}) {
        cases.push_back({fmt::format("decode_attention {} int4 hd128 32k tokens, batch 2", impl_name(impl)),
                         1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                             PagedFixture p{F::int4, 64, 8, 128, {32768, 20001}};
                             return run_decode(rng, why, {p}, 32, 0, 4000, impl);
                         }});
        cases.push_back({fmt::format("decode_attention {} int8 hd128 page 256, 9000 tokens", impl_name(impl)),
                         1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                             PagedFixture p{F::int8, 256, 8, 128, {9000}};
                             return run_decode(rng, why, {p}, 32, 0, 0, impl);
                         }});
        cases.push_back({fmt::format("decode_attention {} int2 hd64 page 32, 12000 tokens", impl_name(impl)),
                         1e-3, [impl](std::mt19937_64& rng, std::string& why) {
                             PagedFixture p{F::int2, 32, 3, 64, {12000}};
                             return run_decode(rng, why, {p}, 9, 0, 77, impl);
                         }});
    }
    // Warp kernel with few chunks per block: one split, so with 1..3 chunks most of the 16 (int4/int2) or 8
    // (int8) warps have none and only join the merge; partial last pages; int2 hd128 wraps its 2-stage ring.
    for (F f : {F::int8, F::int4, F::int2})
        for (int hd : {64, 128})
            cases.push_back({fmt::format("decode_attention warp per chunk {} hd{} one split, 1-3 chunks and "
                                         "49 chunks (idle warps, partial pages)",
                                         kv_page::codec_name(f), hd),
                             1e-3, [=](std::mt19937_64& rng, std::string& why) {
                                 const int kv = hd == 64 ? 3 : 8, heads = hd == 64 ? 9 : 32;
                                 PagedFixture p{f, 64, kv, hd, {1, 65, 130, 64 * 48 + 17}};
                                 return run_decode(rng, why, {p}, heads, 1, 3000, 0);
                             }});
    // The combine kernel's by-product for the next GEMV (xq_out, dependent launches) must be exactly
    // quantize_x of its f32 output: same codes and scales; block sums (added in another order) to 1e-6.
    cases.push_back({"decode_attention xq_out == quantize_x(out), dependent launches (int4 + f16)", 1e-6,
                     [](std::mt19937_64& rng, std::string& why) {
                         SnapAndTail f(rng);
                         CHECK_OK(f.built);
                         cudaStream_t st = nullptr;
                         CHECK_OK(cuda::cuda_status(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking),
                                                    "stream", "create"));
                         struct Guard {
                             cudaStream_t s;
                             ~Guard() { cudaStreamDestroy(s); }
                         } guard{st};
                         cuda::DecodeAttnShape s = f.shape;
                         s.pdl = true;
                         const int64_t n = f.heads * f.hd;
                         auto xq = poisoned<uint8_t>(cuda::gemv_xq_bytes(n));
                         auto xq_ref = poisoned<uint8_t>(cuda::gemv_xq_bytes(n));
                         s.xq_out = xq.get();
                         auto ws = poisoned<float>(cuda::decode_attention_workspace(s, 2));
                         auto dout = poisoned<float>(n);
                         CHECK_OK(cuda::decode_attention(f.dq.as<float>(), f.src, 2, s, ws.as<float>(),
                                                         dout.as<float>(), st));
                         CHECK_OK(cuda::quantize_x(dout.as<float>(), n, xq_ref.get(), st, true));
                         CHECK_OK(cuda::cuda_status(cudaStreamSynchronize(st), "decode_attention", "sync"));
                         const auto a = to_host<uint8_t>(xq, cuda::gemv_xq_bytes(n));
                         const auto b = to_host<uint8_t>(xq_ref, cuda::gemv_xq_bytes(n));
                         const size_t codes = 2 * n + 4 * (n / 16);  // hi, lo, scales: exact
                         if (!std::equal(a.begin(), a.begin() + codes, b.begin())) {
                             why = "codes or scales differ from quantize_x";
                             return static_cast<double>(INFINITY);
                         }
                         std::vector<float> sa(n / 16), sb(n / 16);
                         std::memcpy(sa.data(), a.data() + codes, sa.size() * 4);
                         std::memcpy(sb.data(), b.data() + codes, sb.size() * 4);
                         return rel_err(sa, sb);
                     }});
    // The fork/join variant (second source on a side stream) must give exactly the one-stream result.
    cases.push_back({"decode_attention live tail on a side stream == one stream (int4 + f16, bitwise)", 0.0,
                     [](std::mt19937_64& rng, std::string& why) {
                         SnapAndTail f(rng);
                         CHECK_OK(f.built);
                         cudaStream_t st = nullptr, side = nullptr;
                         cudaEvent_t fork = nullptr, join = nullptr;
                         CHECK_OK(cuda::cuda_status(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking),
                                                    "stream", "create"));
                         CHECK_OK(cuda::cuda_status(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking),
                                                    "stream", "create"));
                         CHECK_OK(cuda::cuda_status(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming),
                                                    "event", "create"));
                         CHECK_OK(cuda::cuda_status(cudaEventCreateWithFlags(&join, cudaEventDisableTiming),
                                                    "event", "create"));
                         struct Guard {
                             cudaStream_t a, b;
                             cudaEvent_t c, d;
                             ~Guard() {
                                 cudaStreamDestroy(a), cudaStreamDestroy(b);
                                 cudaEventDestroy(c), cudaEventDestroy(d);
                             }
                         } guard{st, side, fork, join};
                         cuda::DecodeAttnShape s = f.shape;
                         const int64_t n = f.heads * f.hd;
                         auto ws = poisoned<float>(cuda::decode_attention_workspace(s, 2));
                         auto one = poisoned<float>(n), two = poisoned<float>(n);
                         CHECK_OK(cuda::decode_attention(f.dq.as<float>(), f.src, 2, s, ws.as<float>(),
                                                         one.as<float>(), st));
                         s.side = side, s.fork = fork, s.join = join;
                         CHECK_OK(cuda::decode_attention(f.dq.as<float>(), f.src, 2, s, ws.as<float>(),
                                                         two.as<float>(), st));
                         CHECK_OK(cuda::cuda_status(cudaStreamSynchronize(st), "decode_attention", "sync"));
                         return rel_err(to_host<float>(two, n), to_host<float>(one, n));
                     }});
    // Batch-vs-single: each sequence alone must give what it gets inside the batch.
    cases.push_back({"decode_attention batch of 3 == each sequence alone (int4)", 1e-5,
                     [](std::mt19937_64& rng, std::string& why) {
                         const int hd = 128, heads = 32, kv = 8;
                         PagedFixture all{F::int4, 64, kv, hd, {700, 65, 1300}};
                         CHECK_OK(all.build(rng, 5000));
                         auto inv = twin::rope_inv_freq(500000.0f, hd);
                         auto q = randn(rng, 3 * heads * hd);
                         auto dinv = to_device(inv), dq = to_device(q);
                         auto dev = all.upload();
                         cuda::DecodeAttnShape s;
                         s.batch = 3, s.n_heads = heads, s.head_dim = hd, s.scale = 0.088f, s.n_splits = 4;
                         s.max_pages = 21, s.inv_freq = dinv.as<float>();
                         auto ws = poisoned<float>(cuda::decode_attention_workspace(s, 1));
                         auto dout = poisoned<float>(q.size());
                         auto src = all.device(dev);
                         CHECK_OK(cuda::decode_attention(dq.as<float>(), &src, 1, s, ws.as<float>(),
                                                         dout.as<float>(), nullptr));
                         auto batched = to_host<float>(dout, q.size());
                         double worst = 0.0;
                         for (int b = 0; b < 3; ++b) {
                             std::vector<int32_t> ip = {0, all.indptr[b + 1] - all.indptr[b]};
                             std::vector<int32_t> idx(all.indices.begin() + all.indptr[b],
                                                      all.indices.begin() + all.indptr[b + 1]);
                             std::vector<int32_t> pp(all.page_pos.begin() + all.indptr[b],
                                                     all.page_pos.begin() + all.indptr[b + 1]);
                             std::vector<int32_t> ll = {all.last_len[b]};
                             auto dip = to_device(ip), didx = to_device(idx), dpp = to_device(pp),
                                  dll = to_device(ll);
                             cuda::PagedKv one = src;
                             one.indptr = dip.as<int32_t>(), one.indices = didx.as<int32_t>();
                             one.page_pos = dpp.as<int32_t>(), one.last_page_len = dll.as<int32_t>();
                             cuda::DecodeAttnShape s1 = s;
                             s1.batch = 1;
                             auto dq1 = to_device(std::vector<float>(q.begin() + b * heads * hd,
                                                                     q.begin() + (b + 1) * heads * hd));
                             auto out1 = poisoned<float>(heads * hd);
                             CHECK_OK(cuda::decode_attention(dq1.as<float>(), &one, 1, s1, ws.as<float>(),
                                                             out1.as<float>(), nullptr));
                             std::vector<float> ref(batched.begin() + b * heads * hd,
                                                    batched.begin() + (b + 1) * heads * hd);
                             worst = std::max(worst, rel_err(to_host<float>(out1, heads * hd), ref));
                         }
                         return worst;
                     }});
    cases.push_back({"kv_append_f16 + kv_gather_f16 (rotated) over shuffled pages", 1e-3,
                     [](std::mt19937_64& rng, std::string& why) {
                         const int T = 64, kv = 2, hd = 64, n = 150;
                         const size_t pb = kv_page::page_layout(F::fp16, kv, hd, T).bytes;
                         std::vector<int32_t> pages = {5, 2, 7};
                         std::vector<int32_t> ppos = {0, 64, 9000};
                         std::vector<int32_t> slot_ids;
                         slot_ids.resize(n);
                         for (int j = 0; j < n; ++j) slot_ids[j] = pages[j / T] * T + j % T;
                         auto k = randn(rng, n * kv * hd), v = randn(rng, n * kv * hd);
                         auto inv = twin::rope_inv_freq(10000.0f, hd);
                         auto pool = poisoned<uint8_t>(pb * 8);
                         auto dk = to_device(k), dv = to_device(v), ds = to_device(slot_ids),
                              dpg = to_device(pages), dpp = to_device(ppos), dinv = to_device(inv);
                         CHECK_OK(cuda::kv_append_f16(dk.as<float>(), dv.as<float>(), ds.as<int32_t>(), n, kv,
                                                      hd, T, pb, pool.as<uint8_t>(), nullptr));
                         auto ko = poisoned<uint16_t>(n * kv * hd), vo = poisoned<uint16_t>(n * kv * hd);
                         CHECK_OK(cuda::kv_gather_f16(pool.as<uint8_t>(), pb, T, dpg.as<int32_t>(),
                                                      dpp.as<int32_t>(), n, kv, hd, dinv.as<float>(),
                                                      ko.as<__half>(), vo.as<__half>(), nullptr));
                         // Twin: f16-rounded pre-RoPE K rotated at each token's position; V rounded.
                         auto kr = from_f16(to_f16(k)), vr = from_f16(to_f16(v));
                         std::vector<int32_t> pos(n);
                         for (int j = 0; j < n; ++j) pos[j] = ppos[j / T] + j % T;
                         std::vector<float> kref(kr.size());
                         twin::rope(kr.data(), pos.data(), n, kv, hd, inv.data(), kref.data());
                         kref.insert(kref.end(), vr.begin(), vr.end());
                         auto got = from_f16(to_host<uint16_t>(ko, k.size()));
                         auto gv = from_f16(to_host<uint16_t>(vo, v.size()));
                         got.insert(got.end(), gv.begin(), gv.end());
                         return rel_err(got, kref);
                     }});
}

const std::vector<Case>& all_cases() {
    static const std::vector<Case> cases = [] {
        std::vector<Case> c;
        add_weight_cases(c);
        add_gemv_xq_config_cases(c);
        add_elementwise_cases(c);
        add_attention_cases(c);
        add_decode_cases(c);
        return c;
    }();
    return cases;
}

}  // namespace

class TestCudaOps : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        const auto info = cuda::query_devices();
        if (info.count == 0) QSKIP(qPrintable(QString::fromStdString("no usable GPU: " + info.error)));
        qInfo("GPU: %s (sm_%d%d)", info.name.c_str(), info.sm_major, info.sm_minor);
        seed_ = std::random_device{}();
        if (const char* e = std::getenv("DOCKET_TEST_SEED")) seed_ = std::strtoull(e, nullptr, 10);
        qInfo("seed %llu (DOCKET_TEST_SEED reproduces a run)", static_cast<unsigned long long>(seed_));
    }

    void op_matches_cpu_twin_data() {
        QTest::addColumn<int>("index");
        const auto& cases = all_cases();
        for (size_t i = 0; i < cases.size(); ++i) QTest::newRow(cases[i].name.c_str()) << static_cast<int>(i);
    }
    void op_matches_cpu_twin() {
        QFETCH(int, index);
        const Case& c = all_cases()[index];
        std::mt19937_64 rng(seed_ + index * 7919);
        std::string why;
        const double err = c.run(rng, why);
        const cudaError_t late = cudaDeviceSynchronize();
        QVERIFY2(late == cudaSuccess, cudaGetErrorString(late));
        qInfo("%-70s ||out-ref||/||ref|| = %.3e (bound %.0e)", c.name.c_str(), err, c.bound);
        QVERIFY2(why.empty() || err <= c.bound, why.c_str());
        QVERIFY2(err <= c.bound,
                 qPrintable(QString("%1: error %2 over bound %3").arg(c.name.c_str()).arg(err).arg(c.bound)));
    }

    // Copies on the context's copy streams must run while the compute stream works (the tier manager relies
    // on it).
    void copy_streams_overlap_compute() {
        auto ctx_r = cuda::CudaContext::create(0);
        QVERIFY2(ctx_r.is_ok(), ctx_r.status().to_string().c_str());
        auto& ctx = **ctx_r;
        const size_t bytes = size_t{512} << 20;
        auto host = cuda::PinnedBuffer::alloc(bytes);
        auto dev = cuda::DeviceBuffer::alloc(bytes, "copy target");
        QVERIFY(host.is_ok() && dev.is_ok());
        std::memset(host->get(), 1, bytes);
        const int64_t n = 8192;
        auto a = cuda::DeviceBuffer::alloc(n * n * 2, "a"), b = cuda::DeviceBuffer::alloc(n * n * 2, "b"),
             c = cuda::DeviceBuffer::alloc(n * n * 4, "c");
        QVERIFY(a.is_ok() && b.is_ok() && c.is_ok());
        cudaMemset(a->get(), 0x3c, n * n * 2);
        cudaMemset(b->get(), 0x3c, n * n * 2);
        auto e0 = cuda::Event::create(true), e1 = cuda::Event::create(true), e2 = cuda::Event::create(true),
             copied = cuda::Event::create(false);
        QVERIFY(e0.is_ok() && e1.is_ok() && e2.is_ok() && copied.is_ok());
        auto gemms = [&](int reps) {
            for (int i = 0; i < reps; ++i)
                QVERIFY(cuda::gemm_bf16(ctx.cublas(), a->as<__nv_bfloat16>(), b->as<__nv_bfloat16>(),
                                        c->as<float>(), n, n, n, ctx.compute())
                            .is_ok());
        };
        gemms(1);
        QVERIFY(ctx.sync_compute().is_ok());
        auto wall = [](auto&& f) {
            const auto t0 = std::chrono::steady_clock::now();
            f();
            return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        };
        const double t_copy = wall([&] {
            QVERIFY(ctx.upload_async(dev->get(), host->get(), bytes, &*copied).is_ok());
            QVERIFY(copied->sync().is_ok());
        });
        const double t_gemm = wall([&] {
            gemms(4);
            QVERIFY(ctx.sync_compute().is_ok());
        });
        const double t_both = wall([&] {
            QVERIFY(ctx.upload_async(dev->get(), host->get(), bytes, &*copied).is_ok());
            gemms(4);
            QVERIFY(copied->wait_on(ctx.compute()).is_ok());
            QVERIFY(ctx.sync_compute().is_ok());
        });
        qInfo("512 MiB upload %.2f ms (%.1f GB/s), 4 GEMMs %.2f ms, both on separate streams %.2f ms", t_copy,
              bytes / t_copy / 1e6, t_gemm, t_both);
        QVERIFY2(t_both < 0.85 * (t_copy + t_gemm), "copy did not overlap compute");
    }

private:
    uint64_t seed_ = 0;
};

QTEST_GUILESS_MAIN(TestCudaOps)
#include "test_cuda_ops.moc"

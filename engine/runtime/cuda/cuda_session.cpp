#include "runtime/cuda/cuda_session.h"

#if DOCKET_HAVE_CUDA
#include <algorithm>
#include <numeric>

#include "runtime/cpu_attention.h"
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/kv_cache.h"
#include "util/thread_pool.h"
#endif

namespace docket {

#if DOCKET_HAVE_CUDA
namespace {

// What the sessions of one factory share: the device context, the model that owns the uploaded weights,
// and the host side of the attention-mass probe (the CPU's RoPE table and threads).
struct CudaShared {
    CudaShared(const Model& m, int threads)
        : rope(cpu::make_rope_table(m.config(), m.rope_freq_factors())), pool(threads) {}
    std::unique_ptr<cuda::CudaContext> ctx;
    std::unique_ptr<cuda::CudaModel> weights;  // declared after ctx: released before it
    cpu::RopeTable rope;
    ThreadPool pool;
    std::string description;
};

// The CUDA pages place row i at position i (page_pos = page * 64): runs and imports at other positions are
// refused, not approximated.
Status check_contiguous(int32_t first_row, std::span<const int32_t> positions, const char* what) {
    for (size_t i = 0; i < positions.size(); ++i)
        if (positions[i] != first_row + static_cast<int32_t>(i))
            return make_error(
                ErrorCode::unsupported,
                "{}: the CUDA session holds row {} at position {} only, not {}; arbitrary positions "
                "(selective recompute) need --backend cpu",
                what, first_row + i, first_row + i, positions[i]);
    return Status::ok();
}

// Attention mass on the GPU's own numbers, computed on the host: the answer's pre-RoPE queries are copied
// back per step (a few KB), the mass layers' K rows are exported once each into a host KvCache, and the
// CPU's RoPE and softmax (CpuAttention, the code the CPU forward pass runs) weigh every row. About
// n_head * rows * head_dim * layers = 9 * 1.3k * 64 * 15 ~ 11 MFLOP per answer token for SmolLM2, far below a
// decode step; a kernel would be a second implementation of the same softmax to keep in step with the CPU's.
class MassMirror {
public:
    MassMirror(const ModelConfig& c, CudaShared& sh) : c_(c), sh_(sh), attention_(c, sh.rope) {}
    // Adds to mass the attention of n new tokens at positions [first, first + n) whose pre-RoPE queries of
    // layers[i] are q[i], for the layers in `mass_layers`.
    Status add(const cuda::CudaModel& m, const std::vector<int32_t>& layers,
               std::vector<std::vector<float>>& q, const ForwardProbe& probe, int32_t first, int32_t n,
               std::vector<double>& mass);
    void truncate(int32_t n) {
        if (cache_) cache_->truncate(n);
    }

private:
    Status sync(const cuda::CudaModel& m, const std::vector<int32_t>& mass_layers);

    const ModelConfig& c_;
    CudaShared& sh_;
    CpuAttention attention_;
    std::vector<int32_t> layers_;     // model layer of mirror layer i
    std::unique_ptr<KvCache> cache_;  // rows [0, size) of those layers, as the GPU holds them
};

Status MassMirror::sync(const cuda::CudaModel& m, const std::vector<int32_t>& mass_layers) {
    if (!cache_ || layers_ != mass_layers) {
        layers_ = mass_layers;
        DK_ASSIGN_OR_RETURN(cache_, KvCache::create(static_cast<int32_t>(layers_.size()), c_.n_head_kv,
                                                    c_.head_dim, m.capacity()));
    }
    const int32_t from = cache_->size(), n = m.n_past() - from;
    if (n <= 0) return Status::ok();
    std::vector<int32_t> pos(n);
    std::iota(pos.begin(), pos.end(), from);
    DK_TRY(cache_->append(pos).status());
    std::vector<float> k(static_cast<size_t>(n) * c_.n_kv_dim()), v(k.size());
    for (size_t i = 0; i < layers_.size(); ++i) {
        DK_TRY(m.read_rows(layers_[i], from, n, k.data(), v.data()));
        DK_TRY(cache_->write(static_cast<int32_t>(i), from, n, k.data(), v.data()));
    }
    return Status::ok();
}

Status MassMirror::add(const cuda::CudaModel& m, const std::vector<int32_t>& layers,
                       std::vector<std::vector<float>>& q, const ForwardProbe& probe, int32_t first,
                       int32_t n, std::vector<double>& mass) {
    DK_TRY(sync(m, probe.mass_layers));
    std::vector<int32_t> pos(n);
    std::iota(pos.begin(), pos.end(), first);
    std::vector<float> cs(sh_.rope.n_rot);
    for (size_t i = 0; i < layers.size(); ++i) {
        const auto it = std::find(layers_.begin(), layers_.end(), layers[i]);
        if (it == layers_.end()) continue;
        const int32_t j = static_cast<int32_t>(it - layers_.begin());
        for (int32_t t = 0; t < n; ++t) {
            cpu::rope_cos_sin(sh_.rope, pos[t], cs.data());
            cpu::rope_apply(sh_.rope, cs.data(), q[i].data() + static_cast<size_t>(t) * c_.n_q_dim(),
                            c_.n_head);
        }
        attention_.rotate_keys(sh_.pool, *cache_, j);
        attention_.attend(sh_.pool, *cache_, j, q[i].data(), pos.data(), n, nullptr, &mass);
    }
    return Status::ok();
}

class CudaSession final : public Session {
public:
    CudaSession(std::shared_ptr<CudaShared> sh, std::unique_ptr<cuda::CudaModel> m)
        : sh_(std::move(sh)), m_(std::move(m)), pos_(m_->capacity()), mirror_(m_->config(), *sh_) {
        std::iota(pos_.begin(), pos_.end(), 0);
    }
    Backend backend() const override { return Backend::cuda; }
    const ModelConfig& config() const override { return m_->config(); }
    int32_t size() const override { return m_->n_past(); }
    int32_t capacity() const override { return m_->capacity(); }
    std::span<const int32_t> positions() const override { return {pos_.data(), static_cast<size_t>(size())}; }
    Status eval(std::span<const TokenId> tokens, std::span<const int32_t> positions, LogitsMode mode,
                std::vector<float>* logits, const CancelFlag* cancel) override;
    void truncate(int32_t n) override {
        m_->truncate(n);
        mirror_.truncate(n);
    }
    Status set_positions(int32_t first, std::span<const int32_t> positions) override {
        if (first < 0 || first + static_cast<int64_t>(positions.size()) > size())
            return make_error(ErrorCode::invalid_argument, "set_positions: rows [{}, {}) out of [0, {})", first,
                              first + static_cast<int64_t>(positions.size()), size());
        return check_contiguous(first, positions, "set_positions");
    }
    Result<int32_t> append_rows(std::span<const int32_t> positions) override {
        const int32_t first = size();
        DK_TRY(check_contiguous(first, positions, "import"));
        DK_TRY(m_->extend(static_cast<int32_t>(positions.size())));
        return first;
    }
    Status write_rows(int32_t l, int32_t first, int32_t n, const float* k, const float* v) override {
        mirror_.truncate(first);  // rows from `first` on change
        return m_->write_rows(l, first, n, k, v);
    }
    Status read_rows(int32_t l, int32_t first, int32_t n, float* k, float* v) const override {
        return m_->read_rows(l, first, n, k, v);
    }
    void set_probe(ForwardProbe* probe) override { probe_ = probe; }

private:
    Status run(std::span<const TokenId> tokens, LogitsMode mode, std::vector<float>* logits,
               const CancelFlag* cancel);
    std::vector<int32_t> observed_layers() const;
    Status observe(int32_t first, const std::vector<int32_t>& layers, std::vector<std::vector<float>>& q);

    std::shared_ptr<CudaShared> sh_;
    std::unique_ptr<cuda::CudaModel> m_;  // declared after sh_: released before the context
    std::vector<int32_t> pos_;            // [capacity] = 0, 1, ... (row i sits at position i)
    ForwardProbe* probe_ = nullptr;
    MassMirror mirror_;
};

// Single tokens go through the decode path (fused GEMVs, CUDA graph); longer runs through chunked prefill.
Status CudaSession::run(std::span<const TokenId> tokens, LogitsMode mode, std::vector<float>* logits,
                        const CancelFlag* cancel) {
    std::vector<float>* out = mode == LogitsMode::none ? nullptr : logits;
    if (tokens.size() > 1) return m_->prefill(tokens, mode == LogitsMode::all, out, cancel);
    if (cancel_requested(cancel)) return cancelled_error("eval", 0, 1);
    int32_t next = 0;
    return m_->decode(tokens[0], out, &next);
}

std::vector<int32_t> CudaSession::observed_layers() const {
    std::vector<int32_t> layers;
    if (!probe_) return layers;
    layers = probe_->query_layers;
    for (int32_t l : probe_->mass_layers)
        if (std::find(layers.begin(), layers.end(), l) == layers.end()) layers.push_back(l);
    return layers;
}

Status CudaSession::observe(int32_t first, const std::vector<int32_t>& layers,
                            std::vector<std::vector<float>>& q) {
    if (!probe_ || layers.empty()) return Status::ok();
    const int32_t n = size() - first;
    for (size_t i = 0; i < layers.size(); ++i) probe_->capture(layers[i], q[i].data(), n, config().n_q_dim());
    if (probe_->mass_layers.empty()) return Status::ok();
    return mirror_.add(*m_, layers, q, *probe_, first, n, probe_->mass);
}

Status CudaSession::eval(std::span<const TokenId> tokens, std::span<const int32_t> positions, LogitsMode mode,
                         std::vector<float>* logits, const CancelFlag* cancel) {
    if (tokens.size() != positions.size())
        return make_error(ErrorCode::invalid_argument, "eval: {} tokens but {} positions", tokens.size(),
                          positions.size());
    if (mode != LogitsMode::none && !logits)
        return make_error(ErrorCode::invalid_argument, "eval: logits requested without an output vector");
    DK_TRY(check_contiguous(size(), positions, "eval"));
    if (probe_ && probe_->stop_after_layer >= 0)
        return Status(
            ErrorCode::unsupported,
            "eval: the CUDA session runs every layer (stopping early is selective recompute's check; "
            "it needs --backend cpu)");
    if (logits) logits->clear();
    if (tokens.empty()) return Status::ok();
    const int32_t size0 = size();
    const std::vector<int32_t> layers = observed_layers();
    std::vector<std::vector<float>> q;
    DK_TRY(m_->capture_queries(layers, &q));
    Status s = run(tokens, mode, logits, cancel);
    const Status off = m_->capture_queries({}, nullptr);
    if (s) s = off;
    if (s) s = observe(size0, layers, q);
    if (!s) truncate(size0);
    return s;
}

class CudaFactory final : public SessionFactory {
public:
    explicit CudaFactory(std::shared_ptr<CudaShared> sh) : sh_(std::move(sh)) {}
    Backend backend() const override { return Backend::cuda; }
    const std::string& description() const override { return sh_->description; }
    Result<std::unique_ptr<Session>> open(int32_t capacity) override {
        cuda::CudaModelOptions o;
        o.capacity = capacity;
        o.max_chunk = std::min<int32_t>(512, std::max(capacity, 1));
        DK_ASSIGN_OR_RETURN(auto m, cuda::CudaModel::create_sharing(*sh_->weights, o));
        return std::unique_ptr<Session>(new CudaSession(sh_, std::move(m)));
    }

private:
    std::shared_ptr<CudaShared> sh_;
};

}  // namespace

Result<std::shared_ptr<SessionFactory>> open_cuda_backend(const Model& model, const std::string& detail,
                                                          int threads) {
    auto sh = std::make_shared<CudaShared>(model, threads);
    DK_ASSIGN_OR_RETURN(sh->ctx, cuda::CudaContext::create(0));
    // The weights' owner: every session shares its upload; its own cache is one page (it never runs).
    cuda::CudaModelOptions o;
    o.capacity = kv_page::kTokens;
    o.max_chunk = kv_page::kTokens;
    DK_ASSIGN_OR_RETURN(sh->weights, cuda::CudaModel::create(model, *sh->ctx, o));
    sh->description = "CUDA, " + detail;
    return std::shared_ptr<SessionFactory>(new CudaFactory(std::move(sh)));
}
#else
Result<std::shared_ptr<SessionFactory>> open_cuda_backend(const Model&, const std::string&, int) {
    return Status(ErrorCode::no_device,
                  "this build of Docket has no CUDA backend (nvcc was not found at build time)");
}
#endif

}  // namespace docket

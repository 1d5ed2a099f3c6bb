#pragma once
// The CPU session: a KvCache and the CpuForward pass (shared by every session of one factory, so its thread
// pool and scratch are made once). Any positions; every probe.
#include <memory>

#include "runtime/forward.h"
#include "runtime/kv_cache.h"
#include "runtime/session.h"

namespace docket {

class CpuSession final : public Session {
public:
    // Owns its cache, shares the forward pass.
    CpuSession(std::shared_ptr<CpuForward> forward, std::unique_ptr<KvCache> cache);
    // Borrows both (a caller that made its own forward pass and cache); they must outlive the session.
    CpuSession(CpuForward& forward, KvCache& cache);

    Backend backend() const override { return Backend::cpu; }
    const ModelConfig& config() const override { return forward_.model().config(); }
    int32_t size() const override { return cache_.size(); }
    int32_t capacity() const override { return cache_.capacity(); }
    std::span<const int32_t> positions() const override;
    Status eval(std::span<const TokenId> tokens, std::span<const int32_t> positions, LogitsMode mode,
                std::vector<float>* logits, const CancelFlag* cancel = nullptr) override;
    using Session::eval;
    void truncate(int32_t n) override { cache_.truncate(n); }
    Status set_positions(int32_t first, std::span<const int32_t> positions) override;
    Result<int32_t> append_rows(std::span<const int32_t> positions) override;
    Status write_rows(int32_t l, int32_t first, int32_t n, const float* k, const float* v) override;
    Status read_rows(int32_t l, int32_t first, int32_t n, float* k, float* v) const override;
    void set_probe(ForwardProbe* probe) override { probe_ = probe; }

private:
    std::shared_ptr<CpuForward> owned_forward_;
    std::unique_ptr<KvCache> owned_cache_;
    CpuForward& forward_;
    KvCache& cache_;
    ForwardProbe* probe_ = nullptr;
};

// The CPU factory; `note` says why the CPU runs (select_backend's detail), for description().
std::shared_ptr<SessionFactory> make_cpu_backend(const Model& model, int threads, const std::string& note);

}  // namespace docket

#include "runtime/cpu_session.h"

namespace docket {
namespace {

class CpuFactory final : public SessionFactory {
public:
    CpuFactory(const Model& model, int threads, const std::string& note)
        : forward_(std::make_shared<CpuForward>(model, threads)),
          description_(fmt::format("{}, {} threads", note, forward_->pool().size())) {}
    Backend backend() const override { return Backend::cpu; }
    const std::string& description() const override { return description_; }
    Result<std::unique_ptr<Session>> open(int32_t capacity) override {
        DK_ASSIGN_OR_RETURN(auto cache, KvCache::create(forward_->model().config(), capacity));
        return std::unique_ptr<Session>(new CpuSession(forward_, std::move(cache)));
    }

private:
    std::shared_ptr<CpuForward> forward_;
    std::string description_;
};

}  // namespace

CpuSession::CpuSession(std::shared_ptr<CpuForward> forward, std::unique_ptr<KvCache> cache)
    : owned_forward_(std::move(forward)),
      owned_cache_(std::move(cache)),
      forward_(*owned_forward_),
      cache_(*owned_cache_) {}

CpuSession::CpuSession(CpuForward& forward, KvCache& cache) : forward_(forward), cache_(cache) {}

std::span<const int32_t> CpuSession::positions() const {
    return {cache_.positions(), static_cast<size_t>(cache_.size())};
}

Status CpuSession::eval(std::span<const TokenId> tokens, std::span<const int32_t> positions, LogitsMode mode,
                        std::vector<float>* logits, const CancelFlag* cancel) {
    // The forward pass is shared between sessions: the probe is this session's, for this call only.
    forward_.set_probe(probe_);
    Status s = forward_.eval(cache_, tokens, positions, mode, logits, cancel);
    forward_.set_probe(nullptr);
    return s;
}

Status CpuSession::set_positions(int32_t first, std::span<const int32_t> positions) {
    return cache_.set_positions(first, positions);
}

Result<int32_t> CpuSession::append_rows(std::span<const int32_t> positions) {
    return cache_.append(positions);
}

Status CpuSession::write_rows(int32_t l, int32_t first, int32_t n, const float* k, const float* v) {
    return cache_.write(l, first, n, k, v);
}

Status CpuSession::read_rows(int32_t l, int32_t first, int32_t n, float* k, float* v) const {
    return cache_.read(l, first, n, k, v);
}

std::shared_ptr<SessionFactory> make_cpu_backend(const Model& model, int threads, const std::string& note) {
    return std::make_shared<CpuFactory>(model, threads, note);
}

}  // namespace docket

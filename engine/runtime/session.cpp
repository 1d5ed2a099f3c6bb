#include "runtime/session.h"

#include <numeric>

#include "runtime/cpu_session.h"
#include "runtime/cuda/cuda_session.h"
#include "util/log.h"

namespace docket {
namespace {

std::vector<int32_t> following(const Session& s, size_t n) {
    std::vector<int32_t> pos(n);
    std::iota(pos.begin(), pos.end(), s.next_position());
    return pos;
}

}  // namespace

int32_t Session::next_position() const {
    const auto pos = positions();
    return pos.empty() ? 0 : pos.back() + 1;
}

Status Session::eval(std::span<const TokenId> tokens, LogitsMode mode, std::vector<float>* logits,
                     const CancelFlag* cancel) {
    const std::vector<int32_t> pos = following(*this, tokens.size());
    return eval(tokens, pos, mode, logits, cancel);
}

Result<KvRows> export_rows(const Session& s, int32_t first, int32_t n) {
    const int32_t layers = s.config().n_layer;
    const size_t len = static_cast<size_t>(std::max(n, 0)) * s.config().n_kv_dim();
    KvRows rows;
    rows.n = n;
    rows.k.assign(layers, std::vector<float>(len));
    rows.v.assign(layers, std::vector<float>(len));
    for (int32_t l = 0; l < layers; ++l) DK_TRY(s.read_rows(l, first, n, rows.k[l].data(), rows.v[l].data()));
    return rows;
}

Result<int32_t> import_rows(Session& s, std::span<const int32_t> positions, const KvRows& rows) {
    const int32_t layers = s.config().n_layer;
    const size_t len = static_cast<size_t>(rows.n) * s.config().n_kv_dim();
    if (positions.size() != static_cast<size_t>(rows.n) || rows.k.size() != static_cast<size_t>(layers) ||
        rows.v.size() != static_cast<size_t>(layers))
        return make_error(ErrorCode::invalid_argument,
                          "import: {} rows of {} layers for {} positions, {} layers", rows.n, rows.k.size(),
                          positions.size(), layers);
    for (int32_t l = 0; l < layers; ++l)
        if (rows.k[l].size() < len || rows.v[l].size() < len)
            return make_error(ErrorCode::invalid_argument, "import: layer {} holds fewer than {} rows", l,
                              rows.n);
    const int32_t size0 = s.size();
    DK_ASSIGN_OR_RETURN(const int32_t first, s.append_rows(positions));
    for (int32_t l = 0; l < layers; ++l) {
        const Status st = s.write_rows(l, first, rows.n, rows.k[l].data(), rows.v[l].data());
        if (!st) {
            s.truncate(size0);
            return st;
        }
    }
    return first;
}

Result<int32_t> import_rows(Session& s, const KvRows& rows) {
    const std::vector<int32_t> pos = following(s, static_cast<size_t>(std::max(rows.n, 0)));
    return import_rows(s, pos, rows);
}

Result<std::shared_ptr<SessionFactory>> open_backend(const Model& model, std::string_view backend,
                                                     int threads) {
    DK_ASSIGN_OR_RETURN(const BackendChoice choice, select_backend(backend));
    std::string note = choice.detail;
    if (choice.backend == Backend::cuda) {
        auto gpu = open_cuda_backend(model, choice.detail, threads);
        if (gpu) return std::move(*gpu);
        if (backend == "cuda") return gpu.status();
        note = "CPU (the CUDA backend cannot run this model: " + gpu.status().message() + ")";
        DK_LOG_WARN("backend: {}", note);
    }
    return make_cpu_backend(model, threads, note);
}

Result<std::unique_ptr<Session>> open_session(const Model& model, std::string_view backend, int32_t capacity,
                                              int threads, std::string* description) {
    DK_ASSIGN_OR_RETURN(auto factory, open_backend(model, backend, threads));
    if (description) *description = factory->description();
    return factory->open(capacity);
}

}  // namespace docket

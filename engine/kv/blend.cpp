#include "kv/blend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace docket::kv {
namespace {

// A row at this position is seen by no query: how a stale row is hidden while its token is run again.
constexpr int32_t kMasked = std::numeric_limits<int32_t>::max();

struct ContextRows {
    std::vector<int32_t> row, pos;
    std::vector<TokenId> tok;
};

ContextRows context_rows(const KvCache& cache, const std::vector<Placement>& placed) {
    ContextRows r;
    for (const Placement& p : placed)
        for (int32_t i = 0; i < p.n; ++i) {
            r.row.push_back(p.first + i);
            r.pos.push_back(cache.positions()[p.first + i]);
            r.tok.push_back(p.tokens[i]);
        }
    return r;
}

// Runs the tokens of rows `sel` again at their own positions, their stored rows hidden meanwhile; the fresh
// rows are appended at the cache's end (the caller reads, then truncates them). stop_after_layer as
// ForwardProbe's.
Status run_masked(Workspace& ws, KvCache& cache, const ContextRows& r, const std::vector<size_t>& sel,
                  int32_t stop_after_layer, const std::atomic<bool>* cancel) {
    std::vector<TokenId> tok;
    std::vector<int32_t> pos;
    for (size_t i : sel) {
        tok.push_back(r.tok[i]);
        pos.push_back(r.pos[i]);
        DK_TRY(cache.set_positions(r.row[i], std::span<const int32_t>(&kMasked, 1)));
    }
    ForwardProbe probe;
    probe.stop_after_layer = stop_after_layer;
    ws.forward().set_probe(stop_after_layer >= 0 ? &probe : nullptr);
    Status s = ws.prefill(cache, tok, pos, LogitsMode::none, nullptr, cancel);
    ws.forward().set_probe(nullptr);
    for (size_t i : sel) DK_TRY(cache.set_positions(r.row[i], std::span<const int32_t>(&r.pos[i], 1)));
    return s;
}

// Squared distance between each context row's stored KV and the fresh one at `layer` (rows appended at from).
std::vector<double> deviation(const KvCache& cache, const ContextRows& r, int32_t layer, int32_t from) {
    const size_t rs = static_cast<size_t>(cache.row_size());
    std::vector<double> d(r.row.size(), 0.0);
    for (size_t i = 0; i < r.row.size(); ++i) {
        const float* ks = cache.k(layer) + r.row[i] * rs;
        const float* vs = cache.v(layer) + r.row[i] * rs;
        const float* kf = cache.k(layer) + (from + i) * rs;
        const float* vf = cache.v(layer) + (from + i) * rs;
        for (size_t j = 0; j < rs; ++j)
            d[i] += (ks[j] - kf[j]) * (ks[j] - kf[j]) + (vs[j] - vf[j]) * (vs[j] - vf[j]);
    }
    return d;
}

}  // namespace

Result<BlendStats> selective_recompute(Workspace& ws, KvCache& cache, const std::vector<Placement>& placed,
                                       const BlendOptions& opt, const std::atomic<bool>* cancel) {
    const ContextRows r = context_rows(cache, placed);
    BlendStats st;
    st.context_tokens = static_cast<int32_t>(r.row.size());
    if (opt.fraction <= 0.0 || r.row.empty()) return st;
    if (opt.fraction > 1.0) return make_error(ErrorCode::invalid_argument, "recompute fraction {} > 1", opt.fraction);
    const int32_t size0 = cache.size(), n = st.context_tokens;
    if (size0 + n > cache.capacity())
        return make_error(ErrorCode::internal, "selective recompute: no room for the check rows");
    const int32_t check = std::clamp(opt.check_layer, 0, ws.config().n_layer - 1);

    std::vector<size_t> all(r.row.size());
    std::iota(all.begin(), all.end(), 0);
    Status s = run_masked(ws, cache, r, all, check, cancel);
    std::vector<double> dev;
    if (s) dev = deviation(cache, r, check, size0);
    cache.truncate(size0);
    DK_TRY(s);

    const size_t k = std::min<size_t>(all.size(), static_cast<size_t>(std::ceil(opt.fraction * n)));
    std::partial_sort(all.begin(), all.begin() + k, all.end(), [&](size_t a, size_t b) { return dev[a] > dev[b]; });
    std::vector<size_t> sel(all.begin(), all.begin() + k);
    std::sort(sel.begin(), sel.end());  // in position order, so each sees the fresh rows before it
    s = run_masked(ws, cache, r, sel, -1, cancel);
    const size_t rs = static_cast<size_t>(cache.row_size());
    for (int32_t l = 0; s && l < cache.n_layer(); ++l)
        for (size_t j = 0; j < sel.size() && s; ++j)
            s = cache.write(l, r.row[sel[j]], 1, cache.k(l) + (size0 + j) * rs, cache.v(l) + (size0 + j) * rs);
    cache.truncate(size0);
    DK_TRY(s);
    st.recomputed_tokens = static_cast<int32_t>(k);
    return st;
}

}  // namespace docket::kv

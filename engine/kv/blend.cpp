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

ContextRows context_rows(const Session& s, const std::vector<Placement>& placed) {
    ContextRows r;
    const auto positions = s.positions();
    for (const Placement& p : placed)
        for (int32_t i = 0; i < p.n; ++i) {
            r.row.push_back(p.first + i);
            r.pos.push_back(positions[p.first + i]);
            r.tok.push_back(p.tokens[i]);
        }
    return r;
}

// Runs the tokens of rows `sel` again at their own positions, their stored rows hidden meanwhile; the fresh
// rows are appended at the cache's end (the caller reads, then truncates them). stop_after_layer as
// ForwardProbe's.
Status run_masked(Workspace& ws, Session& s, const ContextRows& r, const std::vector<size_t>& sel,
                  int32_t stop_after_layer, const std::atomic<bool>* cancel) {
    std::vector<TokenId> tok;
    std::vector<int32_t> pos;
    Status st;
    for (size_t j = 0; j < sel.size() && st; ++j) {
        tok.push_back(r.tok[sel[j]]);
        pos.push_back(r.pos[sel[j]]);
        st = s.set_positions(r.row[sel[j]], std::span<const int32_t>(&kMasked, 1));
    }
    ForwardProbe probe;
    probe.stop_after_layer = stop_after_layer;
    s.set_probe(stop_after_layer >= 0 ? &probe : nullptr);
    if (st) st = ws.prefill(s, tok, pos, LogitsMode::none, nullptr, cancel);
    s.set_probe(nullptr);
    for (size_t i : sel) DK_TRY(s.set_positions(r.row[i], std::span<const int32_t>(&r.pos[i], 1)));
    return st;
}

// Squared distance between each context row's stored KV and the fresh one at `layer` (rows appended at from).
Result<std::vector<double>> deviation(const Session& s, const ContextRows& r, int32_t layer, int32_t from) {
    const size_t rs = static_cast<size_t>(s.config().n_kv_dim());
    std::vector<float> k(static_cast<size_t>(s.size()) * rs), v(k.size());
    DK_TRY(s.read_rows(layer, 0, s.size(), k.data(), v.data()));
    std::vector<double> d(r.row.size(), 0.0);
    for (size_t i = 0; i < r.row.size(); ++i) {
        const float* ks = k.data() + r.row[i] * rs;
        const float* vs = v.data() + r.row[i] * rs;
        const float* kf = k.data() + (from + i) * rs;
        const float* vf = v.data() + (from + i) * rs;
        for (size_t j = 0; j < rs; ++j)
            d[i] += (ks[j] - kf[j]) * (ks[j] - kf[j]) + (vs[j] - vf[j]) * (vs[j] - vf[j]);
    }
    return d;
}

// Writes the fresh rows (appended at `from`, in `sel` order) over the stored rows they recomputed.
Status replace_rows(Session& s, const ContextRows& r, const std::vector<size_t>& sel, int32_t from) {
    const size_t rs = static_cast<size_t>(s.config().n_kv_dim());
    const int32_t n = static_cast<int32_t>(sel.size());
    std::vector<float> k(static_cast<size_t>(n) * rs), v(k.size());
    for (int32_t l = 0; l < s.config().n_layer; ++l) {
        DK_TRY(s.read_rows(l, from, n, k.data(), v.data()));
        for (int32_t j = 0; j < n; ++j) DK_TRY(s.write_rows(l, r.row[sel[j]], 1, k.data() + j * rs, v.data() + j * rs));
    }
    return Status::ok();
}

}  // namespace

Result<BlendStats> selective_recompute(Workspace& ws, Session& s, const std::vector<Placement>& placed,
                                       const BlendOptions& opt, const std::atomic<bool>* cancel) {
    const ContextRows r = context_rows(s, placed);
    BlendStats st;
    st.context_tokens = static_cast<int32_t>(r.row.size());
    if (opt.fraction <= 0.0 || r.row.empty()) return st;
    if (opt.fraction > 1.0) return make_error(ErrorCode::invalid_argument, "recompute fraction {} > 1", opt.fraction);
    const int32_t size0 = s.size(), n = st.context_tokens;
    if (size0 + n > s.capacity())
        return make_error(ErrorCode::internal, "selective recompute: no room for the check rows");
    const int32_t check = std::clamp(opt.check_layer, 0, ws.config().n_layer - 1);

    std::vector<size_t> all(r.row.size());
    std::iota(all.begin(), all.end(), 0);
    Status run = run_masked(ws, s, r, all, check, cancel);
    Result<std::vector<double>> dev = run ? deviation(s, r, check, size0) : Result<std::vector<double>>(run);
    s.truncate(size0);
    DK_TRY(dev.status());

    const size_t k = std::min<size_t>(all.size(), static_cast<size_t>(std::ceil(opt.fraction * n)));
    std::partial_sort(all.begin(), all.begin() + k, all.end(), [&](size_t a, size_t b) { return (*dev)[a] > (*dev)[b]; });
    std::vector<size_t> sel(all.begin(), all.begin() + k);
    std::sort(sel.begin(), sel.end());  // in position order, so each sees the fresh rows before it
    run = run_masked(ws, s, r, sel, -1, cancel);
    if (run) run = replace_rows(s, r, sel, size0);
    s.truncate(size0);
    DK_TRY(run);
    st.recomputed_tokens = static_cast<int32_t>(k);
    return st;
}

}  // namespace docket::kv

#include "kv/workspace.h"

#include <numeric>

#include "kv/routing_keys.h"
#include "util/log.h"

namespace docket::kv {
namespace {

using telemetry::Counters;

store::KvShape shape_of(const ModelConfig& c) {
    return {c.n_layer, c.n_head_kv, c.head_dim};
}

// Copies rows [from, from + n) of `src` to the end of `dst` at the positions following dst's last one.
Status append_rows(KvCache& dst, const KvCache& src, int32_t from, int32_t n) {
    const int32_t next = dst.size() == 0 ? 0 : dst.positions()[dst.size() - 1] + 1;
    std::vector<int32_t> pos(n);
    std::iota(pos.begin(), pos.end(), next);
    DK_ASSIGN_OR_RETURN(const int32_t first, dst.append(pos));
    const size_t rs = static_cast<size_t>(src.row_size());
    for (int32_t l = 0; l < src.n_layer(); ++l)
        DK_TRY(dst.write(l, first, n, src.k(l) + from * rs, src.v(l) + from * rs));
    return Status::ok();
}

}  // namespace

Workspace::Workspace(const Model& model, const Tokenizer& tok, store::Store& store, const Hash128& model_fp,
                     Counters& counters, const WorkspaceOptions& opt, PromptFrame frame)
    : model_(model),
      tok_(tok),
      store_(store),
      model_fp_(model_fp),
      counters_(counters),
      opt_(opt),
      frame_(std::move(frame)),
      forward_(model, opt.threads) {}

Result<std::unique_ptr<Workspace>> Workspace::create(const Model& model, const Tokenizer& tok,
                                                     store::Store& store, const Hash128& model_fp,
                                                     Counters& counters, const WorkspaceOptions& opt) {
    DK_ASSIGN_OR_RETURN(PromptFrame frame, PromptFrame::create(tok, model.gguf()));
    std::unique_ptr<Workspace> w(new Workspace(model, tok, store, model_fp, counters, opt, std::move(frame)));
    const auto& prefix = w->frame_.prefix();
    DK_ASSIGN_OR_RETURN(w->prefix_kv_, KvCache::create(model.config(), static_cast<int32_t>(prefix.size())));
    DK_TRY(w->prefill(*w->prefix_kv_, prefix, LogitsMode::none, nullptr, nullptr));
    DK_ASSIGN_OR_RETURN(w->reader_, store.reader());
    return w;
}

int32_t Workspace::n_ctx() const {
    return model_.config().n_ctx_train > 0 ? model_.config().n_ctx_train : 4096;
}

store::SnapshotKey Workspace::key_for(const std::vector<TokenId>& segment_tokens) const {
    return key_for_content(PromptFrame::hash_tokens(segment_tokens));
}

store::SnapshotKey Workspace::key_for_content(const Hash128& content) const {
    store::SnapshotKey key;
    key.model = model_fp_;
    key.codec = kv_page::default_codec_params(opt_.codec, model_.config().head_dim);
    key.prefix = frame_.prefix_hash();
    key.content = content;
    return key;
}

Result<std::unique_ptr<KvCache>> Workspace::cache_with_prefix(int32_t capacity) const {
    const int32_t p = prefix_kv_->size();
    DK_ASSIGN_OR_RETURN(auto cache, KvCache::create(model_.config(), std::max(capacity, p)));
    DK_TRY(append_rows(*cache, *prefix_kv_, 0, p));
    return cache;
}

Status Workspace::prefill(KvCache& cache, const std::vector<TokenId>& tokens, LogitsMode mode,
                          std::vector<float>* logits, const std::atomic<bool>* cancel) {
    const int32_t next = cache.size() == 0 ? 0 : cache.positions()[cache.size() - 1] + 1;
    std::vector<int32_t> pos(tokens.size());
    std::iota(pos.begin(), pos.end(), next);
    return prefill(cache, tokens, pos, mode, logits, cancel);
}

Status Workspace::prefill(KvCache& cache, const std::vector<TokenId>& tokens, std::span<const int32_t> positions,
                          LogitsMode mode, std::vector<float>* logits, const std::atomic<bool>* cancel) {
    if (positions.size() != tokens.size())
        return make_error(ErrorCode::invalid_argument, "prefill: {} tokens, {} positions", tokens.size(), positions.size());
    // The forward pass checks `cancel` before each ubatch chunk and leaves the cache as it was on any error.
    DK_TRY(forward_.eval(cache, tokens, positions, mode, logits, cancel));
    Counters::add(counters_.tokens_prefilled, tokens.size());
    return Status::ok();
}

Status Workspace::store_rows(const store::SnapshotKey& key, const KvCache& cache, int32_t first, int32_t n,
                             int64_t segment_id) {
    const size_t rs = static_cast<size_t>(cache.row_size());
    auto kv = [&](int l) { return store::LayerKv{cache.k(l) + first * rs, cache.v(l) + first * rs}; };
    // Routing keys first: a ready snapshot then always has them (a crash between the two leaves routing keys
    // without a snapshot, which the next ingest overwrites).
    DK_TRY(store_.put_routing(key.model, key.prefix, key.content,
                              encode_routing(model_.config(), cache, first, n)));
    return store_.put(key, shape_of(model_.config()), n, kv, segment_id).status();
}

Status Workspace::ingest_segment(const store::SegmentRow& seg, const std::vector<TokenId>& tokens,
                                 std::unique_ptr<KvCache>& scratch, const std::atomic<bool>* cancel) {
    const int32_t p = prefix_kv_->size(), n = static_cast<int32_t>(tokens.size());
    if (!scratch || scratch->capacity() < p + n) {
        DK_ASSIGN_OR_RETURN(scratch, cache_with_prefix(p + n));
    }
    scratch->truncate(p);
    DK_TRY(prefill(*scratch, tokens, LogitsMode::none, nullptr, cancel));
    DK_TRY(store_rows(key_for(tokens), *scratch, p, n, seg.id));
    Counters::add(counters_.segments_prefilled);
    return Status::ok();
}

Status Workspace::recompute(KvCache& cache, const SegmentRef& seg, const std::vector<TokenId>& tokens,
                            const std::atomic<bool>* cancel) {
    std::unique_ptr<KvCache> scratch;
    DK_TRY(ingest_segment(seg.row, tokens, scratch, cancel));
    Counters::add(counters_.segments_recomputed);
    return append_rows(cache, *scratch, prefix_kv_->size(), static_cast<int32_t>(tokens.size()));
}

Result<Placement> Workspace::place(KvCache& cache, const SegmentRef& seg, const std::atomic<bool>* cancel) {
    const std::vector<TokenId> tokens = frame_.segment_tokens(seg.title, seg.row.ordinal, seg.row.text);
    const store::SnapshotKey key = key_for(tokens);
    Placement pl;
    pl.first = cache.size();
    pl.n = static_cast<int32_t>(tokens.size());
    pl.tokens = tokens;
    if (cache.size() + pl.n > cache.capacity())
        return make_error(ErrorCode::invalid_argument, "composed context is full ({} + {} tokens > {})",
                          cache.size(), pl.n, cache.capacity());
    DK_ASSIGN_OR_RETURN(auto found, reader_->find(key));
    std::string why = "no snapshot for this model and codec";
    if (found && found->n_tokens == pl.n) {
        auto kv = reader_->read_kv(*found);
        if (kv) {
            const int32_t next = cache.size() == 0 ? 0 : cache.positions()[cache.size() - 1] + 1;
            std::vector<int32_t> pos(pl.n);
            std::iota(pos.begin(), pos.end(), next);
            DK_ASSIGN_OR_RETURN(const int32_t first, cache.append(pos));
            for (int32_t l = 0; l < cache.n_layer(); ++l)
                DK_TRY(cache.write(l, first, pl.n, kv->k[l].data(), kv->v[l].data()));
            store_.note_used(found->id);
            Counters::add(counters_.snapshots_loaded);
            Counters::add(counters_.snapshot_bytes_loaded, found->bytes);
            Counters::add(counters_.tokens_composed, pl.n);
            return pl;
        }
        if (kv.status().code() == ErrorCode::cancelled) return kv.status();
        why = kv.status().message();
    } else if (found) {
        why = fmt::format("snapshot holds {} tokens, the segment {}", found->n_tokens, pl.n);
    }
    DK_LOG_WARN("recomputing segment {} of {}: {}", seg.row.ordinal + 1, seg.document, why);
    DK_TRY(recompute(cache, seg, tokens, cancel));
    pl.recomputed = true;
    return pl;
}

}  // namespace docket::kv

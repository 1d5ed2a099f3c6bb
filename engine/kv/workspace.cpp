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

}  // namespace

Workspace::Workspace(const Model& model, const Tokenizer& tok, std::shared_ptr<SessionFactory> backend,
                     store::Store& store, const Hash128& model_fp, Counters& counters, const WorkspaceOptions& opt,
                     PromptFrame frame)
    : model_(model),
      tok_(tok),
      store_(store),
      model_fp_(model_fp),
      counters_(counters),
      opt_(opt),
      frame_(std::move(frame)),
      backend_(std::move(backend)) {}

Result<std::unique_ptr<Workspace>> Workspace::create(const Model& model, const Tokenizer& tok,
                                                     std::shared_ptr<SessionFactory> backend,
                                                     store::Store& store, const Hash128& model_fp,
                                                     Counters& counters, const WorkspaceOptions& opt) {
    if (!backend) return Status(ErrorCode::invalid_argument, "workspace: no runtime backend");
    DK_ASSIGN_OR_RETURN(PromptFrame frame, PromptFrame::create(tok, model.gguf()));
    std::unique_ptr<Workspace> w(
        new Workspace(model, tok, std::move(backend), store, model_fp, counters, opt, std::move(frame)));
    const auto& prefix = w->frame_.prefix();
    const int32_t p = static_cast<int32_t>(prefix.size());
    DK_ASSIGN_OR_RETURN(auto s, w->backend_->open(p));
    DK_TRY(w->prefill(*s, prefix, LogitsMode::none, nullptr, nullptr));
    DK_ASSIGN_OR_RETURN(w->prefix_kv_, export_rows(*s, 0, p));
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

Result<std::unique_ptr<Session>> Workspace::session_with_prefix(int32_t capacity) const {
    DK_ASSIGN_OR_RETURN(auto s, backend_->open(std::max(capacity, prefix_kv_.n)));
    DK_TRY(import_rows(*s, prefix_kv_).status());
    return s;
}

Status Workspace::prefill(Session& s, const std::vector<TokenId>& tokens, LogitsMode mode,
                          std::vector<float>* logits, const std::atomic<bool>* cancel) {
    std::vector<int32_t> pos(tokens.size());
    std::iota(pos.begin(), pos.end(), s.next_position());
    return prefill(s, tokens, pos, mode, logits, cancel);
}

Status Workspace::prefill(Session& s, const std::vector<TokenId>& tokens, std::span<const int32_t> positions,
                          LogitsMode mode, std::vector<float>* logits, const std::atomic<bool>* cancel) {
    if (positions.size() != tokens.size())
        return make_error(ErrorCode::invalid_argument, "prefill: {} tokens, {} positions", tokens.size(), positions.size());
    // The session checks `cancel` before each chunk and leaves its rows as they were on any error.
    DK_TRY(s.eval(tokens, positions, mode, logits, cancel));
    Counters::add(counters_.tokens_prefilled, tokens.size());
    return Status::ok();
}

Status Workspace::store_rows(const store::SnapshotKey& key, const Session& s, int32_t first, int32_t n,
                             int64_t segment_id) {
    DK_ASSIGN_OR_RETURN(const KvRows rows, export_rows(s, first, n));
    auto kv = [&](int l) { return store::LayerKv{rows.k[l].data(), rows.v[l].data()}; };
    // Routing keys first: a ready snapshot then always has them (a crash between the two leaves routing keys
    // without a snapshot, which the next ingest overwrites).
    DK_TRY(store_.put_routing(key.model, key.prefix, key.content, encode_routing(model_.config(), rows)));
    return store_.put(key, shape_of(model_.config()), n, kv, segment_id).status();
}

Status Workspace::ingest_segment(const store::SegmentRow& seg, const std::vector<TokenId>& tokens,
                                 std::unique_ptr<Session>& scratch, const std::atomic<bool>* cancel) {
    const int32_t p = prefix_kv_.n, n = static_cast<int32_t>(tokens.size());
    if (!scratch || scratch->capacity() < p + n) {
        DK_ASSIGN_OR_RETURN(scratch, session_with_prefix(p + n));
    }
    scratch->truncate(p);
    DK_TRY(prefill(*scratch, tokens, LogitsMode::none, nullptr, cancel));
    DK_TRY(store_rows(key_for(tokens), *scratch, p, n, seg.id));
    Counters::add(counters_.segments_prefilled);
    return Status::ok();
}

Status Workspace::recompute(Session& s, const SegmentRef& seg, const std::vector<TokenId>& tokens,
                            const std::atomic<bool>* cancel) {
    std::unique_ptr<Session> scratch;
    DK_TRY(ingest_segment(seg.row, tokens, scratch, cancel));
    Counters::add(counters_.segments_recomputed);
    DK_ASSIGN_OR_RETURN(const KvRows rows, export_rows(*scratch, prefix_kv_.n, static_cast<int32_t>(tokens.size())));
    return import_rows(s, rows).status();
}

Result<Placement> Workspace::place(Session& s, const SegmentRef& seg, const std::atomic<bool>* cancel) {
    const std::vector<TokenId> tokens = frame_.segment_tokens(seg.title, seg.row.ordinal, seg.row.text);
    const store::SnapshotKey key = key_for(tokens);
    Placement pl;
    pl.first = s.size();
    pl.n = static_cast<int32_t>(tokens.size());
    pl.tokens = tokens;
    if (s.size() + pl.n > s.capacity())
        return make_error(ErrorCode::invalid_argument, "composed context is full ({} + {} tokens > {})",
                          s.size(), pl.n, s.capacity());
    DK_ASSIGN_OR_RETURN(auto found, reader_->find(key));
    std::string why = "no snapshot for this model and codec";
    if (found && found->n_tokens == pl.n) {
        auto kv = reader_->read_kv(*found);
        if (kv) {
            DK_TRY(import_rows(s, KvRows{pl.n, std::move(kv->k), std::move(kv->v)}).status());
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
    DK_TRY(recompute(s, seg, tokens, cancel));
    pl.recomputed = true;
    return pl;
}

}  // namespace docket::kv

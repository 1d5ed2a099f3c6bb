#pragma once
// What ingest and asking share on the compute thread: the model, its tokenizer, the runtime backend that
// opens sessions (runtime/session.h: CPU or CUDA, picked once; nothing here knows which), the prompt frame
// with its prefix KV (prefilled once, kept as host rows), and the store. It prefills a segment after the prefix (ingest, or
// recompute when a snapshot is missing or bad), stores it as a snapshot, and places stored segments into a
// composed context at any offset (pre-RoPE keys: RoPE is applied at attention time for the new positions).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "kv/prompt_frame.h"
#include "runtime/session.h"
#include "store/store.h"
#include "telemetry/counters.h"

namespace docket::kv {

struct WorkspaceOptions {
    store::Codec codec = store::Codec::int8;
};

// One segment to place: its catalog row and its document's title (part of the prefilled header).
struct SegmentRef {
    store::SegmentRow row;
    std::string title;
    std::string document;  // path, for messages
};

// Where a placed segment sits in the composed cache, and how it got there.
struct Placement {
    int32_t first = 0, n = 0;  // cache rows [first, first + n)
    bool recomputed = false;   // the snapshot was missing, from another model, or failed its checksum
    std::vector<TokenId> tokens;  // the segment's tokens as prefilled
};

class Workspace {
public:
    // backend: the factory every session of ingest and asking comes from (runtime/session.h open_backend).
    static Result<std::unique_ptr<Workspace>> create(const Model& model, const Tokenizer& tok,
                                                     std::shared_ptr<SessionFactory> backend,
                                                     store::Store& store, const Hash128& model_fp,
                                                     telemetry::Counters& counters, const WorkspaceOptions& opt);

    const Model& model() const { return model_; }
    const ModelConfig& config() const { return model_.config(); }
    const Tokenizer& tokenizer() const { return tok_; }
    const PromptFrame& frame() const { return frame_; }
    SessionFactory& backend() { return *backend_; }
    store::Store& store() { return store_; }
    telemetry::Counters& counters() { return counters_; }
    const Hash128& model_fingerprint() const { return model_fp_; }
    store::Codec codec() const { return opt_.codec; }
    int32_t n_ctx() const;  // the model's training context

    store::SnapshotKey key_for(const std::vector<TokenId>& segment_tokens) const;
    store::SnapshotKey key_for_content(const Hash128& content) const;
    int32_t prefix_tokens() const { return prefix_kv_.n; }
    // A session holding the prefix, with room for `capacity` tokens in all.
    Result<std::unique_ptr<Session>> session_with_prefix(int32_t capacity) const;
    // Runs `tokens` at the session's next positions, checking `cancel` before every chunk (cancelled: the
    // session is truncated back). mode/logits as Session::eval.
    Status prefill(Session& s, const std::vector<TokenId>& tokens, LogitsMode mode, std::vector<float>* logits,
                   const std::atomic<bool>* cancel);
    // Same at explicit positions (one per token).
    Status prefill(Session& s, const std::vector<TokenId>& tokens, std::span<const int32_t> positions,
                   LogitsMode mode, std::vector<float>* logits, const std::atomic<bool>* cancel);
    // Prefills a segment alone after the prefix and stores its snapshot and routing keys. `scratch` is
    // reused between calls; on return its rows [prefix, prefix + n) hold the segment.
    Status ingest_segment(const store::SegmentRow& seg, const std::vector<TokenId>& tokens,
                          std::unique_ptr<Session>& scratch, const std::atomic<bool>* cancel);
    // Appends one segment at the session's next positions from its snapshot; a missing or bad snapshot is
    // recomputed from the segment's text (logged, counted, stored again) so the answer still comes.
    Result<Placement> place(Session& s, const SegmentRef& seg, const std::atomic<bool>* cancel);

private:
    Workspace(const Model& model, const Tokenizer& tok, std::shared_ptr<SessionFactory> backend,
              store::Store& store, const Hash128& model_fp, telemetry::Counters& counters,
              const WorkspaceOptions& opt, PromptFrame frame);
    Status recompute(Session& s, const SegmentRef& seg, const std::vector<TokenId>& tokens,
                     const std::atomic<bool>* cancel);
    Status store_rows(const store::SnapshotKey& key, const Session& s, int32_t first, int32_t n,
                      int64_t segment_id);

    const Model& model_;
    const Tokenizer& tok_;
    store::Store& store_;
    Hash128 model_fp_;
    telemetry::Counters& counters_;
    WorkspaceOptions opt_;
    PromptFrame frame_;
    std::shared_ptr<SessionFactory> backend_;
    KvRows prefix_kv_;  // the prefix's rows (positions 0..n-1), exported once after its prefill
    std::unique_ptr<store::StoreReader> reader_;
};

}  // namespace docket::kv

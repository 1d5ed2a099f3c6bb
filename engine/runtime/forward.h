#pragma once
// The CPU forward pass: tokens at explicit positions in, next-token logits out, KV appended to a KvCache.
// Prompts are processed in chunks of `ubatch` tokens (each weight row is read once per chunk); decode is the
// same path with one token. Activations stay f32 end to end.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/tokenizer.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/ops.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "util/cancel.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace docket {

enum class LogitsMode {
    none,  // only fill the KV cache (prefill of a snapshot)
    last,  // logits of the last token of the call: [1, n_vocab]
    all,   // logits of every token: [n_tokens, n_vocab]
};

// What a caller may observe of a forward pass (the query room: the question's queries for KV routing, the
// attention mass the answer puts on each cached token for citations). Costs nothing when not set.
struct ForwardProbe {
    // Pre-RoPE queries of these layers: queries[i] gains [n_tokens, n_q_dim] rows per eval, in token order.
    std::vector<int32_t> query_layers;
    std::vector<std::vector<float>> queries;
    // Attention probabilities of these layers, summed over query heads and evaluated tokens, per cache row:
    // mass[j] (grown to the cache size) gains sum_{layer, head, token} p(token, head -> row j).
    std::vector<int32_t> mass_layers;
    std::vector<double> mass;
    // >= 0: run only layers [0, stop_after_layer] (no logits); the appended rows' KV of later layers is left
    // undefined, for a caller that inspects early-layer KV and truncates (selective recompute's check).
    int32_t stop_after_layer = -1;
    bool wants_mass(int32_t layer) const;
    int query_slot(int32_t layer) const;  // index into queries, or -1
};

class CpuForward {
public:
    // n_threads <= 0: all hardware threads. ubatch: tokens per chunk.
    CpuForward(const Model& model, int n_threads = 0, int ubatch = 128);

    const Model& model() const { return model_; }
    ThreadPool& pool() { return pool_; }
    int ubatch() const { return ubatch_; }
    // Observes the following evals (nullptr: none). The probe must outlive them.
    void set_probe(ForwardProbe* probe) { probe_ = probe; }

    // Runs `tokens` (appended to `cache` at `positions`, one each) through the model. Each token attends to
    // every cached token whose position is <= its own (the new ones included). `logits` receives the rows
    // `mode` asks for, row-major [rows, n_vocab]. On error the cache is truncated back to its size on entry.
    // `cancel` is read before every chunk of `ubatch` tokens: once set, eval stops with ErrorCode::cancelled
    // (a long prefill stops within one chunk). An allocation failure is ErrorCode::out_of_memory.
    Status eval(KvCache& cache, std::span<const TokenId> tokens, std::span<const int32_t> positions,
                LogitsMode mode, std::vector<float>* logits, const CancelFlag* cancel = nullptr);
    // Same with positions cache-last-position+1 ... (or 0 for an empty cache), i.e. contiguous continuation.
    Status eval(KvCache& cache, std::span<const TokenId> tokens, LogitsMode mode, std::vector<float>* logits,
                const CancelFlag* cancel = nullptr);

private:
    Status eval_chunk(KvCache& cache, const TokenId* tokens, const int32_t* positions, int32_t n,
                      bool want_logits, bool all_rows, float* logits_out);
    Status rotate_keys(KvCache& cache, int32_t l);
    void capture_queries(int32_t l, const float* q, int32_t n);
    void add_mass(const std::vector<float>& per_thread, int32_t n_keys);

    ForwardProbe* probe_ = nullptr;
    std::vector<float> mass_ws_;  // per thread [n_keys] attention mass of the current layer

    const Model& model_;
    ThreadPool pool_;
    int ubatch_;
    cpu::RopeTable rope_;
    cpu::MatmulScratch mm_scratch_;
    // Query rows per attention task (query heads of one kv group, stacked over tokens).
    static constexpr int64_t kAttnRows = 16;
    // Chunk activations: x, xn [ub, n_embd]; q, attn [ub, n_q_dim]; gate, up [ub, n_ff].
    std::vector<float> x_, xn_, q_, attn_, gate_, up_, tmp_;
    // Per-thread attention workspace: query rows, output rows, scores [kAttnRows, n_keys]; and the query
    // rows' positions [kAttnRows] per thread, in their own int32 buffer (not punned into the float one).
    std::vector<float> attn_ws_;
    size_t attn_ws_stride_ = 0;
    std::vector<int32_t> attn_pos_;
    std::vector<float> cs_;  // [ub, n_rot] cos/sin of each chunk position
};

}  // namespace docket

#pragma once
// What a caller asks of a forward pass besides the KV it appends: which logits, and what it may observe of
// the pass (a runtime session's observation hooks). Shared by the CPU forward pass and every runtime session.
#include <cstdint>
#include <vector>

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
    // Appends n rows [n, n_q_dim] of layer l's pre-RoPE queries when the probe captures that layer.
    void capture(int32_t layer, const float* q, int32_t n, int32_t n_q_dim);
};

}  // namespace docket

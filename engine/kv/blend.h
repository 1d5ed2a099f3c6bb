#pragma once
// Selective recompute in the style of CacheBlend (Yao et al., 2024): segments composed from snapshots lack
// attention across segments. The context tokens whose KV deviates most from a full prefill at an early layer
// are found by running the context through layers [0, check_layer] once, and only those r% of tokens are
// recomputed through every layer, attending to the composed cache; their fresh KV replaces the stored one.
#include <atomic>
#include <vector>

#include "kv/workspace.h"

namespace docket::kv {

struct BlendOptions {
    double fraction = 0.0;    // r: share of context tokens recomputed (0 = off)
    int32_t check_layer = 1;  // layer whose KV deviation picks the tokens (layer 0's KV has no context)
};

struct BlendStats {
    int32_t context_tokens = 0, recomputed_tokens = 0;
};

// placed: the composed segments (rows and tokens) of `s`, which must have room for as many rows again as the
// context holds (the check runs on appended rows, then truncates). It re-runs tokens at their own positions
// while their stored rows are hidden (moved out of every query's sight): a session that holds rows only at
// contiguous positions (the CUDA one) refuses with ErrorCode::unsupported, and nothing changes.
Result<BlendStats> selective_recompute(Workspace& ws, Session& s, const std::vector<Placement>& placed,
                                       const BlendOptions& opt, const std::atomic<bool>* cancel);

}  // namespace docket::kv

#pragma once
// The generation loop: prefill a prompt, then sample and feed back one token at a time until an
// end-of-generation token, the token limit, a full context, a cancel request, or the callback says stop.
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/forward.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace docket {

enum class StopReason { eog, max_tokens, context_full, cancelled, callback };
const char* stop_reason_name(StopReason r);

struct GenerateParams {
    int32_t max_tokens = 256;
    SamplerParams sampling;
    // Checked before every decode step and every prefill chunk (util/cancel.h): a request stops the loop
    // with StopReason::cancelled, also in the middle of a long prompt.
    const CancelFlag* cancel = nullptr;
};

struct GenerateStats {
    int32_t prompt_tokens = 0;
    int32_t generated = 0;  // tokens sampled (the EOG token, if any, included)
    double prompt_seconds = 0.0;
    double generate_seconds = 0.0;
    StopReason stop = StopReason::max_tokens;
    std::vector<TokenId> tokens;  // the sampled tokens
};

// The prompt continues whatever `cache` already holds (positions follow the cache's last position).
// is_eog: true for tokens that end generation (the token is reported to on_token, then the loop stops).
// on_token: called from the calling thread for every sampled token; return false to stop.
// What the loop needs from a backend (CPU forward pass or the CUDA session).
struct GenerationSteps {
    // The prompt; last position's logits. ErrorCode::cancelled when params.cancel stopped it.
    std::function<Status(std::vector<float>* logits)> prefill;
    std::function<Status(TokenId id, std::vector<float>* logits)> decode;  // one token; its logits
    std::function<bool()> has_room;  // the context can take another token
};

// The backend-independent loop: validates, prefills, then samples / reports / feeds back until a stop reason.
Result<GenerateStats> run_generation(std::span<const TokenId> prompt, const GenerateParams& params,
                                     const GenerationSteps& steps, const std::function<bool(TokenId)>& is_eog,
                                     const std::function<bool(TokenId)>& on_token);

// The loop over a runtime session (any backend); the prompt continues the session's rows.
Result<GenerateStats> generate(Session& session, std::span<const TokenId> prompt, const GenerateParams& params,
                               const std::function<bool(TokenId)>& is_eog,
                               const std::function<bool(TokenId)>& on_token);
// The same over a CPU forward pass and a cache the caller made (a CPU session borrowing both).
Result<GenerateStats> generate(CpuForward& forward, KvCache& cache, std::span<const TokenId> prompt,
                               const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                               const std::function<bool(TokenId)>& on_token);

}  // namespace docket

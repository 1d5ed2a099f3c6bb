#pragma once
// Next-token sampling: greedy, or temperature with top-k / top-p / min-p filters, plus a repetition penalty
// over the last N tokens. Deterministic for a given seed (own PRNG and float math, no <random>
// distributions).
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "model/tokenizer.h"
#include "util/status.h"

namespace docket {

struct SamplerParams {
    float temperature = 0.0f;     // 0 (or less): greedy argmax; filters are then ignored
    int32_t top_k = 40;           // keep the k most likely; <= 0 keeps all
    float top_p = 0.95f;          // keep the smallest set whose probability reaches p; >= 1 disables
    float min_p = 0.05f;          // drop tokens below min_p * p(max); <= 0 disables
    float repeat_penalty = 1.0f;  // > 1 discourages the last `repeat_last_n` tokens (llama.cpp's rule)
    int32_t repeat_last_n = 64;
    uint64_t seed = 0x5eed;
};

// invalid_argument naming the field when a parameter is unusable: temperature not finite or < 0,
// repeat_penalty not finite or <= 0, top_p or min_p not finite. generate() checks this before sampling.
Status validate_sampler_params(const SamplerParams& p);

// KL(p || q) of the softmax distributions of two logit vectors of the same length (composition fidelity,
// GPU-vs-CPU checks): 0 when they are equal.
double kl_divergence(const std::vector<float>& p_logits, const std::vector<float>& q_logits);

class Sampler {
public:
    explicit Sampler(SamplerParams params);

    // Picks the next token from logits [n_vocab]. Does not record it (call accept()). NaN logits count as
    // -inf (never picked while any other token is finite); +inf ones as the largest float.
    TokenId sample(std::span<const float> logits);
    // Records a token for the repetition penalty (prompt tokens too).
    void accept(TokenId id);
    void reset();

    const SamplerParams& params() const { return params_; }

    // The candidate set after penalties and filters, for tests: (id, probability) sorted by probability,
    // probabilities renormalized. Greedy returns the argmax alone with probability 1.
    std::vector<std::pair<TokenId, float>> candidates(std::span<const float> logits) const;

private:
    double next_uniform();  // [0, 1)

    SamplerParams params_;
    std::deque<TokenId> recent_;
    uint64_t state_ = 0;
};

}  // namespace docket

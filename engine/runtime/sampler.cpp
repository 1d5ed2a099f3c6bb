#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace docket {

Status validate_sampler_params(const SamplerParams& p) {
    if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
        return make_error(ErrorCode::invalid_argument, "sampler: temperature {} must be finite and >= 0",
                          p.temperature);
    if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0.0f)
        return make_error(ErrorCode::invalid_argument, "sampler: repeat_penalty {} must be finite and > 0",
                          p.repeat_penalty);
    if (!std::isfinite(p.top_p) || !std::isfinite(p.min_p))
        return make_error(ErrorCode::invalid_argument, "sampler: top_p {} and min_p {} must be finite",
                          p.top_p, p.min_p);
    return Status::ok();
}

Sampler::Sampler(SamplerParams params) : params_(params) {
    reset();
}

void Sampler::reset() {
    recent_.clear();
    state_ = params_.seed;
}

void Sampler::accept(TokenId id) {
    if (params_.repeat_last_n <= 0) return;
    recent_.push_back(id);
    while (static_cast<int32_t>(recent_.size()) > params_.repeat_last_n) recent_.pop_front();
}

double Sampler::next_uniform() {
    // splitmix64: tiny, well mixed, identical on every platform.
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

std::vector<std::pair<TokenId, float>> Sampler::candidates(std::span<const float> logits) const {
    const int32_t n = static_cast<int32_t>(logits.size());
    std::vector<std::pair<TokenId, float>> c;  // (id, logit) then (id, prob)
    if (n == 0) return c;
    c.reserve(n);
    for (int32_t i = 0; i < n; ++i) c.emplace_back(i, logits[i]);

    // Repetition penalty (llama.cpp): positive logits are divided, negative ones multiplied.
    if (params_.repeat_penalty != 1.0f && !recent_.empty()) {
        std::unordered_set<TokenId> seen(recent_.begin(), recent_.end());
        for (TokenId id : seen) {
            if (id < 0 || id >= n) continue;
            float& l = c[id].second;
            l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
        }
    }
    // The comparators below need a strict weak order, which NaN breaks (undefined behaviour in std::sort);
    // and +inf would make the softmax's (l - max) NaN. A broken forward pass then degrades to a valid choice.
    for (auto& e : c) {
        if (std::isnan(e.second))
            e.second = -std::numeric_limits<float>::infinity();
        else if (e.second == std::numeric_limits<float>::infinity())
            e.second = std::numeric_limits<float>::max();
    }
    auto by_logit = [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    };
    // Non-finite temperatures are rejected by validate_sampler_params; here they fall back to greedy.
    if (!(params_.temperature > 0.0f) || !std::isfinite(params_.temperature)) {
        auto best = std::min_element(c.begin(), c.end(), by_logit);
        return {{best->first, 1.0f}};
    }
    if (params_.top_k > 0 && params_.top_k < n) {
        std::partial_sort(c.begin(), c.begin() + params_.top_k, c.end(), by_logit);
        c.resize(params_.top_k);
    } else {
        std::sort(c.begin(), c.end(), by_logit);
    }
    // Softmax at the temperature (sorted, so c[0] is the max). All -inf (every logit was NaN): the first id.
    const double mx = c[0].second;
    if (std::isinf(mx)) return {{c[0].first, 1.0f}};
    double sum = 0.0;
    std::vector<double> p(c.size());
    for (size_t i = 0; i < c.size(); ++i) {
        p[i] = std::exp((c[i].second - mx) / params_.temperature);
        sum += p[i];
    }
    for (auto& x : p) x /= sum;
    size_t keep = c.size();
    if (params_.top_p < 1.0f) {
        double cum = 0.0;
        for (size_t i = 0; i < keep; ++i) {
            cum += p[i];
            if (cum >= params_.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    if (params_.min_p > 0.0f) {
        const double floor = params_.min_p * p[0];
        size_t k = 1;
        while (k < keep && p[k] >= floor) ++k;
        keep = k;
    }
    c.resize(keep);
    double kept = 0.0;
    for (size_t i = 0; i < keep; ++i) kept += p[i];
    for (size_t i = 0; i < keep; ++i) c[i].second = static_cast<float>(p[i] / kept);
    return c;
}

TokenId Sampler::sample(std::span<const float> logits) {
    auto c = candidates(logits);
    if (c.empty()) return -1;
    if (c.size() == 1) return c[0].first;
    const double u = next_uniform();
    double cum = 0.0;
    for (const auto& [id, prob] : c) {
        cum += prob;
        if (u < cum) return id;
    }
    return c.back().first;
}

double kl_divergence(const std::vector<float>& p_logits, const std::vector<float>& q_logits) {
    auto log_softmax = [](const std::vector<float>& x) {
        double mx = -INFINITY, sum = 0.0;
        for (float v : x) mx = std::max(mx, static_cast<double>(v));
        for (float v : x) sum += std::exp(v - mx);
        std::vector<double> out(x.size());
        for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] - mx - std::log(sum);
        return out;
    };
    const auto lp = log_softmax(p_logits), lq = log_softmax(q_logits);
    double kl = 0.0;
    for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
    return kl;
}

}  // namespace docket

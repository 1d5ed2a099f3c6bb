#include "runtime/generate.h"

#include <chrono>

#include "runtime/cpu_session.h"

namespace docket {

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::eog:
            return "eog";
        case StopReason::max_tokens:
            return "max_tokens";
        case StopReason::context_full:
            return "context_full";
        case StopReason::cancelled:
            return "cancelled";
        case StopReason::callback:
            return "callback";
    }
    return "?";
}

Result<GenerateStats> run_generation(std::span<const TokenId> prompt, const GenerateParams& params,
                                     const GenerationSteps& steps, const std::function<bool(TokenId)>& is_eog,
                                     const std::function<bool(TokenId)>& on_token) {
    using clock = std::chrono::steady_clock;
    GenerateStats st;
    st.prompt_tokens = static_cast<int32_t>(prompt.size());
    if (prompt.empty()) return make_error(ErrorCode::invalid_argument, "generate: empty prompt");
    DK_TRY(validate_sampler_params(params.sampling));
    auto cancelled = [&] { return cancel_requested(params.cancel); };
    if (cancelled()) {
        st.stop = StopReason::cancelled;
        return st;
    }
    Sampler sampler(params.sampling);
    for (TokenId t : prompt) sampler.accept(t);

    std::vector<float> logits;
    auto t0 = clock::now();
    const Status prefilled = steps.prefill(&logits);
    auto t1 = clock::now();
    st.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
    if (prefilled.code() == ErrorCode::cancelled) {
        st.stop = StopReason::cancelled;
        return st;
    }
    DK_TRY(prefilled);

    st.stop = StopReason::max_tokens;
    for (int32_t i = 0; i < params.max_tokens; ++i) {
        if (cancelled()) {
            st.stop = StopReason::cancelled;
            break;
        }
        const TokenId id = sampler.sample(logits);
        sampler.accept(id);
        st.tokens.push_back(id);
        ++st.generated;
        const bool keep_going = !on_token || on_token(id);
        if (is_eog && is_eog(id)) {
            st.stop = StopReason::eog;
            break;
        }
        if (!keep_going) {
            st.stop = StopReason::callback;
            break;
        }
        if (i + 1 == params.max_tokens) break;
        if (!steps.has_room()) {
            st.stop = StopReason::context_full;
            break;
        }
        DK_TRY(steps.decode(id, &logits));
    }
    st.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return st;
}

Result<GenerateStats> generate(Session& session, std::span<const TokenId> prompt,
                               const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                               const std::function<bool(TokenId)>& on_token) {
    if (session.size() + static_cast<int64_t>(prompt.size()) > session.capacity())
        return make_error(ErrorCode::invalid_argument,
                          "generate: prompt of {} tokens does not fit the context ({} of {} used)",
                          prompt.size(), session.size(), session.capacity());
    GenerationSteps steps;
    steps.prefill = [&](std::vector<float>* logits) {
        return session.eval(prompt, LogitsMode::last, logits, params.cancel);
    };
    steps.decode = [&](TokenId id, std::vector<float>* logits) {
        return session.eval(std::span<const TokenId>(&id, 1), LogitsMode::last, logits);
    };
    steps.has_room = [&] { return session.size() < session.capacity(); };
    return run_generation(prompt, params, steps, is_eog, on_token);
}

Result<GenerateStats> generate(CpuForward& forward, KvCache& cache, std::span<const TokenId> prompt,
                               const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                               const std::function<bool(TokenId)>& on_token) {
    CpuSession session(forward, cache);
    return generate(session, prompt, params, is_eog, on_token);
}

}  // namespace docket

#include "runtime/cuda/gpu_session.h"

#include <chrono>

#if DOCKET_HAVE_CUDA
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/sampler.h"
#endif

namespace docket {

#if DOCKET_HAVE_CUDA
class GpuSession {
public:
    std::unique_ptr<cuda::CudaContext> ctx;
    std::unique_ptr<cuda::CudaModel> model;
};

void GpuSessionDeleter::operator()(GpuSession* s) const {
    if (!s) return;
    s->model.reset();  // device buffers before the context
    delete s;
}

Result<GpuSessionPtr> open_gpu_session(const Model& model, int32_t capacity) {
    if (capacity <= 0) return make_error(ErrorCode::invalid_argument, "GPU session: capacity {}", capacity);
    GpuSessionPtr s(new GpuSession());
    DK_ASSIGN_OR_RETURN(s->ctx, cuda::CudaContext::create(0));
    cuda::CudaModelOptions o;
    o.capacity = capacity;
    o.max_chunk = std::min<int32_t>(512, capacity);
    DK_ASSIGN_OR_RETURN(s->model, cuda::CudaModel::create(model, *s->ctx, o));
    return s;
}

Status gpu_last_logits(GpuSession& s, std::span<const TokenId> prompt, std::vector<float>* logits) {
    s.model->reset();
    return s.model->prefill(std::vector<int32_t>(prompt.begin(), prompt.end()), false, logits);
}

Result<GenerateStats> gpu_generate(GpuSession& s, std::span<const TokenId> prompt,
                                   const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                                   const std::function<bool(TokenId)>& on_token) {
    DK_TRY(validate_sampler_params(params.sampling));
    using clock = std::chrono::steady_clock;
    GenerateStats st;
    st.prompt_tokens = static_cast<int32_t>(prompt.size());
    if (prompt.empty()) return make_error(ErrorCode::invalid_argument, "generate: empty prompt");
    auto cancelled = [&] { return params.cancel && params.cancel->load(std::memory_order_relaxed); };
    if (cancelled()) {
        st.stop = StopReason::cancelled;
        return st;
    }
    Sampler sampler(params.sampling);
    for (TokenId t : prompt) sampler.accept(t);
    std::vector<float> logits;
    const auto t0 = clock::now();
    DK_TRY(gpu_last_logits(s, prompt, &logits));
    const auto t1 = clock::now();
    st.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
    const int32_t capacity = s.model->capacity();
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
        if (s.model->n_past() >= capacity) {
            st.stop = StopReason::context_full;
            break;
        }
        int32_t next = 0;
        DK_TRY(s.model->decode(id, &logits, &next));
    }
    st.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return st;
}
#else
class GpuSession {};
void GpuSessionDeleter::operator()(GpuSession* s) const {
    delete s;
}
Result<GpuSessionPtr> open_gpu_session(const Model&, int32_t) {
    return Status(ErrorCode::no_device,
                  "this build of Docket has no CUDA backend (nvcc was not found at build time)");
}
Status gpu_last_logits(GpuSession&, std::span<const TokenId>, std::vector<float>*) {
    return Status(ErrorCode::no_device, "this build of Docket has no CUDA backend");
}
Result<GenerateStats> gpu_generate(GpuSession&, std::span<const TokenId>, const GenerateParams&,
                                   const std::function<bool(TokenId)>&, const std::function<bool(TokenId)>&) {
    return Status(ErrorCode::no_device, "this build of Docket has no CUDA backend");
}
#endif

}  // namespace docket

#include "runtime/cuda/gpu_session.h"


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

Status gpu_last_logits(GpuSession& s, std::span<const TokenId> prompt, std::vector<float>* logits,
                       const CancelFlag* cancel) {
    s.model->reset();
    return s.model->prefill(std::vector<int32_t>(prompt.begin(), prompt.end()), false, logits, cancel);
}

Result<GenerateStats> gpu_generate(GpuSession& s, std::span<const TokenId> prompt,
                                   const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                                   const std::function<bool(TokenId)>& on_token) {
    GenerationSteps steps;
    steps.prefill = [&](std::vector<float>* logits) {
        return gpu_last_logits(s, prompt, logits, params.cancel);
    };
    steps.decode = [&](TokenId id, std::vector<float>* logits) {
        int32_t next = 0;
        return s.model->decode(id, logits, &next);
    };
    steps.has_room = [&] { return s.model->n_past() < s.model->capacity(); };
    return run_generation(prompt, params, steps, is_eog, on_token);
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
Status gpu_last_logits(GpuSession&, std::span<const TokenId>, std::vector<float>*, const CancelFlag*) {
    return Status(ErrorCode::no_device, "this build of Docket has no CUDA backend");
}
Result<GenerateStats> gpu_generate(GpuSession&, std::span<const TokenId>, const GenerateParams&,
                                   const std::function<bool(TokenId)>&, const std::function<bool(TokenId)>&) {
    return Status(ErrorCode::no_device, "this build of Docket has no CUDA backend");
}
#endif

}  // namespace docket

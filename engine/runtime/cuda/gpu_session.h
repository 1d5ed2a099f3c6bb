#pragma once
// The CUDA runtime behind the CLI's `--backend cuda|auto`: one model on the GPU for one sequence, with the
// same generation loop and sampler as the CPU path (runtime/generate.h). Always compiled: without the CUDA
// toolkit open_gpu_session() says so (ErrorCode::no_device), so commands need no #if.
#include <memory>
#include <span>
#include <vector>

#include "runtime/generate.h"
#include "runtime/model.h"
#include "util/status.h"

namespace docket {

class GpuSession;
struct GpuSessionDeleter {
    void operator()(GpuSession* s) const;
};
using GpuSessionPtr = std::unique_ptr<GpuSession, GpuSessionDeleter>;

// Uploads `model` to GPU 0 with room for `capacity` tokens. Fails with `unsupported` for models the CUDA
// runtime does not run yet (non-llama architectures, q/k biases or norms, NeoX RoPE) and `no_device` when no
// usable GPU/driver is present.
Result<GpuSessionPtr> open_gpu_session(const Model& model, int32_t capacity);

// logits [n_vocab] of the last prompt token (the session's cache is reset first). `cancel` is read before
// every prefill chunk (ErrorCode::cancelled once set).
Status gpu_last_logits(GpuSession& s, std::span<const TokenId> prompt, std::vector<float>* logits,
                       const CancelFlag* cancel = nullptr);

// generate() on the GPU: prompt prefill, then one token at a time, sampled on the CPU by Sampler from the
// downloaded logits (identical sampling rules and random stream to the CPU path).
Result<GenerateStats> gpu_generate(GpuSession& s, std::span<const TokenId> prompt,
                                   const GenerateParams& params, const std::function<bool(TokenId)>& is_eog,
                                   const std::function<bool(TokenId)>& on_token);

}  // namespace docket

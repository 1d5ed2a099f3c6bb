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
#include "runtime/cpu_attention.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/probe.h"
#include "util/cancel.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace docket {

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
    std::vector<double>* mass_for(int32_t layer) const;

    ForwardProbe* probe_ = nullptr;

    const Model& model_;
    ThreadPool pool_;
    int ubatch_;
    cpu::RopeTable rope_;
    CpuAttention attention_;  // holds a reference to rope_ (declared before it)
    cpu::MatmulScratch mm_scratch_;
    // Chunk activations: x, xn [ub, n_embd]; q, attn [ub, n_q_dim]; gate, up [ub, n_ff].
    std::vector<float> x_, xn_, q_, attn_, gate_, up_, tmp_;
    std::vector<float> cs_;  // [ub, n_rot] cos/sin of each chunk position
};

}  // namespace docket

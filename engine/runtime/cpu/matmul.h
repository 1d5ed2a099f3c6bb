#pragma once
// y = x · Wᵀ straight on the (possibly quantized) weight rows in the mmap.
//   W [n_out, n_in] (one row per output feature), x [n_tok, n_in] f32, y [n_tok, n_out] f32.
// One token: a fused dequant-dot per row. Several tokens: each thread dequantizes a tile of weight rows into
// its scratch (once per call) and multiplies it with every token in f32, so a weight row is read once per
// batch.
#include <cstdint>
#include <vector>

#include "runtime/model.h"
#include "util/status.h"
#include "util/thread_pool.h"

namespace docket::cpu {

// Per-thread scratch rows for matmul (and for types that have no fused kernel).
class MatmulScratch {
public:
    // Buffers for `n_threads` threads, each able to hold `rows` rows of up to `max_n_in` floats.
    void reserve(int n_threads, int64_t max_n_in);
    float* thread_buffer(int thread) { return bufs_[thread].data(); }
    static constexpr int64_t kRowTile = 16;

private:
    std::vector<std::vector<float>> bufs_;
};

// True when `type` can be multiplied (fused kernel or dequantize_row).
bool matmul_supports(GgmlType type);

// Fails only for an unsupported weight type or a dequantize_row error.
Status matmul(ThreadPool& pool, MatmulScratch& scratch, const WeightView& w, const float* x, int64_t n_tok,
              float* y);

// Row `r` of W dequantized into out [n_in].
Status dequant_row(const WeightView& w, int64_t r, float* out);

}  // namespace docket::cpu

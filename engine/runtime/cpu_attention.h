#pragma once
// The CPU attention of query rows over one layer of a KvCache, and the rotated-key upkeep it needs. One copy
// for two users: the CPU forward pass, and the CUDA session's attention-mass probe, which runs it on the
// GPU's queries and on K/V rows exported from the GPU (so citations weigh rows by the CPU's own RoPE and
// softmax).
#include <cstdint>
#include <vector>

#include "runtime/cpu/ops.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "util/thread_pool.h"

namespace docket {

class CpuAttention {
public:
    // n_head query heads of head_dim, sharing n_head_kv kv heads, RoPE by `rope`.
    CpuAttention(const ModelConfig& c, const cpu::RopeTable& rope);

    // Brings cache layer l's rotated keys up to date (rows [cache.rotated(l), cache.size())).
    void rotate_keys(ThreadPool& pool, KvCache& cache, int32_t l);
    // Attention of n query rows q [n, n_head * head_dim] (RoPE applied), token t at positions[t], over the
    // rows of cache layer l (rotated keys up to date) whose position is <= the query's. out: [n, n_head *
    // head_dim] or nullptr. mass: when set, gains per cache row the probabilities summed over heads and rows
    // (grown to the cache size).
    void attend(ThreadPool& pool, const KvCache& cache, int32_t l, const float* q, const int32_t* positions,
                int32_t n, float* out, std::vector<double>* mass);

private:
    void add_mass(int n_threads, int32_t n_keys, std::vector<double>& mass) const;

    int32_t n_head_, n_head_kv_, head_dim_;
    const cpu::RopeTable& rope_;
    // Query rows per attention task (query heads of one kv group, stacked over tokens).
    static constexpr int64_t kAttnRows = 16;
    // Per-thread workspace: query rows, output rows, scores [kAttnRows, n_keys]; and the query rows'
    // positions [kAttnRows] per thread, in their own int32 buffer (not punned into the float one).
    std::vector<float> ws_;
    size_t ws_stride_ = 0;
    std::vector<int32_t> pos_;
    std::vector<float> mass_ws_;  // per thread [n_keys] attention mass of the current layer
};

}  // namespace docket

#include "runtime/cpu_attention.h"

#include <algorithm>
#include <cmath>

#include "runtime/cpu/simd.h"

namespace docket {
namespace {
// Adds each row's attention probabilities to mass[n_keys]: the attention kernel leaves unnormalized
// probabilities (exp(score - max), 0 where masked) in `scores`, [nr, lds] with lds = n_keys rounded up to 16.
void accumulate_mass(const float* scores, int64_t nr, int32_t n_keys, float* mass) {
    const int64_t lds = (n_keys + 15) / 16 * 16;
    for (int64_t r = 0; r < nr; ++r) {
        const float* s = scores + r * lds;
        double sum = 0.0;
        for (int32_t j = 0; j < n_keys; ++j) sum += s[j];
        if (sum <= 0.0) continue;
        const float inv = static_cast<float>(1.0 / sum);
        for (int32_t j = 0; j < n_keys; ++j) mass[j] += s[j] * inv;
    }
}
}  // namespace

CpuAttention::CpuAttention(const ModelConfig& c, const cpu::RopeTable& rope)
    : n_head_(c.n_head), n_head_kv_(c.n_head_kv), head_dim_(c.head_dim), rope_(rope) {}

void CpuAttention::rotate_keys(ThreadPool& pool, KvCache& cache, int32_t l) {
    const int32_t from = cache.rotated(l), to = cache.size();
    if (from >= to) return;
    const int32_t rs = cache.row_size();
    const float* k = cache.k(l);
    float* kr = cache.k_rot_mut(l);
    const int32_t* pos = cache.positions();
    const int64_t tile = cache.k_rot_tile_stride();
    pool.parallel_for(to - from, [&](int64_t b, int64_t e, int) {
        std::vector<float> cs(rope_.n_rot), row(rs);
        for (int64_t j = from + b; j < from + e; ++j) {
            std::copy(k + j * rs, k + (j + 1) * rs, row.begin());
            cpu::rope_cos_sin(rope_, pos[j], cs.data());
            cpu::rope_apply(rope_, cs.data(), row.data(), cache.n_kv_heads());
            float* dst = kr + (j / 16) * tile + j % 16;
            for (int32_t i = 0; i < rs; ++i) dst[i * 16] = row[i];
        }
    });
    cache.mark_rotated(l, to);
}

void CpuAttention::add_mass(int n_threads, int32_t n_keys, std::vector<double>& mass) const {
    if (mass.size() < static_cast<size_t>(n_keys)) mass.resize(n_keys, 0.0);
    for (int t = 0; t < n_threads; ++t) {
        const float* m = mass_ws_.data() + static_cast<size_t>(t) * n_keys;
        for (int32_t j = 0; j < n_keys; ++j) mass[j] += m[j];
    }
}

// Per kv head and block of query rows; the `group` query heads that share a kv head are stacked as rows so
// each key tile is loaded once for all of them.
void CpuAttention::attend(ThreadPool& pool, const KvCache& cache, int32_t l, const float* q,
                          const int32_t* positions, int32_t n, float* out, std::vector<double>* mass) {
    const cpu::CpuKernels& kern = cpu::kernels();
    const int64_t HD = head_dim_, QD = static_cast<int64_t>(n_head_) * HD, KVD = cache.row_size();
    const int32_t group = n_head_ / n_head_kv_, n_keys = cache.size();
    const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
    ws_stride_ = 2 * kAttnRows * HD + kAttnRows * ((n_keys + 15) / 16 * 16);
    const size_t threads = static_cast<size_t>(pool.size());
    if (ws_.size() < threads * ws_stride_) ws_.resize(threads * ws_stride_);
    if (pos_.size() < threads * kAttnRows) pos_.resize(threads * kAttnRows);
    if (mass) mass_ws_.assign(threads * n_keys, 0.0f);
    const float* kr = cache.k_rot(l);
    const float* vv = cache.v(l);
    const int32_t* kpos = cache.positions();
    const int64_t rows = static_cast<int64_t>(n) * group;
    const int64_t n_blocks = (rows + kAttnRows - 1) / kAttnRows;
    pool.parallel_for(n_blocks * n_head_kv_, [&](int64_t b, int64_t e, int thread) {
        float* qrows = ws_.data() + thread * ws_stride_;   // [kAttnRows, HD]
        float* orows = qrows + kAttnRows * HD;             // [kAttnRows, HD]
        float* scores = orows + kAttnRows * HD;            // [kAttnRows, lds]
        int32_t* qpos = pos_.data() + thread * kAttnRows;  // [kAttnRows]
        for (int64_t task = b; task < e; ++task) {
            const int64_t g = task % n_head_kv_, r0 = (task / n_head_kv_) * kAttnRows;
            const int64_t nr = std::min<int64_t>(kAttnRows, rows - r0);
            for (int64_t r = 0; r < nr; ++r) {
                const int64_t t = (r0 + r) / group, h = g * group + (r0 + r) % group;
                std::copy(q + t * QD + h * HD, q + t * QD + (h + 1) * HD, qrows + r * HD);
                qpos[r] = positions[t];
            }
            kern.attention(nr, qrows, qpos, kr + g * HD * 16, cache.k_rot_tile_stride(), vv + g * HD, KVD,
                           kpos, n_keys, HD, scale, scores, orows);
            if (mass) accumulate_mass(scores, nr, n_keys, mass_ws_.data() + thread * n_keys);
            for (int64_t r = 0; out && r < nr; ++r) {
                const int64_t t = (r0 + r) / group, h = g * group + (r0 + r) % group;
                std::copy(orows + r * HD, orows + (r + 1) * HD, out + t * QD + h * HD);
            }
        }
    });
    if (mass) add_mass(pool.size(), n_keys, *mass);
}

}  // namespace docket

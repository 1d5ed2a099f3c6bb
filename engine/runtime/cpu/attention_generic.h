#pragma once
// Portable attention of a block of query rows against one kv head (see CpuKernels::attention for the
// layouts). Included by kernels_scalar.cpp and, after its target pragma, by kernels_avx2.cpp, where the
// compiler vectorizes the same loops; the anonymous namespace keeps each copy private to its file.
#include <cmath>
#include <cstdint>

namespace docket::cpu {
namespace {

inline int64_t tiled_index(int64_t j, int64_t d, int64_t kt_stride) {
    return (j / 16) * kt_stride + d * 16 + j % 16;
}

void attention_generic(int64_t nq, const float* q, const int32_t* qpos, const float* kt, int64_t kt_stride,
                       const float* v, int64_t v_stride, const int32_t* key_pos, int64_t n_keys, int64_t hd,
                       float scale, float* s, float* out) {
    const int64_t lds = (n_keys + 15) / 16 * 16;
    for (int64_t i = 0; i < nq; ++i) {
        float* si = s + i * lds;
        const float* qi = q + i * hd;
        for (int64_t jb = 0; jb < n_keys; jb += 16) {
            float acc[16] = {};
            const float* kb = kt + (jb / 16) * kt_stride;
            for (int64_t d = 0; d < hd; ++d)
                for (int l = 0; l < 16; ++l) acc[l] += qi[d] * kb[d * 16 + l];
            for (int l = 0; l < 16 && jb + l < n_keys; ++l) si[jb + l] = acc[l] * scale;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_keys; ++j)
            if (key_pos[j] <= qpos[i] && si[j] > mx) mx = si[j];
        float* oi = out + i * hd;
        for (int64_t d = 0; d < hd; ++d) oi[d] = 0.0f;
        if (mx == -INFINITY) continue;  // nothing visible (a query normally sees itself)
        float sum = 0.0f;
        for (int64_t j = 0; j < n_keys; ++j) {
            si[j] = key_pos[j] <= qpos[i] ? std::exp(si[j] - mx) : 0.0f;
            sum += si[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n_keys; ++j) {
            if (si[j] == 0.0f) continue;
            const float p = si[j] * inv;
            const float* vj = v + j * v_stride;
            for (int64_t d = 0; d < hd; ++d) oi[d] += p * vj[d];
        }
    }
}

}  // namespace
}  // namespace docket::cpu

#pragma once
// Small per-token operations of the forward pass: RMSNorm and RoPE (normal and NeoX pairing, Llama-3
// scaling).
#include <cstdint>
#include <vector>

#include "runtime/model.h"

namespace docket::cpu {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i] over n elements (out may alias x).
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out);

// RoPE frequencies of one model: inv_freq[i] for dim pair i < n_rot/2, scaling already folded in.
struct RopeTable {
    RopeStyle style = RopeStyle::normal;
    int32_t head_dim = 0;
    int32_t n_rot = 0;
    std::vector<float> inv_freq;  // [n_rot / 2]
};

// As Hugging Face computes it: inv_freq = 1 / base^(2i/n_rot) in f32, then Llama-3 smoothing or linear
// division, then division by rope_freqs.weight factors when the file has them.
RopeTable make_rope_table(const ModelConfig& c, const std::vector<float>& freq_factors);

// cos/sin of position `pos` for every dim pair: cs [n_rot/2][2] (cos, sin).
void rope_cos_sin(const RopeTable& t, int32_t pos, float* cs);

// Rotates `n_heads` heads (each head_dim floats, consecutive) of x in place with the cos/sin of one position.
//   normal: pairs (2i, 2i+1); neox: pairs (i, i + n_rot/2). Dims >= n_rot pass through.
void rope_apply(const RopeTable& t, const float* cs, float* x, int32_t n_heads);

}  // namespace docket::cpu

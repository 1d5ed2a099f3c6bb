#pragma once
// Token selection on the GPU: greedy (argmax) or exact sampling from softmax(logits / temperature) by the
// Gumbel-max trick with a counter-based hash, so the CPU twin draws the same token from the same seed.
#include "common.cuh"

namespace docket::cuda {

// logits: [batch][n_vocab] f32; out: [batch] int32 device. temperature <= 0: argmax (lowest index on ties).
// Otherwise token = argmax_i(logits[i] / temperature + gumbel(seed, b, i)).
Status sample_tokens(const float* logits, int batch, int n_vocab, float temperature, uint64_t seed,
                     int32_t* out, cudaStream_t stream);

// The uniform in (0, 1) used for sequence b, vocabulary entry i (shared with the CPU twin).
#ifdef __CUDACC__
__host__ __device__
#endif
    inline float
    sample_uniform(uint64_t seed, int b, int i) {
    uint64_t z = seed ^ (static_cast<uint64_t>(b) << 32 | static_cast<uint32_t>(i)) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (static_cast<float>(z >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

}  // namespace docket::cuda

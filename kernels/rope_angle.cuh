#pragma once
// The RoPE rotation of one dimension pair: angle = pos * inv_freq, formed in double precision and reduced
// modulo 2*pi there, so positions near 128k keep their phase; cos/sin then in float. inv_freq comes from the
// model (base^(-2i/n_rot) with any llama3 / linear scaling and rope_freqs factors applied on the host).
#include <cstdint>

namespace docket::cuda {

#ifdef __CUDACC__
__device__ __forceinline__ void rope_cos_sin(int64_t pos, float inv_freq, float& c, float& s) {
    double a = static_cast<double>(pos) * static_cast<double>(inv_freq);
    a -= 6.283185307179586 * floor(a * 0.15915494309189535);
    sincosf(static_cast<float>(a), &s, &c);
}
#endif

}  // namespace docket::cuda

#include "runtime/cpu/ops.h"

#include <cmath>

namespace docket::cpu {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out) {
    // Sum of squares in double: n is small (the model width) and this keeps the result order-independent.
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const float inv =
        static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + static_cast<double>(eps)));
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * w[i];
}

RopeTable make_rope_table(const ModelConfig& c, const std::vector<float>& freq_factors) {
    RopeTable t;
    t.style = c.rope_style;
    t.head_dim = c.head_dim;
    t.n_rot = c.n_rot;
    const int half = c.n_rot / 2;
    t.inv_freq.resize(half);
    for (int i = 0; i < half; ++i) {
        const float expo = static_cast<float>(2 * i) / static_cast<float>(c.n_rot);
        t.inv_freq[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(c.rope_freq_base), expo));
    }
    if (c.rope_llama3 && freq_factors.empty()) {
        const float factor = c.rope_scaling_factor, lo = c.rope_low_freq_factor, hi = c.rope_high_freq_factor;
        const float old_ctx = static_cast<float>(c.rope_orig_ctx);
        const float low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
        for (int i = 0; i < half; ++i) {
            const float f = t.inv_freq[i];
            const float wavelen = 2.0f * static_cast<float>(M_PI) / f;
            if (wavelen < high_wavelen) continue;  // high frequency: unchanged
            if (wavelen > low_wavelen) {
                t.inv_freq[i] = f / factor;
            } else {
                const float smooth = (old_ctx / wavelen - lo) / (hi - lo);
                t.inv_freq[i] = (1.0f - smooth) * f / factor + smooth * f;
            }
        }
    }
    if (c.rope_linear_scale != 1.0f)
        for (auto& f : t.inv_freq) f /= c.rope_linear_scale;
    for (int i = 0; i < half && i < static_cast<int>(freq_factors.size()); ++i)
        t.inv_freq[i] /= freq_factors[i];
    return t;
}

void rope_cos_sin(const RopeTable& t, int32_t pos, float* cs) {
    const int half = t.n_rot / 2;
    for (int i = 0; i < half; ++i) {
        // The angle is rounded to f32 first, as the reference does; cos/sin of it are then exact to f32.
        const float theta = static_cast<float>(pos) * t.inv_freq[i];
        cs[2 * i] = static_cast<float>(std::cos(static_cast<double>(theta)));
        cs[2 * i + 1] = static_cast<float>(std::sin(static_cast<double>(theta)));
    }
}

void rope_apply(const RopeTable& t, const float* cs, float* x, int32_t n_heads) {
    const int half = t.n_rot / 2;
    for (int32_t h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<int64_t>(h) * t.head_dim;
        if (t.style == RopeStyle::normal) {
            for (int i = 0; i < half; ++i) {
                const float c = cs[2 * i], s = cs[2 * i + 1];
                const float x0 = v[2 * i], x1 = v[2 * i + 1];
                v[2 * i] = x0 * c - x1 * s;
                v[2 * i + 1] = x1 * c + x0 * s;
            }
        } else {
            for (int i = 0; i < half; ++i) {
                const float c = cs[2 * i], s = cs[2 * i + 1];
                const float x0 = v[i], x1 = v[i + half];
                v[i] = x0 * c - x1 * s;
                v[i + half] = x1 * c + x0 * s;
            }
        }
    }
}

}  // namespace docket::cpu

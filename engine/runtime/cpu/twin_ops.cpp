#if DOCKET_HAVE_CUDA
#include "runtime/cpu/twin_ops.h"

#include <cmath>
#include <vector>

#include "model/dequant.h"
#include "sample.cuh"

namespace docket::twin {

Status gemv_q(GgmlType type, const void* w, int64_t n_in, int64_t n_out, const float* x, int batch, float* y,
              bool accumulate) {
    const size_t rb = ggml_row_size(type, n_in);
    std::vector<float> row(n_in);
    for (int64_t r = 0; r < n_out; ++r) {
        DK_TRY(dequantize_row(type, static_cast<const uint8_t*>(w) + r * rb, row.data(), n_in));
        for (int b = 0; b < batch; ++b) {
            double s = 0.0;
            for (int64_t k = 0; k < n_in; ++k) s += static_cast<double>(row[k]) * x[b * n_in + k];
            float& out = y[b * n_out + r];
            out = accumulate ? static_cast<float>(out + s) : static_cast<float>(s);
        }
    }
    return Status::ok();
}

void rmsnorm(const float* x, const float* w, int64_t n_rows, int dim, float eps, float* out) {
    for (int64_t r = 0; r < n_rows; ++r) {
        double ss = 0.0;
        for (int i = 0; i < dim; ++i) ss += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
        const double scale = 1.0 / std::sqrt(ss / dim + eps);
        for (int i = 0; i < dim; ++i) out[r * dim + i] = static_cast<float>(x[r * dim + i] * scale * w[i]);
    }
}

std::vector<float> rope_inv_freq(float base, int head_dim) {
    std::vector<float> f(head_dim / 2);
    for (int i = 0; i < head_dim / 2; ++i)
        f[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(base), 2.0 * i / head_dim));
    return f;
}

void rope_cos_sin(int64_t pos, float inv_freq, double& c, double& s) {
    const double a = static_cast<double>(pos) * static_cast<double>(inv_freq);
    c = std::cos(a);
    s = std::sin(a);
}

void rope(const float* x, const int32_t* pos, int64_t n_tok, int n_heads, int head_dim, const float* inv_freq,
          float* out) {
    const int half = head_dim / 2;
    for (int64_t t = 0; t < n_tok; ++t)
        for (int h = 0; h < n_heads; ++h)
            for (int p = 0; p < half; ++p) {
                double c, s;
                rope_cos_sin(pos[t], inv_freq[p], c, s);
                const int64_t i = (t * n_heads + h) * head_dim + 2 * p;
                const double x0 = x[i], x1 = x[i + 1];
                out[i] = static_cast<float>(x0 * c - x1 * s);
                out[i + 1] = static_cast<float>(x0 * s + x1 * c);
            }
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const double g = gate[i];
        out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
    }
}

Status embed_rows(GgmlType type, const void* table, int64_t n_vocab, int dim, const int32_t* tokens,
                  int64_t n_tok, float* out) {
    const size_t rb = ggml_row_size(type, dim);
    for (int64_t t = 0; t < n_tok; ++t) {
        if (tokens[t] < 0 || tokens[t] >= n_vocab)
            return make_error(ErrorCode::invalid_argument, "embed_rows: token {} at {} outside [0, {})",
                              tokens[t], t, n_vocab);
        DK_TRY(dequantize_row(type, static_cast<const uint8_t*>(table) + tokens[t] * rb, out + t * dim, dim));
    }
    return Status::ok();
}

int32_t sample_token(const float* logits, int n_vocab, float temperature, uint64_t seed, int b) {
    float best = -INFINITY;
    int32_t best_i = -1;
    for (int i = 0; i < n_vocab; ++i) {
        float v = logits[i];
        if (temperature > 0.0f) v = v / temperature - std::log(-std::log(cuda::sample_uniform(seed, b, i)));
        if (std::isnan(v)) v = -INFINITY;
        if (best_i < 0 || v > best) {
            best = v;
            best_i = i;
        }
    }
    return best_i < 0 ? 0 : best_i;
}

void flash_attn_prefill(const float* q, const float* k, const float* v, int64_t n_q, int64_t n_kv,
                        int n_heads, int n_kv_heads, int hd, float scale, float* out) {
    const int group = n_heads / n_kv_heads;
    std::vector<double> sc(n_kv), acc(hd);
    for (int64_t i = 0; i < n_q; ++i)
        for (int h = 0; h < n_heads; ++h) {
            const int kvh = h / group;
            const int64_t last = i + (n_kv - n_q);
            double m = -INFINITY;
            for (int64_t j = 0; j <= last; ++j) {
                double s = 0.0;
                for (int d = 0; d < hd; ++d)
                    s += static_cast<double>(q[(i * n_heads + h) * hd + d]) *
                         k[(j * n_kv_heads + kvh) * hd + d];
                sc[j] = s * scale;
                m = std::max(m, sc[j]);
            }
            double l = 0.0;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t j = 0; j <= last; ++j) {
                const double p = std::exp(sc[j] - m);
                l += p;
                for (int d = 0; d < hd; ++d) acc[d] += p * v[(j * n_kv_heads + kvh) * hd + d];
            }
            for (int d = 0; d < hd; ++d) out[(i * n_heads + h) * hd + d] = static_cast<float>(acc[d] / l);
        }
}

}  // namespace docket::twin
#endif

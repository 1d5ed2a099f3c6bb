#if DOCKET_HAVE_CUDA
// CPU twins of the paged-KV kernels: page encode/decode in the layout of kernels/paged_kv.cuh and decode
// attention over such pages.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "model/dequant.h"
#include "runtime/cpu/twin_ops.h"

namespace docket::twin {

using cuda::KvFormat;

static void put_code(uint8_t* base, int64_t bit, int bits, int code) {
    base[bit / 8] = static_cast<uint8_t>(base[bit / 8] | (code << (bit % 8)));
}
static int get_code(const uint8_t* base, int64_t bit, int bits) {
    return (base[bit / 8] >> (bit % 8)) & ((1 << bits) - 1);
}

// Quantizes xs (n values at stride) into codes; returns the stored (scale, zero) as halves.
static void quant_range(const float* xs, int n, int64_t stride, int bits, uint16_t& hs, uint16_t& hz,
                        std::vector<int>& codes) {
    float mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < n; ++i) {
        mn = std::min(mn, xs[i * stride]);
        mx = std::max(mx, xs[i * stride]);
    }
    if (n == 0) mn = mx = 0.0f;
    const int qmax = (1 << bits) - 1;
    hs = fp32_to_fp16((mx - mn) / qmax);
    hz = fp32_to_fp16(mn);
    const float s = fp16_to_fp32(hs), z = fp16_to_fp32(hz);
    codes.assign(n, 0);
    for (int i = 0; i < n; ++i) {
        const float c = s > 0.0f ? std::nearbyint((xs[i * stride] - z) / s) : 0.0f;
        codes[i] = static_cast<int>(std::clamp(c, 0.0f, static_cast<float>(qmax)));
    }
}

void kv_encode_page(KvFormat f, int T, int n_kv, int hd, const float* k, const float* v, int n_valid,
                    uint8_t* page) {
    const cuda::KvPageLayout lay = cuda::kv_page_layout(f, T, n_kv, hd);
    std::memset(page, 0, lay.page_bytes);
    if (f == KvFormat::f16) {
        auto* kp = reinterpret_cast<uint16_t*>(page + lay.k_codes);
        auto* vp = reinterpret_cast<uint16_t*>(page + lay.v_codes);
        for (int h = 0; h < n_kv; ++h)
            for (int t = 0; t < n_valid; ++t)
                for (int d = 0; d < hd; ++d) {
                    kp[(h * T + t) * hd + d] = fp32_to_fp16(k[(t * n_kv + h) * hd + d]);
                    vp[(h * T + t) * hd + d] = fp32_to_fp16(v[(t * n_kv + h) * hd + d]);
                }
        return;
    }
    const int bits = cuda::kv_bits(f);
    auto* ks = reinterpret_cast<uint16_t*>(page + lay.k_scales);
    auto* vs = reinterpret_cast<uint16_t*>(page + lay.v_scales);
    std::vector<int> codes;
    for (int h = 0; h < n_kv; ++h) {
        uint8_t* kc = page + lay.k_codes + static_cast<size_t>(h) * hd * T * bits / 8;
        for (int d = 0; d < hd; ++d) {  // per channel over the page's tokens
            quant_range(k + h * hd + d, n_valid, static_cast<int64_t>(n_kv) * hd, bits, ks[2 * (h * hd + d)],
                        ks[2 * (h * hd + d) + 1], codes);
            for (int t = 0; t < n_valid; ++t)
                put_code(kc, static_cast<int64_t>(d) * T * bits + t * bits, bits, codes[t]);
        }
        uint8_t* vc = page + lay.v_codes + static_cast<size_t>(h) * T * hd * bits / 8;
        for (int t = 0; t < n_valid; ++t) {  // per token over the head's dims
            quant_range(v + (t * n_kv + h) * hd, hd, 1, bits, vs[2 * (h * T + t)], vs[2 * (h * T + t) + 1],
                        codes);
            for (int d = 0; d < hd; ++d)
                put_code(vc, static_cast<int64_t>(t) * hd * bits + d * bits, bits, codes[d]);
        }
    }
}

void kv_decode_page(KvFormat f, int T, int n_kv, int hd, const uint8_t* page, float* k, float* v) {
    const cuda::KvPageLayout lay = cuda::kv_page_layout(f, T, n_kv, hd);
    if (f == KvFormat::f16) {
        const auto* kp = reinterpret_cast<const uint16_t*>(page + lay.k_codes);
        const auto* vp = reinterpret_cast<const uint16_t*>(page + lay.v_codes);
        for (int h = 0; h < n_kv; ++h)
            for (int t = 0; t < T; ++t)
                for (int d = 0; d < hd; ++d) {
                    k[(t * n_kv + h) * hd + d] = fp16_to_fp32(kp[(h * T + t) * hd + d]);
                    v[(t * n_kv + h) * hd + d] = fp16_to_fp32(vp[(h * T + t) * hd + d]);
                }
        return;
    }
    const int bits = cuda::kv_bits(f);
    const auto* ks = reinterpret_cast<const uint16_t*>(page + lay.k_scales);
    const auto* vs = reinterpret_cast<const uint16_t*>(page + lay.v_scales);
    for (int h = 0; h < n_kv; ++h) {
        const uint8_t* kc = page + lay.k_codes + static_cast<size_t>(h) * hd * T * bits / 8;
        const uint8_t* vc = page + lay.v_codes + static_cast<size_t>(h) * T * hd * bits / 8;
        for (int t = 0; t < T; ++t)
            for (int d = 0; d < hd; ++d) {
                const float s = fp16_to_fp32(ks[2 * (h * hd + d)]),
                            z = fp16_to_fp32(ks[2 * (h * hd + d) + 1]);
                k[(t * n_kv + h) * hd + d] =
                    z + s * get_code(kc, static_cast<int64_t>(d) * T * bits + t * bits, bits);
                const float vs0 = fp16_to_fp32(vs[2 * (h * T + t)]),
                            vz = fp16_to_fp32(vs[2 * (h * T + t) + 1]);
                v[(t * n_kv + h) * hd + d] =
                    vz + vs0 * get_code(vc, static_cast<int64_t>(t) * hd * bits + d * bits, bits);
            }
    }
}

Status decode_attention(const float* q, const cuda::PagedKv* sources, int n_sources,
                        const cuda::DecodeAttnShape& s, float* out) {
    const int hd = s.head_dim, half = hd / 2;
    const int n_kv = sources[0].n_kv_heads, group = s.n_heads / n_kv;
    for (int b = 0; b < s.batch; ++b) {
        // Every token of sequence b: rotated K and V, [n][n_kv][hd].
        std::vector<float> kr, vv;
        for (int si = 0; si < n_sources; ++si) {
            const cuda::PagedKv& kv = sources[si];
            const int T = kv.page_tokens;
            std::vector<float> kp(static_cast<size_t>(T) * n_kv * hd), vp(kp.size());
            const int n_pages = kv.indptr[b + 1] - kv.indptr[b];
            for (int p = 0; p < n_pages; ++p) {
                const int idx = kv.indptr[b] + p;
                kv_decode_page(kv.format, T, n_kv, hd,
                               kv.pool + static_cast<size_t>(kv.indices[idx]) * kv.page_bytes, kp.data(),
                               vp.data());
                const int used = p == n_pages - 1 ? kv.last_page_len[b] : T;
                for (int t = 0; t < used; ++t) {
                    for (int h = 0; h < n_kv; ++h)
                        for (int pr = 0; pr < half; ++pr) {
                            double c, sn;
                            rope_cos_sin(static_cast<int64_t>(kv.page_pos[idx]) + t, s.inv_freq[pr], c, sn);
                            const double k0 = kp[(t * n_kv + h) * hd + 2 * pr],
                                         k1 = kp[(t * n_kv + h) * hd + 2 * pr + 1];
                            kr.push_back(static_cast<float>(k0 * c - k1 * sn));
                            kr.push_back(static_cast<float>(k0 * sn + k1 * c));
                        }
                    vv.insert(vv.end(), vp.begin() + static_cast<size_t>(t) * n_kv * hd,
                              vp.begin() + static_cast<size_t>(t + 1) * n_kv * hd);
                }
            }
        }
        const int64_t n = static_cast<int64_t>(vv.size()) / (n_kv * hd);
        for (int h = 0; h < s.n_heads; ++h) {
            float* o = out + (static_cast<int64_t>(b) * s.n_heads + h) * hd;
            if (n == 0) {
                std::fill(o, o + hd, 0.0f);
                continue;
            }
            const int kvh = h / group;
            const float* qq = q + (static_cast<int64_t>(b) * s.n_heads + h) * hd;
            std::vector<double> sc(n), acc(hd, 0.0);
            double m = -INFINITY, l = 0.0;
            for (int64_t j = 0; j < n; ++j) {
                double d = 0.0;
                for (int e = 0; e < hd; ++e) d += static_cast<double>(qq[e]) * kr[(j * n_kv + kvh) * hd + e];
                sc[j] = d * s.scale;
                m = std::max(m, sc[j]);
            }
            for (int64_t j = 0; j < n; ++j) {
                const double p = std::exp(sc[j] - m);
                l += p;
                for (int e = 0; e < hd; ++e) acc[e] += p * vv[(j * n_kv + kvh) * hd + e];
            }
            for (int e = 0; e < hd; ++e) o[e] = static_cast<float>(acc[e] / l);
        }
    }
    return Status::ok();
}

}  // namespace docket::twin
#endif

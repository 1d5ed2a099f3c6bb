#if DOCKET_HAVE_CUDA
// CPU twin of the paged decode-attention kernel: pages decoded with the one CPU codec (format/kv_codec.h),
// then attention in double.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "format/kv_codec.h"
#include "runtime/cpu/twin_ops.h"

namespace docket::twin {

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
                const int used = p == n_pages - 1 ? kv.last_page_len[b] : T;
                if (used <= 0) continue;
                DK_TRY(kv_page::decode_page(kv.codec, n_kv, hd,
                                            kv.pool + static_cast<size_t>(kv.indices[idx]) * kv.page_bytes,
                                            used, kp.data(), vp.data(), T));
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

#include "kv/routing_keys.h"

#include <cmath>
#include <cstring>

#include "format/kv_page.h"
#include "util/half.h"

namespace docket::kv {
namespace {

constexpr uint32_t kMagic = 0x52544b31;  // "RTK1"

struct BlobHeader {
    uint32_t magic = kMagic;
    uint16_t n_layers = 0, n_kv_heads = 0, head_dim = 0, n_pages = 0;
};

// 1 for the channels of a head that take part in routing (see the header), 0 for the others.
std::vector<uint8_t> routing_channels(const ModelConfig& c) {
    std::vector<uint8_t> on(c.head_dim, 1);
    const int half = c.n_rot / 2;
    for (int i = 0; i < half; ++i) {
        const double theta = std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.n_rot);
        if (2.0 * M_PI / theta >= kMinWavelength) continue;
        const int a = c.rope_style == RopeStyle::neox ? i : 2 * i;
        const int b = c.rope_style == RopeStyle::neox ? i + half : 2 * i + 1;
        on[a] = on[b] = 0;
    }
    return on;
}

}  // namespace

std::vector<int32_t> routing_layers(const ModelConfig& c) {
    std::vector<int32_t> out;
    for (int32_t f : {1, 2, 3}) {
        const int32_t l = c.n_layer * f / 4;
        if (out.empty() || out.back() != l) out.push_back(l);
    }
    return out;
}

std::vector<uint8_t> encode_routing(const ModelConfig& c, const KvRows& rows) {
    const std::vector<int32_t> layers = routing_layers(c);
    const int32_t rs = c.n_kv_dim(), n = rows.n, n_pages = kv_page::pages_for_tokens(n);
    BlobHeader h;
    h.n_layers = static_cast<uint16_t>(layers.size());
    h.n_kv_heads = static_cast<uint16_t>(c.n_head_kv);
    h.head_dim = static_cast<uint16_t>(c.head_dim);
    h.n_pages = static_cast<uint16_t>(std::min(n_pages, 65535));
    std::vector<uint8_t> blob(sizeof h + static_cast<size_t>(h.n_pages) * layers.size() * rs * 2);
    std::memcpy(blob.data(), &h, sizeof h);
    uint8_t* out = blob.data() + sizeof h;
    std::vector<float> mean(rs);
    for (int32_t p = 0; p < h.n_pages; ++p) {
        const int32_t t0 = p * kv_page::kTokens, t1 = std::min(n, t0 + kv_page::kTokens);
        for (int32_t l : layers) {
            std::fill(mean.begin(), mean.end(), 0.0f);
            const float* k = rows.k[l].data();
            for (int32_t t = t0; t < t1; ++t)
                for (int32_t i = 0; i < rs; ++i) mean[i] += k[static_cast<size_t>(t) * rs + i];
            for (int32_t i = 0; i < rs; ++i) {
                const uint16_t v = fp32_to_fp16(mean[i] / static_cast<float>(t1 - t0));
                std::memcpy(out, &v, 2);
                out += 2;
            }
        }
    }
    return blob;
}

QueryDigest digest_queries(const ModelConfig& c, const ForwardProbe& probe) {
    QueryDigest d;
    const size_t qd = static_cast<size_t>(c.n_q_dim());
    if (probe.queries.size() != routing_layers(c).size()) return d;
    for (const std::vector<float>& rows : probe.queries) {
        const size_t n = rows.size() / qd;
        if (n == 0) return {};
        std::vector<float> mean(qd, 0.0f);
        for (size_t t = 0; t < n; ++t)
            for (size_t i = 0; i < qd; ++i) mean[i] += rows[t * qd + i];
        for (float& m : mean) m /= static_cast<float>(n);
        d.q.insert(d.q.end(), mean.begin(), mean.end());
    }
    return d;
}

Result<double> score_routing(const ModelConfig& c, const std::vector<uint8_t>& blob, const QueryDigest& q) {
    BlobHeader h;
    if (blob.size() < sizeof h) return make_error(ErrorCode::corrupt_data, "routing keys: blob too short");
    std::memcpy(&h, blob.data(), sizeof h);
    const size_t layers = routing_layers(c).size(), rs = static_cast<size_t>(c.n_kv_dim());
    if (h.magic != kMagic || h.n_layers != layers || h.n_kv_heads != c.n_head_kv || h.head_dim != c.head_dim ||
        blob.size() != sizeof h + static_cast<size_t>(h.n_pages) * layers * rs * 2)
        return make_error(ErrorCode::corrupt_data, "routing keys: blob does not match the model's shape");
    if (q.q.size() != layers * static_cast<size_t>(c.n_q_dim()))
        return make_error(ErrorCode::invalid_argument, "routing keys: question digest has the wrong size");
    const std::vector<uint8_t> on = routing_channels(c);
    const int group = c.n_head / c.n_head_kv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    const uint8_t* p = blob.data() + sizeof h;
    double best = -INFINITY;
    std::vector<float> k(rs);
    for (int pg = 0; pg < h.n_pages; ++pg) {
        double page = 0.0;
        for (size_t l = 0; l < layers; ++l) {
            for (size_t i = 0; i < rs; ++i) {
                uint16_t v;
                std::memcpy(&v, p, 2);
                p += 2;
                k[i] = fp16_to_fp32(v);
            }
            const float* ql = q.q.data() + l * c.n_q_dim();
            for (int hq = 0; hq < c.n_head; ++hq) {
                const float* kh = k.data() + static_cast<size_t>(hq / group) * c.head_dim;
                const float* qh = ql + static_cast<size_t>(hq) * c.head_dim;
                float dot = 0.0f;
                for (int d = 0; d < c.head_dim; ++d)
                    if (on[d]) dot += qh[d] * kh[d];
                page += dot * scale;
            }
        }
        best = std::max(best, page / static_cast<double>(layers * c.n_head));
    }
    return best;
}

}  // namespace docket::kv

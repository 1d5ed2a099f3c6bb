// CPU only (no GPU needed; runs in CI wherever the CUDA toolkit builds the backend): pages written by the
// store's codec (engine/format/kv_page.h + kv_codec, the one encoder) are read by the decode-attention CPU
// twin through the kernels' descriptor (kernels/paged_kv.cuh) in a shuffled pool at composed positions.
// Attention over store-encoded pages must equal f32 attention over the store-decoded K/V (same function) and
// stay within the codec's error of f32 attention over the original K/V.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "format/kv_codec.h"
#include "paged_kv.cuh"
#include "runtime/cpu/twin_ops.h"

using namespace docket;

namespace {

using kv_page::Codec;

double rel_err(const std::vector<float>& a, const std::vector<double>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / den);
}

// Causal-free decode attention in double: q [n_heads][hd] against K (pre-RoPE, rotated here to pos[t]) and
// V, both [n][n_kv][hd].
std::vector<double> attention_ref(const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v, const std::vector<int64_t>& pos, int n_heads,
                                  int n_kv, int hd, const std::vector<float>& inv_freq, double scale) {
    const int64_t n = static_cast<int64_t>(pos.size());
    const int group = n_heads / n_kv;
    std::vector<double> out(static_cast<size_t>(n_heads) * hd, 0.0);
    std::vector<double> kr(static_cast<size_t>(n) * n_kv * hd);
    for (int64_t t = 0; t < n; ++t)
        for (int h = 0; h < n_kv; ++h)
            for (int i = 0; i < hd / 2; ++i) {
                double c, s;
                twin::rope_cos_sin(pos[t], inv_freq[i], c, s);
                const size_t e = (static_cast<size_t>(t) * n_kv + h) * hd + 2 * i;
                kr[e] = k[e] * c - k[e + 1] * s;
                kr[e + 1] = k[e] * s + k[e + 1] * c;
            }
    for (int h = 0; h < n_heads; ++h) {
        const int kvh = h / group;
        std::vector<double> sc(n);
        double m = -INFINITY, l = 0;
        for (int64_t t = 0; t < n; ++t) {
            double d = 0;
            for (int e = 0; e < hd; ++e)
                d += q[h * hd + e] * kr[(static_cast<size_t>(t) * n_kv + kvh) * hd + e];
            sc[t] = d * scale;
            m = std::max(m, sc[t]);
        }
        for (int64_t t = 0; t < n; ++t) {
            const double p = std::exp(sc[t] - m);
            l += p;
            for (int e = 0; e < hd; ++e)
                out[h * hd + e] += p * v[(static_cast<size_t>(t) * n_kv + kvh) * hd + e];
        }
        for (int e = 0; e < hd; ++e) out[h * hd + e] /= l;
    }
    return out;
}

}  // namespace

class TestKvLayoutStoreTwin : public QObject {
    Q_OBJECT
private slots:
    void store_pages_read_by_attention_twin_data() {
        QTest::addColumn<int>("codec");
        QTest::addColumn<int>("n_kv");
        QTest::addColumn<int>("hd");
        // Codec error bound vs f32 attention over the original K/V, from measurement with margin (random keys
        // with per-channel spread; int2 keeps little of random data, so its bound only catches gross
        // breakage). The layout check proper is the 1e-5 match against attention over the store's own decode.
        QTest::addColumn<double>("bound");
        for (auto [c, b] : {std::pair{Codec::fp16, 2e-3}, std::pair{Codec::int8, 4e-2},
                            std::pair{Codec::int4, 0.4}, std::pair{Codec::int2, 1.2}})
            for (auto [kv, hd] : {std::pair{8, 128}, std::pair{3, 64}})
                QTest::newRow(
                    qPrintable(QString("%1 %2 KV heads x %3").arg(kv_page::codec_name(c)).arg(kv).arg(hd)))
                    << static_cast<int>(c) << kv << hd << b;
    }
    void store_pages_read_by_attention_twin() {
        QFETCH(int, codec);
        QFETCH(int, n_kv);
        QFETCH(int, hd);
        QFETCH(double, bound);
        const Codec c = static_cast<Codec>(codec);
        const int T = kv_page::kTokens, n_heads = 4 * n_kv;
        const kv_page::PageLayout sl = kv_page::page_layout(c, n_kv, hd);

        // 1. A sequence of 209 tokens (3 full pages + 17) in a shuffled pool, pages at composed positions.
        std::mt19937_64 rng(1234 + codec * 10 + hd);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        const int n = 3 * T + 17, n_pages = kv_page::pages_for_tokens(n);
        std::vector<float> k(static_cast<size_t>(n) * n_kv * hd), v(k.size()),
            q(static_cast<size_t>(n_heads) * hd);
        for (size_t i = 0; i < k.size(); ++i) {
            const int d = static_cast<int>(i % hd);
            k[i] = nd(rng) * (1.0f + 0.05f * d) + 0.3f;  // per-channel scale, as real keys have
            v[i] = nd(rng);
        }
        for (auto& x : q) x = nd(rng);
        std::vector<int32_t> ids(n_pages);
        std::iota(ids.begin(), ids.end(), 0);
        std::shuffle(ids.begin(), ids.end(), rng);
        std::vector<int32_t> page_pos = {100, 164, 5000, 5064};  // a segment boundary after page 1
        std::vector<uint8_t> pool(sl.bytes * n_pages, 0xEE);
        std::vector<float> kd(k.size()), vd(v.size());  // the store's decode of every page
        std::vector<int64_t> pos(n);
        for (int p = 0; p < n_pages; ++p) {
            const int valid = std::min(T, n - p * T);
            const size_t off = static_cast<size_t>(p) * T * n_kv * hd;
            uint8_t* page = pool.data() + static_cast<size_t>(ids[p]) * sl.bytes;
            const Status es = kv_page::encode_page(c, n_kv, hd, k.data() + off, v.data() + off, valid, page);
            QVERIFY2(es.is_ok(), es.to_string().c_str());
            const Status ds =
                kv_page::decode_page(c, n_kv, hd, page, valid, kd.data() + off, vd.data() + off);
            QVERIFY2(ds.is_ok(), ds.to_string().c_str());
            for (int t = 0; t < valid; ++t) pos[p * T + t] = page_pos[p] + t;
        }

        // 2. Attention through the twin over the store's pages.
        std::vector<int32_t> indptr = {0, n_pages}, last_len = {n - (n_pages - 1) * T};
        cuda::PagedKv src;
        src.codec = c;
        src.page_tokens = T;
        src.n_kv_heads = n_kv;
        src.head_dim = hd;
        src.page_bytes = sl.bytes;
        src.pool = pool.data();
        src.indptr = indptr.data();
        src.indices = ids.data();
        src.last_page_len = last_len.data();
        src.page_pos = page_pos.data();
        auto inv = twin::rope_inv_freq(500000.0f, hd);
        cuda::DecodeAttnShape s;
        s.batch = 1, s.n_heads = n_heads, s.head_dim = hd, s.inv_freq = inv.data();
        s.scale = 1.0f / std::sqrt(static_cast<float>(hd)), s.max_pages = n_pages;
        std::vector<float> out(q.size());
        const Status as = twin::decode_attention(q.data(), &src, 1, s, out.data());
        QVERIFY2(as.is_ok(), as.to_string().c_str());

        const auto same_fn = attention_ref(q, kd, vd, pos, n_heads, n_kv, hd, inv, s.scale);
        const auto exact = attention_ref(q, k, v, pos, n_heads, n_kv, hd, inv, s.scale);
        const double e_same = rel_err(out, same_fn), e_codec = rel_err(out, exact);
        qInfo(
            "%s %d x %d: twin over store pages vs f32 attention over the store-decoded K/V %.2e, vs the "
            "original K/V %.2e (codec error; bound %.0e)",
            kv_page::codec_name(c), n_kv, hd, e_same, e_codec, bound);
        QVERIFY2(e_same < 1e-5,
                 "twin attention over store pages differs from attention over the store's decode");
        QVERIFY2(e_codec < bound, "codec error of attention above its bound");
    }
};

QTEST_GUILESS_MAIN(TestKvLayoutStoreTwin)
#include "test_kv_layout_store_twin.moc"

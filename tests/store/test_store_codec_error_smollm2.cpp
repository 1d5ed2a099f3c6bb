// Codec error on real KV: SmolLM2 prefills a CUAD contract excerpt (the document, 1024 tokens) and then the
// next 128 tokens of the contract (the queries). The document's KV goes through the store in every codec; we
// measure the relative error of K and V, of the attention output for the real queries at every layer, and of
// the model's next-token distribution, and assert per-codec bounds. Also records bytes per token on disk
// (zstd included) and what each zstd level buys on these pages.
//
// The queries are recomputed layer by layer with the runtime's own kernels (matmul, rms_norm, RoPE); the test
// checks that this reproduces the runtime's keys and logits before trusting it.
#include <QtTest>

#include <zstd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "model/tokenizer.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/ops.h"
#include "runtime/forward.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "store/store.h"
#include "store_test_util.h"
#include "test_paths.h"

using namespace docket;
using namespace docket::store;

namespace {

constexpr int kDocTokens = 1024, kQueryTokens = 128;

std::string cuad_text() {
    // The first dev contract long enough for document + queries.
    std::ifstream manifest(test::shared_dir() + "/data/cuad-dev/manifest.jsonl");
    std::string line;
    const std::string dir = test::shared_dir() + "/data/cuad-dev/docs/";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.file_size() < 40000) continue;
        std::ifstream f(e.path());
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    return {};
}

double rel(double err2, double norm2) { return std::sqrt(err2 / std::max(norm2, 1e-30)); }

// Causal attention of `nq` query tokens (rotated q [nq, n_head, hd]) over nd document tokens (rotated keys
// kd, values vd [nd, n_kv, hd]) and the query tokens themselves (kq, vq [nq, n_kv, hd], j <= i).
void attend(const ModelConfig& c, const float* q, int nq, const float* kd, const float* vd, int nd, const float* kq,
            const float* vq, float* out) {
    const int H = c.n_head, KV = c.n_head_kv, D = c.head_dim, G = H / KV;
    const float scale = 1.0f / std::sqrt(float(D));
    std::vector<float> s(nd + nq);
    for (int i = 0; i < nq; ++i)
        for (int h = 0; h < H; ++h) {
            const int g = h / G;
            const float* qi = q + (size_t(i) * H + h) * D;
            const int n = nd + i + 1;
            float mx = -1e30f;
            for (int j = 0; j < n; ++j) {
                const float* kj = j < nd ? kd + (size_t(j) * KV + g) * D : kq + (size_t(j - nd) * KV + g) * D;
                float d = 0;
                for (int x = 0; x < D; ++x) d += qi[x] * kj[x];
                s[j] = d * scale;
                mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
            float* o = out + (size_t(i) * H + h) * D;
            std::fill(o, o + D, 0.0f);
            for (int j = 0; j < n; ++j) {
                const float* vj = j < nd ? vd + (size_t(j) * KV + g) * D : vq + (size_t(j - nd) * KV + g) * D;
                const float w = float(s[j] / sum);
                for (int x = 0; x < D; ++x) o[x] += w * vj[x];
            }
        }
}

}  // namespace

class TestCodecErrorSmolLM2 : public QObject {
    Q_OBJECT
private slots:
    void codec_error_on_real_kv_and_queries() {
        auto model = Model::load(test::smollm2_path());
        QVERIFY2(model.is_ok(), qPrintable(QString::fromStdString(model.status().to_string())));
        const Model& m = **model;
        const ModelConfig& c = m.config();
        auto tok = Tokenizer::from_gguf(m.gguf());
        QVERIFY(tok.is_ok());
        const std::string text = cuad_text();
        QVERIFY2(!text.empty(), "no CUAD dev contract found");
        auto ids = (*tok)->encode(text, true, false);
        QVERIFY(int(ids.size()) >= kDocTokens + kQueryTokens);
        std::vector<TokenId> doc(ids.begin(), ids.begin() + kDocTokens);
        std::vector<TokenId> qry(ids.begin() + kDocTokens, ids.begin() + kDocTokens + kQueryTokens);

        // Reference: the runtime prefills document then queries.
        auto t0 = std::chrono::steady_clock::now();
        CpuForward fw(m, 2);
        auto cache = KvCache::create(c, kDocTokens + kQueryTokens);
        QVERIFY(cache.is_ok());
        QVERIFY(fw.eval(**cache, doc, LogitsMode::none, nullptr).is_ok());
        std::vector<float> ref_logits;
        QVERIFY(fw.eval(**cache, qry, LogitsMode::all, &ref_logits).is_ok());
        qInfo("prefill %d+%d tokens: %.1f s", kDocTokens, kQueryTokens,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

        // The document's KV through the store in every codec.
        const KvShape shape{c.n_layer, c.n_head_kv, c.head_dim};
        const size_t row = size_t(c.n_head_kv) * c.head_dim;
        std::vector<std::vector<float>> dk(c.n_layer), dv(c.n_layer);
        for (int l = 0; l < c.n_layer; ++l) {
            dk[l].resize(row * kDocTokens);
            dv[l].resize(row * kDocTokens);
            QVERIFY((*cache)->read(l, 0, kDocTokens, dk[l].data(), dv[l].data()).is_ok());
        }
        const std::string dir = test::scratch_dir("codec-error");
        auto st = Store::open(dir);
        QVERIFY(st.is_ok());
        auto reader = (*st)->reader();
        QVERIFY(reader.is_ok());
        std::vector<DecodedKv> dec(kv_page::kNumCodecs);
        for (int ci = 0; ci < kv_page::kNumCodecs; ++ci) {
            SnapshotKey key;
            key.model = *(*st)->model_fingerprint(test::smollm2_path());
            key.codec = default_codec_params(Codec(ci), c.head_dim);
            key.content = hash128(doc.data(), doc.size() * sizeof(TokenId));
            auto id = (*st)->put(key, shape, kDocTokens, [&](int l) { return LayerKv{dk[l].data(), dv[l].data()}; });
            QVERIFY(id.is_ok());
            auto info = (*reader)->get(*id);
            auto d = (*reader)->read_kv(*info);
            QVERIFY(d.is_ok());
            dec[ci] = std::move(*d);
            double ke = 0, kn = 0, ve = 0, vn = 0;
            for (int l = 0; l < c.n_layer; ++l)
                for (size_t i = 0; i < row * kDocTokens; ++i) {
                    ke += std::pow(double(dec[ci].k[l][i]) - dk[l][i], 2), kn += double(dk[l][i]) * dk[l][i];
                    ve += std::pow(double(dec[ci].v[l][i]) - dv[l][i], 2), vn += double(dv[l][i]) * dv[l][i];
                }
            qInfo("%s: %.1f B/token on disk (%.1f raw pages), K rel err %.5f, V rel err %.5f",
                  kv_page::codec_name(Codec(ci)), double(info->bytes) / kDocTokens,
                  double(info->raw_bytes) / kDocTokens, rel(ke, kn), rel(ve, vn));
            const double kb[] = {1e-3, 0.02, 0.15, 0.6}, vb[] = {1e-3, 0.02, 0.2, 0.8};
            QVERIFY2(rel(ke, kn) < kb[ci] && rel(ve, vn) < vb[ci], kv_page::codec_name(Codec(ci)));
        }

        // zstd level by measurement: ratio and decompression speed on the real pages of each codec.
        for (int ci = 0; ci < kv_page::kNumCodecs; ++ci) {
            auto f = (*reader)->find([&] {
                SnapshotKey key;
                key.model = *(*st)->model_fingerprint(test::smollm2_path());
                key.codec = default_codec_params(Codec(ci), c.head_dim);
                key.content = hash128(doc.data(), doc.size() * sizeof(TokenId));
                return key;
            }());
            QVERIFY(f.is_ok() && f->has_value());
            AlignedBuffer pages;
            QVERIFY((*reader)->read_pages(**f, 0, c.n_layer, pages).is_ok());
            QString line = QString("zstd on %1 pages:").arg(kv_page::codec_name(Codec(ci)));
            for (int level : {1, 3, 9}) {
                std::vector<uint8_t> z(ZSTD_compressBound(pages.size())), back(pages.size());
                auto a = std::chrono::steady_clock::now();
                size_t n = ZSTD_compress(z.data(), z.size(), pages.data(), pages.size(), level);
                auto b = std::chrono::steady_clock::now();
                ZSTD_decompress(back.data(), back.size(), z.data(), n);
                auto e = std::chrono::steady_clock::now();
                line += QString(" L%1 %2% saved, %3 MB/s in, %4 MB/s out;").arg(level)
                            .arg(100.0 * (1.0 - double(n) / pages.size()), 0, 'f', 1)
                            .arg(pages.size() / std::chrono::duration<double>(b - a).count() / 1e6, 0, 'f', 0)
                            .arg(pages.size() / std::chrono::duration<double>(e - b).count() / 1e6, 0, 'f', 0);
            }
            qInfo("%s", qPrintable(line));
        }

        // Queries of the query tokens, recomputed with the runtime's kernels; the exact attention output drives
        // the residual stream, every codec's output is compared with it.
        ThreadPool pool(2);
        cpu::MatmulScratch scratch;
        scratch.reserve(pool.size(), std::max<int64_t>(c.n_ff, c.n_embd));
        const auto rope = cpu::make_rope_table(c, m.rope_freq_factors());
        const int E = c.n_embd, Q = c.n_q_dim(), KVD = c.n_kv_dim(), nq = kQueryTokens;
        std::vector<float> x(size_t(nq) * E), h(size_t(nq) * E), q(size_t(nq) * Q), k(size_t(nq) * KVD),
            v(size_t(nq) * KVD), out(size_t(nq) * Q), outc(size_t(nq) * Q), o(size_t(nq) * E),
            g(size_t(nq) * c.n_ff), u(size_t(nq) * c.n_ff), cs(c.n_rot);
        for (int i = 0; i < nq; ++i) QVERIFY(cpu::dequant_row(m.token_embd(), qry[i], x.data() + size_t(i) * E).is_ok());
        auto rotate = [&](float* rows, int n, int first_pos, int heads) {
            for (int i = 0; i < n; ++i) {
                cpu::rope_cos_sin(rope, first_pos + i, cs.data());
                cpu::rope_apply(rope, cs.data(), rows + size_t(i) * heads * c.head_dim, heads);
            }
        };
        double attn_e[4] = {}, attn_n = 0, max_key_dev = 0;
        std::vector<float> kd(row * kDocTokens);
        for (int l = 0; l < c.n_layer; ++l) {
            const LayerWeights& L = m.layer(l);
            QVERIFY(!L.bq.present() && !L.q_norm.present());  // llama arch
            for (int i = 0; i < nq; ++i)
                cpu::rms_norm(x.data() + size_t(i) * E, L.attn_norm.f32(), E, c.rms_eps, h.data() + size_t(i) * E);
            QVERIFY(cpu::matmul(pool, scratch, L.wq, h.data(), nq, q.data()).is_ok());
            QVERIFY(cpu::matmul(pool, scratch, L.wk, h.data(), nq, k.data()).is_ok());
            QVERIFY(cpu::matmul(pool, scratch, L.wv, h.data(), nq, v.data()).is_ok());
            // Our pre-RoPE keys must be the runtime's (same residual stream => same queries).
            std::vector<float> rk(size_t(nq) * KVD);
            QVERIFY((*cache)->read(l, kDocTokens, nq, rk.data(), nullptr).is_ok());
            double dev = 0, nrm = 0;
            for (size_t i = 0; i < rk.size(); ++i) dev += std::pow(double(rk[i]) - k[i], 2), nrm += double(rk[i]) * rk[i];
            max_key_dev = std::max(max_key_dev, rel(dev, nrm));
            rotate(q.data(), nq, kDocTokens, c.n_head);
            rotate(k.data(), nq, kDocTokens, c.n_head_kv);
            kd = dk[l];
            rotate(kd.data(), kDocTokens, 0, c.n_head_kv);
            attend(c, q.data(), nq, kd.data(), dv[l].data(), kDocTokens, k.data(), v.data(), out.data());
            for (float y : out) attn_n += double(y) * y;
            for (int ci = 0; ci < kv_page::kNumCodecs; ++ci) {
                kd = dec[ci].k[l];
                rotate(kd.data(), kDocTokens, 0, c.n_head_kv);
                attend(c, q.data(), nq, kd.data(), dec[ci].v[l].data(), kDocTokens, k.data(), v.data(), outc.data());
                for (size_t i = 0; i < out.size(); ++i) attn_e[ci] += std::pow(double(outc[i]) - out[i], 2);
            }
            QVERIFY(cpu::matmul(pool, scratch, L.wo, out.data(), nq, o.data()).is_ok());
            for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
            for (int i = 0; i < nq; ++i)
                cpu::rms_norm(x.data() + size_t(i) * E, L.ffn_norm.f32(), E, c.rms_eps, h.data() + size_t(i) * E);
            QVERIFY(cpu::matmul(pool, scratch, L.ffn_gate, h.data(), nq, g.data()).is_ok());
            QVERIFY(cpu::matmul(pool, scratch, L.ffn_up, h.data(), nq, u.data()).is_ok());
            for (size_t i = 0; i < g.size(); ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            QVERIFY(cpu::matmul(pool, scratch, L.ffn_down, g.data(), nq, o.data()).is_ok());
            for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
        }
        qInfo("recomputed pre-RoPE keys vs the runtime's: max relative deviation %.2e over layers", max_key_dev);
        QVERIFY2(max_key_dev < 1e-3, "the query recomputation does not follow the runtime's forward");
        for (int ci = 0; ci < kv_page::kNumCodecs; ++ci)
            qInfo("%s: attention output rel err over %d real queries x %d layers: %.5f", kv_page::codec_name(Codec(ci)),
                  nq, c.n_layer, rel(attn_e[ci], attn_n));
        const double ab[] = {2e-3, 0.02, 0.15, 0.6};
        for (int ci = 0; ci < kv_page::kNumCodecs; ++ci)
            QVERIFY2(rel(attn_e[ci], attn_n) < ab[ci], kv_page::codec_name(Codec(ci)));

        // End to end: the runtime attends the query tokens over each codec's document KV.
        const int V = c.n_vocab;
        for (int ci = 0; ci < kv_page::kNumCodecs; ++ci) {
            auto cc = KvCache::create(c, kDocTokens + kQueryTokens);
            std::vector<int32_t> pos(kDocTokens);
            for (int i = 0; i < kDocTokens; ++i) pos[i] = i;
            QVERIFY((*cc)->append(pos).is_ok());
            for (int l = 0; l < c.n_layer; ++l)
                QVERIFY((*cc)->write(l, 0, kDocTokens, dec[ci].k[l].data(), dec[ci].v[l].data()).is_ok());
            std::vector<float> lg;
            QVERIFY(fw.eval(**cc, qry, LogitsMode::all, &lg).is_ok());
            int agree = 0;
            double kl = 0;
            for (int i = 0; i < nq; ++i) {
                const float* a = ref_logits.data() + size_t(i) * V;
                const float* b = lg.data() + size_t(i) * V;
                agree += std::max_element(a, a + V) - a == std::max_element(b, b + V) - b;
                const float ma = *std::max_element(a, a + V), mb = *std::max_element(b, b + V);
                double za = 0, zb = 0;
                for (int t = 0; t < V; ++t) za += std::exp(a[t] - ma), zb += std::exp(b[t] - mb);
                for (int t = 0; t < V; ++t) {
                    const double pa = std::exp(a[t] - ma) / za;
                    kl += pa * ((a[t] - ma - std::log(za)) - (b[t] - mb - std::log(zb)));
                }
            }
            qInfo("%s: next-token top-1 agreement %d/%d, mean KL %.5f nats", kv_page::codec_name(Codec(ci)), agree, nq,
                  kl / nq);
            const double min_agree[] = {0.98, 0.95, 0.8, 0.4};
            QVERIFY2(agree >= min_agree[ci] * nq, kv_page::codec_name(Codec(ci)));
        }
    }
};

QTEST_GUILESS_MAIN(TestCodecErrorSmolLM2)
#include "test_store_codec_error_smollm2.moc"

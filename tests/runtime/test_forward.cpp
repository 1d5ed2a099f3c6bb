// The forward pass on tiny random models of each architecture (llama, qwen2 with biases, qwen3 with q/k norm)
// and on the real SmolLM2: causal masking (later tokens cannot change earlier logits), batch ==
// token-by-token == chunked evaluation, KV composition (a segment's pre-RoPE KV computed at positions 0..n-1
// and placed at offset p gives what evaluating it at p gives), and load-time validation errors that name the
// tensor.
#include <QTemporaryDir>
#include <QtTest>

#include "model/gguf_writer.h"
#include "runtime_test_util.h"
#include "test_paths.h"

using namespace docket;
using namespace docket::test;

namespace {

struct Case {
    const char* name;
    ModelArch arch;
    GgmlType type;
};
const Case kCases[] = {
    {"llama_f16", ModelArch::llama, GgmlType::F16},   {"qwen2_q8_0", ModelArch::qwen2, GgmlType::Q8_0},
    {"qwen3_q4_k", ModelArch::qwen3, GgmlType::Q4_K}, {"llama_q4_0", ModelArch::llama, GgmlType::Q4_0},
    {"qwen2_q6_k", ModelArch::qwen2, GgmlType::Q6_K},
};

std::vector<float> eval_all(const Model& m, const std::vector<TokenId>& toks, int ubatch, int step = 0) {
    CpuForward fw(m, 2, ubatch);
    auto cache = KvCache::create(m.config(), static_cast<int32_t>(toks.size()) + 8);
    std::vector<float> all, part;
    if (step <= 0) {
        Status s = fw.eval(**cache, toks, LogitsMode::all, &all);
        if (!s.is_ok()) qFatal("%s", s.to_string().c_str());
        return all;
    }
    for (size_t i = 0; i < toks.size(); i += step) {
        const size_t n = std::min<size_t>(step, toks.size() - i);
        Status s = fw.eval(**cache, std::span<const TokenId>(toks.data() + i, n), LogitsMode::all, &part);
        if (!s.is_ok()) qFatal("%s", s.to_string().c_str());
        all.insert(all.end(), part.begin(), part.end());
    }
    return all;
}

}  // namespace

class TestForward : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::vector<std::unique_ptr<Model>> models_;
    std::unique_ptr<Model> smollm2_;

    std::vector<const Model*> all_models() {
        std::vector<const Model*> v;
        for (auto& m : models_) v.push_back(m.get());
        v.push_back(smollm2_.get());
        return v;
    }
    static QByteArray label(const Model& m) {
        return QByteArray(arch_name(m.config().arch)) + " " + ggml_type_name(m.layer(0).wq.type) + " (" +
               m.gguf().name().c_str() + ")";
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        for (const Case& c : kCases) models_.push_back(tiny_model(dir_, c.arch, c.type));
        auto m = Model::load(smollm2_path());
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        smollm2_ = std::move(*m);
    }

    void config_is_read_from_metadata() {
        const ModelConfig& c = smollm2_->config();
        QCOMPARE(c.arch, Arch::llama);
        QCOMPARE(c.n_layer, 30);
        QCOMPARE(c.n_embd, 576);
        QCOMPARE(c.n_head, 9);
        QCOMPARE(c.n_head_kv, 3);
        QCOMPARE(c.head_dim, 64);
        QCOMPARE(c.n_ff, 1536);
        QCOMPARE(c.n_vocab, 49152);
        QCOMPARE(c.rope_freq_base, 100000.0f);
        QCOMPARE(c.rope_style, RopeStyle::normal);
        QVERIFY(c.tied_embeddings);
        QCOMPARE(smollm2_->output().data, smollm2_->token_embd().data);  // no copy: the same mmap'd bytes
        QCOMPARE(models_[1]->config().rope_style, RopeStyle::neox);
        QVERIFY(models_[1]->layer(0).bq.present());
        QVERIFY(models_[2]->layer(0).q_norm.present());
    }

    // context_length, rope.dimension_count and original_context_length were cast from u64 to int32 unchecked
    // (2^32 + 64 read as 64): each is range-checked like the other dimensions.
    void oversized_dims_in_metadata_are_errors() {
        for (const char* key : {"llama.context_length", "llama.rope.dimension_count",
                                "llama.rope.scaling.original_context_length"}) {
            GgufWriter w;
            QVERIFY(w.set_string("general.architecture", "llama").is_ok());
            QVERIFY(w.set_u32("llama.block_count", 2).is_ok());
            QVERIFY(w.set_u32("llama.embedding_length", 64).is_ok());
            QVERIFY(w.set_u32("llama.attention.head_count", 2).is_ok());
            QVERIFY(w.set_u32("llama.feed_forward_length", 128).is_ok());
            QVERIFY(w.set_u32("llama.vocab_size", 100).is_ok());
            QVERIFY(w.set_string("llama.rope.scaling.type", "llama3").is_ok());
            QVERIFY(w.set_u64(key, (uint64_t{1} << 32) + 16).is_ok());
            auto bytes = w.write_memory();
            QVERIFY(bytes.is_ok());
            auto g = GgufFile::parse(bytes->data(), bytes->size(), "dims.gguf");
            QVERIFY2(g.is_ok(), g.status().to_string().c_str());
            auto c = read_model_config(**g);
            QVERIFY2(!c.is_ok(), key);
            QCOMPARE(c.status().code(), ErrorCode::corrupt_data);
            QVERIFY2(c.status().message().find(key) != std::string::npos, c.status().to_string().c_str());
        }
    }

    // A rejected set_positions leaves every position as it was (it used to write the rows before the bad
    // one).
    void set_positions_validates_before_writing() {
        auto cache = new_cache(smollm2_->config(), 8);
        QVERIFY(cache->append(iota_positions(4, 0)).is_ok());
        const std::vector<int32_t> bad = {10, 11, -1, 13};
        QCOMPARE(cache->set_positions(0, bad).code(), ErrorCode::invalid_argument);
        for (int i = 0; i < 4; ++i) QCOMPARE(cache->positions()[i], i);
        QVERIFY(cache->set_positions(1, std::vector<int32_t>{7, 8}).is_ok());
        QCOMPARE(cache->positions()[1], 7);
        QCOMPARE(cache->positions()[2], 8);
    }

    void later_tokens_do_not_change_earlier_logits() {
        for (const Model* m : all_models()) {
            const int V = m->config().n_vocab, n = 24, k = 13;
            auto a = some_tokens(n, V), b = a;
            for (int i = k; i < n; ++i) b[i] = (b[i] + 1 + i) % V;
            const auto la = eval_all(*m, a, 128), lb = eval_all(*m, b, 128);
            // Rows before k saw identical inputs: bit-identical outputs (each row is computed independently).
            for (size_t i = 0; i < static_cast<size_t>(k) * V; ++i)
                QVERIFY2(la[i] == lb[i], label(*m).constData());
            bool differs = false;
            for (size_t i = static_cast<size_t>(k) * V; i < la.size() && !differs; ++i)
                differs = la[i] != lb[i];
            QVERIFY2(differs, label(*m).constData());
        }
    }

    void batch_equals_token_by_token_equals_chunks() {
        for (const Model* m : all_models()) {
            const int V = m->config().n_vocab, n = 40;
            const auto toks = some_tokens(n, V, 1);
            const auto one_batch = eval_all(*m, toks, 128);
            const auto chunked = eval_all(*m, toks, 7);        // internal chunks of 7
            const auto by_token = eval_all(*m, toks, 128, 1);  // 40 decode steps
            const auto calls = eval_all(*m, toks, 128, 11);    // several eval calls of 11
            for (const auto* other : {&chunked, &by_token, &calls}) {
                const double d = max_diff_over_range(one_batch, *other, V);
                qInfo("%s: max |diff| / range = %.2e", label(*m).constData(), d);
                QVERIFY2(d < 1e-4, label(*m).constData());
                for (int t = 0; t < n; ++t)
                    QCOMPARE(argmax(other->data() + t * V, V), argmax(one_batch.data() + t * V, V));
            }
        }
    }

    void segment_kv_placed_at_offset_equals_evaluating_it_there() {
        for (const Model* m : all_models()) {
            const ModelConfig& c = m->config();
            const int V = c.n_vocab, n = 12, p = 300, np = 6;
            const auto seg = some_tokens(n, V, 2), prefix = some_tokens(np, V, 3);
            const TokenId query = 5;
            CpuForward fw(*m, 2);
            std::vector<float> unused;

            // A: the segment alone at 0..n-1.
            auto a = new_cache(c, 64);
            QVERIFY(fw.eval(*a, seg, iota_positions(n, 0), LogitsMode::none, nullptr).is_ok());
            // B: the segment alone at p..p+n-1.
            auto b = new_cache(c, 64);
            QVERIFY(fw.eval(*b, seg, iota_positions(n, p), LogitsMode::none, nullptr).is_ok());
            // Pre-RoPE K/V do not depend on the offset (layer 0 exactly; deeper layers up to rounding).
            double worst = 0.0;
            for (int l = 0; l < c.n_layer; ++l) {
                const size_t len = static_cast<size_t>(n) * a->row_size();
                for (size_t i = 0; i < len; ++i) {
                    if (l == 0) {
                        QCOMPARE(a->k(l)[i], b->k(l)[i]);
                        QCOMPARE(a->v(l)[i], b->v(l)[i]);
                    }
                    worst = std::max<double>(
                        worst, std::fabs(a->k(l)[i] - b->k(l)[i]) / (std::fabs(b->k(l)[i]) + 1));
                    worst = std::max<double>(
                        worst, std::fabs(a->v(l)[i] - b->v(l)[i]) / (std::fabs(b->v(l)[i]) + 1));
                }
            }
            qInfo("%s: pre-RoPE KV at offset 0 vs %d: max rel diff %.2e", label(*m).constData(), p, worst);
            QVERIFY2(worst < 1e-4, label(*m).constData());

            // With a shared prefix, as Docket composes: [prefix at 0..np-1][segment at np..] [query].
            auto compose = [&](const KvCache& seg_kv) {
                auto cc = new_cache(c, 64);
                if (!fw.eval(*cc, prefix, iota_positions(np, 0), LogitsMode::none, nullptr).is_ok())
                    qFatal("prefix");
                const auto first = cc->append(iota_positions(n, np));
                if (!first) qFatal("append");
                std::vector<float> k(static_cast<size_t>(n) * seg_kv.row_size()), v(k.size());
                for (int l = 0; l < c.n_layer; ++l) {
                    if (!seg_kv.read(l, 0, n, k.data(), v.data()).is_ok()) qFatal("read");
                    if (!cc->write(l, *first, n, k.data(), v.data()).is_ok()) qFatal("write");
                }
                std::vector<float> logits;
                const int32_t qpos = np + n;
                if (!fw.eval(*cc, std::span<const TokenId>(&query, 1), std::span<const int32_t>(&qpos, 1),
                             LogitsMode::last, &logits)
                         .is_ok())
                    qFatal("query");
                return logits;
            };
            auto at_np = new_cache(c, 64);  // the segment alone, evaluated at its target offset
            QVERIFY(fw.eval(*at_np, seg, iota_positions(n, np), LogitsMode::none, nullptr).is_ok());
            const auto placed = compose(*a), direct = compose(*at_np);
            const double d = max_diff_over_range(direct, placed, V);
            qInfo("%s: composed query logits, placed vs evaluated at offset: max |diff| / range = %.2e",
                  label(*m).constData(), d);
            QVERIFY2(d < 1e-4, label(*m).constData());
            QCOMPARE(argmax(placed.data(), V), argmax(direct.data(), V));

            // Moving cached tokens re-rotates their keys: B's tokens re-placed at 0.. now equal A's outputs.
            QVERIFY(b->set_positions(0, iota_positions(n, 0)).is_ok());
            std::vector<float> la, lb;
            const int32_t qp = n;
            QVERIFY(fw.eval(*a, std::span<const TokenId>(&query, 1), std::span<const int32_t>(&qp, 1),
                            LogitsMode::last, &la)
                        .is_ok());
            QVERIFY(fw.eval(*b, std::span<const TokenId>(&query, 1), std::span<const int32_t>(&qp, 1),
                            LogitsMode::last, &lb)
                        .is_ok());
            QVERIFY2(max_diff_over_range(la, lb, V) < 1e-4, label(*m).constData());
        }
    }

    void attention_masks_by_position_not_by_order() {
        // Tokens appended out of order: a query at position 5 sees exactly the tokens at positions <= 5.
        const Model& m = *models_[0];
        const int V = m.config().n_vocab;
        CpuForward fw(m, 2);
        const auto toks = some_tokens(8, V, 4);
        const std::vector<int32_t> shuffled = {3, 0, 7, 1, 6, 2, 5, 4};
        std::vector<TokenId> by_pos(8);
        for (int i = 0; i < 8; ++i) by_pos[shuffled[i]] = toks[i];
        std::vector<float> l1, l2;
        auto c1 = new_cache(m.config(), 16);
        QVERIFY(fw.eval(*c1, toks, shuffled, LogitsMode::all, &l1).is_ok());
        auto c2 = new_cache(m.config(), 16);
        QVERIFY(fw.eval(*c2, by_pos, iota_positions(8, 0), LogitsMode::all, &l2).is_ok());
        for (int i = 0; i < 8; ++i) {
            std::vector<float> a(l1.begin() + i * V, l1.begin() + (i + 1) * V);
            std::vector<float> b(l2.begin() + shuffled[i] * V, l2.begin() + (shuffled[i] + 1) * V);
            QVERIFY(max_diff_over_range(a, b, V) < 1e-5);
        }
    }

    void errors_are_values() {
        const Model& m = *models_[0];
        CpuForward fw(m, 1);
        auto cache = new_cache(m.config(), 4);
        std::vector<float> l;
        const std::vector<TokenId> bad = {1, m.config().n_vocab};
        Status s = fw.eval(*cache, bad, LogitsMode::last, &l);
        QCOMPARE(s.code(), ErrorCode::invalid_argument);
        QCOMPARE(cache->size(), 0);
        const auto five = some_tokens(5, m.config().n_vocab);
        s = fw.eval(*cache, five, LogitsMode::last, &l);  // capacity 4
        QCOMPARE(s.code(), ErrorCode::out_of_memory);
        QCOMPARE(cache->size(), 0);
        QVERIFY(!Model::load(dir_.filePath("missing.gguf").toStdString()).is_ok());
    }

    void load_rejects_missing_or_misshapen_tensors() {
        const GgufFile& g = models_[1]->gguf();  // qwen2: biases required
        auto rewrite = [&](const std::string& drop, const std::string& reshape) {
            GgufWriter w;
            for (const auto& kv : g.kvs())
                if (kv.key != "general.alignment")
                    if (!w.set(std::string(kv.key), GgufWriteValue::from_read(kv.value)).is_ok())
                        qFatal("kv");
            for (const auto& t : g.tensors()) {
                if (t.name == drop) continue;
                std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
                std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
                if (t.name == reshape) std::swap(ne[0], ne[1]);
                if (!w.add_tensor(t.name, t.type, ne, bytes).is_ok()) qFatal("tensor");
            }
            return std::move(*w.write_memory());
        };
        {
            auto bytes = rewrite("blk.1.attn_k.bias", "");
            auto f = GgufFile::parse(bytes.data(), bytes.size(), "no_bias.gguf");
            QVERIFY(f.is_ok());
            auto m = Model::from_gguf(std::move(*f));
            QVERIFY(!m.is_ok());
            QCOMPARE(m.status().code(), ErrorCode::not_found);
            QVERIFY2(m.status().message().find("blk.1.attn_k.bias") != std::string::npos,
                     m.status().message().c_str());
        }
        {
            auto bytes = rewrite("", "blk.0.ffn_up.weight");
            auto f = GgufFile::parse(bytes.data(), bytes.size(), "bad_shape.gguf");
            QVERIFY(f.is_ok());
            auto m = Model::from_gguf(std::move(*f));
            QVERIFY(!m.is_ok());
            QVERIFY2(m.status().message().find("blk.0.ffn_up.weight") != std::string::npos,
                     m.status().message().c_str());
            qInfo("%s", m.status().to_string().c_str());
        }
    }
};

QTEST_APPLESS_MAIN(TestForward)
#include "test_forward.moc"

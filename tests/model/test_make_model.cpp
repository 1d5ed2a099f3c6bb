// make-model writes valid, deterministic llama.cpp-style GGUFs: the real SmolLM2 tensor table, all metadata a
// loader needs, finite weights of the intended scale; the CLI reports bad input in one line with exit code 1.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "cli_program.h"
#include "model/dequant.h"
#include "model/gguf.h"
#include "model/model_maker.h"
#include "test_paths.h"

using namespace docket;

namespace {

std::vector<char> slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

Status make(const std::string& shape, GgmlType type, ModelArch arch, uint64_t seed, const std::string& out,
            int threads = 0, const std::string& vocab = "") {
    MakeModelOptions o;
    o.shape = *model_shape(shape);
    o.type = type;
    o.arch = arch;
    o.seed = seed;
    o.threads = threads;
    o.vocab_from = vocab;
    return make_model(o, out);
}

struct CliResult {
    int code;
    QString out, err;
};
CliResult run_cli(const QStringList& args) {
    QProcess p;
    p.start(QString::fromStdString(docket::test::cli_program(args.value(0).toStdString())), args);
    p.waitForFinished(120000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

}  // namespace

class TestMakeModel : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) { return dir_.filePath(name).toStdString(); }

private slots:
    void tiny_models_are_complete_and_finite() {
        QFETCH(int, type);
        QFETCH(int, arch);
        const auto a = static_cast<ModelArch>(arch);
        const std::string out = path("tiny.gguf");
        Status st = make("tiny", static_cast<GgmlType>(type), a, 7, out);
        QVERIFY2(st.is_ok(), st.to_string().c_str());
        auto f = GgufFile::open(out);
        QVERIFY2(f.is_ok(), f.status().to_string().c_str());
        const GgufFile& g = **f;
        const std::string an = model_arch_name(a);
        const ModelShape s = *model_shape("tiny");
        QCOMPARE(std::string(*g.get_string("general.architecture")), an);
        QCOMPARE(*g.get_uint(an + ".block_count"), uint64_t(s.n_layer));
        QCOMPARE(*g.get_uint(an + ".embedding_length"), uint64_t(s.n_embd));
        QCOMPARE(*g.get_uint(an + ".feed_forward_length"), uint64_t(s.n_ff));
        QCOMPARE(*g.get_uint(an + ".attention.head_count"), uint64_t(s.n_head));
        QCOMPARE(*g.get_uint(an + ".attention.head_count_kv"), uint64_t(s.n_head_kv));
        QCOMPARE(*g.get_uint(an + ".rope.dimension_count"), uint64_t(s.head_dim));
        QCOMPARE(*g.get_uint(an + ".context_length"), uint64_t(s.n_ctx));
        QCOMPARE(*g.get_uint(an + ".vocab_size"), uint64_t(s.n_vocab));
        QCOMPARE(*g.get_float(an + ".rope.freq_base"), double(s.rope_base));
        QVERIFY(std::abs(*g.get_float(an + ".attention.layer_norm_rms_epsilon") - 1e-5) < 1e-9);
        auto tokens = *g.get_string_array("tokenizer.ggml.tokens");
        QCOMPARE(tokens.size(), size_t(s.n_vocab));
        QCOMPARE(std::string(*g.get_string("tokenizer.ggml.model")), std::string("gpt2"));
        QCOMPARE(std::string(*g.get_string("tokenizer.ggml.pre")), std::string("gpt-2"));

        std::set<std::string> names;
        for (const auto& t : g.tensors()) names.insert(t.name);
        const bool qwen2 = a == ModelArch::qwen2, qwen3 = a == ModelArch::qwen3;
        QCOMPARE(names.count("blk.1.attn_q.bias"), size_t(qwen2));
        QCOMPARE(names.count("blk.1.attn_v.bias"), size_t(qwen2));
        QCOMPARE(names.count("blk.1.attn_k_norm.weight"), size_t(qwen3));
        QCOMPARE(names.count("output.weight"), size_t(0));  // tied
        QCOMPARE(g.tensors().size(), size_t(2 + s.n_layer * (9 + (qwen2 ? 3 : 0) + (qwen3 ? 2 : 0))));
        const GgufTensor* q = g.find_tensor("blk.0.attn_q.weight");
        QVERIFY(q);
        QCOMPARE(q->ne[0], int64_t(s.n_embd));
        QCOMPARE(q->ne[1], int64_t(s.n_head) * s.head_dim);
        QCOMPARE(q->type, static_cast<GgmlType>(type));
        const GgufTensor* k = g.find_tensor("blk.0.attn_k.weight");
        QCOMPARE(k->ne[1], int64_t(s.n_head_kv) * s.head_dim);
        QCOMPARE(g.find_tensor("blk.0.ffn_down.weight")->ne[0], int64_t(s.n_ff));
        QCOMPARE(g.find_tensor("token_embd.weight")->ne[1], int64_t(s.n_vocab));

        for (const auto& t : g.tensors()) {
            std::vector<float> x(static_cast<size_t>(t.nelements()));
            for (int64_t r = 0; r < t.nrows(); ++r)
                QVERIFY(dequantize_row(t.type, t.row(r), x.data() + r * t.ne[0], t.ne[0]).is_ok());
            double sum = 0, sq = 0;
            for (float v : x) {
                QVERIFY2(std::isfinite(v), t.name.c_str());
                sum += v, sq += double(v) * v;
            }
            const double mean = sum / x.size(), sd = std::sqrt(sq / x.size() - mean * mean);
            if (t.name.find("norm") != std::string::npos) {
                QVERIFY2(mean == 1.0 && sd == 0.0, t.name.c_str());
            } else if (t.ne[1] > 1) {
                QVERIFY2(sd > 0.017 && sd < 0.023 && std::abs(mean) < 0.002,
                         qPrintable(QString("%1: mean %2 sd %3").arg(t.name.c_str()).arg(mean).arg(sd)));
            }
        }
    }
    void tiny_models_are_complete_and_finite_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("arch");
        for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K})
            QTest::newRow(ggml_type_name(t)) << int(t) << int(ModelArch::llama);
        QTest::newRow("qwen2 Q8_0") << int(GgmlType::Q8_0) << int(ModelArch::qwen2);
        QTest::newRow("qwen3 Q4_K") << int(GgmlType::Q4_K) << int(ModelArch::qwen3);
    }

    void same_seed_same_bytes_whatever_the_threads() {
        QVERIFY(make("tiny", GgmlType::Q4_K, ModelArch::llama, 42, path("a.gguf"), 1).is_ok());
        QVERIFY(make("tiny", GgmlType::Q4_K, ModelArch::llama, 42, path("b.gguf"), 3).is_ok());
        QVERIFY(make("tiny", GgmlType::Q4_K, ModelArch::llama, 43, path("c.gguf"), 2).is_ok());
        const auto a = slurp(path("a.gguf")), b = slurp(path("b.gguf")), c = slurp(path("c.gguf"));
        QVERIFY(!a.empty());
        QVERIFY(a == b);
        QCOMPARE(a.size(), c.size());
        QVERIFY(a != c);
    }

    // The smollm2-135m shape reproduces the real SmolLM2 file's tensor table (names and ggml ne order).
    void smollm2_shape_matches_the_real_tensor_table() {
        auto real = GgufFile::open(test::smollm2_path());
        QVERIFY2(real.is_ok(), real.status().to_string().c_str());
        QVERIFY(make("smollm2-135m", GgmlType::Q4_0, ModelArch::llama, 1, path("smol.gguf")).is_ok());
        auto made = GgufFile::open(path("smol.gguf"));
        QVERIFY2(made.is_ok(), made.status().to_string().c_str());
        QCOMPARE((*made)->tensors().size(), (*real)->tensors().size());
        for (const auto& t : (*real)->tensors()) {
            const GgufTensor* m = (*made)->find_tensor(t.name);
            QVERIFY2(m, t.name.c_str());
            QCOMPARE(m->n_dims, t.n_dims);
            for (int d = 0; d < 4; ++d) QCOMPARE(m->ne[d], t.ne[d]);
        }
        for (const char* key : {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                                "llama.attention.head_count", "llama.attention.head_count_kv",
                                "llama.vocab_size", "llama.rope.dimension_count", "llama.context_length"})
            QCOMPARE(*(*made)->get_uint(key), *(*real)->get_uint(key));
        QCOMPARE(*(*made)->get_float("llama.rope.freq_base"), *(*real)->get_float("llama.rope.freq_base"));
    }

    void llama3_shapes_carry_rope_factors() {
        // Only the header matters here; llama3-1b is 0.7 GB as Q4_K, so check the plan through a tiny copy of
        // the rope computation instead: rope_freqs of llama3-1b must rise from 1 to the scaling factor (32).
        auto s = *model_shape("llama3-1b");
        QVERIFY(s.llama3_rope && s.tied_embeddings);
        QCOMPARE(s.rope_factor, 32.0f);
        auto s8 = *model_shape("llama3-8b");
        QVERIFY(s8.llama3_rope && !s8.tied_embeddings);
        QCOMPARE(s8.head_dim, 128);
        // A shape with llama3 scaling but tiny dims, written for real.
        MakeModelOptions o;
        o.shape = *model_shape("tiny");
        o.shape.llama3_rope = true;
        o.shape.rope_factor = 8.0f;
        o.shape.rope_base = 500000.0f;
        o.shape.tied_embeddings = false;
        QVERIFY(make_model(o, path("l3.gguf")).is_ok());
        auto f = GgufFile::open(path("l3.gguf"));
        QVERIFY(f.is_ok());
        const GgufTensor* rf = (*f)->find_tensor("rope_freqs.weight");
        QVERIFY(rf);
        QCOMPARE(rf->ne[0], int64_t(o.shape.head_dim / 2));
        std::vector<float> v(rf->ne[0]);
        std::memcpy(v.data(), rf->data, v.size() * 4);
        QCOMPARE(v.front(), 1.0f);
        QCOMPARE(v.back(), 8.0f);
        for (size_t i = 1; i < v.size(); ++i) QVERIFY(v[i] >= v[i - 1]);
        QVERIFY((*f)->find_tensor("output.weight"));
        QCOMPARE(*(*f)->get_uint("llama.rope.scaling.original_context_length"), uint64_t(8192));
    }

    void default_vocab_is_byte_level_gpt2() {
        QVERIFY(make("tiny", GgmlType::F16, ModelArch::llama, 1, path("v.gguf")).is_ok());
        auto f = GgufFile::open(path("v.gguf"));
        auto tokens = *(*f)->get_string_array("tokenizer.ggml.tokens");
        auto types = *(*f)->get_int_array("tokenizer.ggml.token_type");
        QCOMPARE(std::string(tokens['A']), std::string("A"));
        QCOMPARE(std::string(tokens[' ']), std::string("Ġ"));
        QCOMPARE(std::string(tokens['\n']), std::string("Ċ"));
        QCOMPARE(std::string(tokens[0]), std::string("Ā"));
        QCOMPARE(std::string(tokens[255]), std::string("ÿ"));
        std::set<std::string_view> uniq(tokens.begin(), tokens.end());
        QCOMPARE(uniq.size(), tokens.size());
        const auto bos = *(*f)->get_uint("tokenizer.ggml.bos_token_id");
        const auto eos = *(*f)->get_uint("tokenizer.ggml.eos_token_id");
        QCOMPARE(std::string(tokens[bos]), std::string("<|begin_of_text|>"));
        QCOMPARE(std::string(tokens[eos]), std::string("<|end_of_text|>"));
        QCOMPARE(types[bos], int64_t(3));
        QCOMPARE(std::string(tokens.back()),
                 "<|reserved_" + std::to_string(tokens.size() - 256 - 24 - 7 - 1) + "|>");
        QVERIFY(std::find(tokens.begin(), tokens.end(), "<|im_start|>") != tokens.end());
        const auto merges = *(*f)->get_string_array("tokenizer.ggml.merges");
        QVERIFY(merges.size() >= 16);
        for (auto m : merges) {
            const auto sp = m.find(' ');
            QVERIFY(sp != std::string_view::npos);
            QVERIFY(uniq.count(m.substr(0, sp)) && uniq.count(m.substr(sp + 1)));
            QVERIFY(uniq.count(std::string(m.substr(0, sp)) + std::string(m.substr(sp + 1))));
        }
    }

    void vocab_from_copies_a_real_tokenizer() {
        const std::string src = test::shared_dir() + "/data/tokenizer/ggml-vocab-llama-spm.gguf";
        QVERIFY(make("tiny", GgmlType::Q8_0, ModelArch::llama, 1, path("spm.gguf"), 0, src).is_ok());
        auto f = GgufFile::open(path("spm.gguf"));
        auto v = GgufFile::open(src);
        QVERIFY(f.is_ok() && v.is_ok());
        QCOMPARE(*(*f)->get_string_array("tokenizer.ggml.tokens"),
                 *(*v)->get_string_array("tokenizer.ggml.tokens"));
        QCOMPARE(*(*f)->get_f32_array("tokenizer.ggml.scores"),
                 *(*v)->get_f32_array("tokenizer.ggml.scores"));
        QCOMPARE(std::string(*(*f)->get_string("tokenizer.ggml.model")), std::string("llama"));
        const uint64_t n = (*v)->get_string_array("tokenizer.ggml.tokens")->size();
        QCOMPARE(*(*f)->get_uint("llama.vocab_size"), n);
        QCOMPARE(uint64_t((*f)->find_tensor("token_embd.weight")->ne[1]), n);
    }

    void cli_reports_bad_input_in_one_line() {
        auto r =
            run_cli({"make-model", "--shape", "huge", "--type", "q4_k", "--out", dir_.filePath("x.gguf")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("unknown model shape 'huge'") && r.err.contains("llama3-8b"),
                 qPrintable(r.err));
        r = run_cli({"make-model", "--shape", "tiny", "--type", "q3_k", "--out", dir_.filePath("x.gguf")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("unknown weight type 'q3_k'"), qPrintable(r.err));
        r = run_cli({"make-model", "--shape", "tiny", "--type", "q8_0", "--arch", "gpt", "--out",
                     dir_.filePath("x.gguf")});
        QCOMPARE(r.code, 1);
        QVERIFY(!QFile::exists(dir_.filePath("x.gguf")));

        r = run_cli({"make-model", "--shape", "tiny", "--type", "q8_0", "--seed", "3", "--out",
                     dir_.filePath("ok.gguf"), "--quiet"});
        QCOMPARE(r.code, 0);
        // A truncated model: model-info prints one error line and exits 1.
        const auto full = slurp(dir_.filePath("ok.gguf").toStdString());
        QVERIFY(full.size() > 10000);
        {
            std::ofstream t(dir_.filePath("truncated.gguf").toStdString(), std::ios::binary);
            t.write(full.data(), 5000);
        }
        r = run_cli({"model-info", "--model", dir_.filePath("truncated.gguf")});
        QCOMPARE(r.code, 1);
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY2(r.err.startsWith("docket-dev model-info: corrupt data:") && r.err.contains("offset"),
                 qPrintable(r.err));
        r = run_cli({"model-info", "--model", dir_.filePath("ok.gguf")});
        QCOMPARE(r.code, 0);
    }
};

QTEST_GUILESS_MAIN(TestMakeModel)
#include "test_make_model.moc"

// The whole model on the GPU against the CPU runtime (the reference): top-1 agreement of the logits at every
// prompt position (>= 99%) and an identical greedy 32-token continuation. Runs on random-weight models of
// real shapes written by make-model, and on SmolLM2 with the golden prompts (tests/golden/data) when the
// file is present. Each disagreement is classed by the CPU's own top-1/top-2 gap: a gap smaller than the
// largest GPU-CPU logit difference is a near tie (numerics), a larger one points at a bug. The random models
// also run with bf16 prefill operands, printed beside f16 for comparison. Skips when no GPU is usable.
#include <QtTest>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <filesystem>
#include <random>

#include "device.cuh"
#include "model/model_maker.h"
#include "runtime/cuda/cuda_context.h"
#include "runtime/cuda/cuda_model.h"
#include "runtime/forward.h"
#include "test_paths.h"

using namespace docket;

namespace {
int argmax(const float* v, int n) {
    return static_cast<int>(std::max_element(v, v + n) - v);
}
float top_gap(const float* v, int n) {  // top-1 minus top-2
    float a = -INFINITY, b = -INFINITY;
    for (int i = 0; i < n; ++i) {
        if (v[i] > a)
            b = a, a = v[i];
        else if (v[i] > b)
            b = v[i];
    }
    return a - b;
}

struct CpuRun {
    std::vector<float> logits;  // [len][V]
    std::vector<int32_t> cont;  // greedy 32
    std::vector<float> gap;     // CPU top-1 minus top-2 at each greedy step
};

struct Tally {
    int agree = 0, total = 0, near_tie = 0, same_cont = 0, prompts = 0;
    int cont_diverged_at_tie = 0;  // continuations that first differ at a step whose CPU gap is a near tie
    double max_diff = 0;
};

CpuRun run_cpu(const Model& model, CpuForward& cpu, const std::vector<int32_t>& prompt, int steps) {
    CpuRun r;
    const int V = model.config().n_vocab;
    auto cache = KvCache::create(model.config(), static_cast<int32_t>(prompt.size()) + steps + 8);
    if (!cache.is_ok()) return r;
    std::vector<TokenId> ptoks(prompt.begin(), prompt.end());
    if (!cpu.eval(**cache, ptoks, LogitsMode::all, &r.logits).is_ok()) return {};
    int32_t t = argmax(r.logits.data() + (prompt.size() - 1) * V, V);
    r.gap.push_back(top_gap(r.logits.data() + (prompt.size() - 1) * V, V));
    for (int s = 0; s < steps; ++s) {
        r.cont.push_back(t);
        std::vector<float> l1;
        std::vector<TokenId> one = {t};
        if (!cpu.eval(**cache, one, LogitsMode::last, &l1).is_ok()) return {};
        t = argmax(l1.data(), V);
        r.gap.push_back(top_gap(l1.data(), V));
    }
    return r;
}

// GPU prefill + greedy continuation of `prompt`, compared with the CPU's. Returns "" or an error.
std::string compare_gpu(cuda::CudaModel& gm, const Model& model, const std::vector<int32_t>& prompt,
                        const CpuRun& ref, int steps, const std::string& label, Tally& t) {
    const int V = model.config().n_vocab;
    const int len = static_cast<int>(prompt.size());
    std::vector<float> gl;
    gm.reset();
    if (Status s = gm.prefill(prompt, true, &gl); !s.is_ok()) return s.to_string();
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(len) * V; ++i) {
        if (!std::isfinite(gl[i])) return "NaN/inf in GPU logits";
        max_diff = std::max(max_diff, std::abs(static_cast<double>(gl[i]) - ref.logits[i]));
        max_ref = std::max(max_ref, std::abs(static_cast<double>(ref.logits[i])));
    }
    int agree = 0, ties = 0;
    std::string where;
    for (int i = 0; i < len; ++i) {
        const float* c = ref.logits.data() + static_cast<int64_t>(i) * V;
        const int a = argmax(c, V), b = argmax(gl.data() + static_cast<int64_t>(i) * V, V);
        if (a == b) {
            ++agree;
        } else {
            const float gap = top_gap(c, V);
            ties += gap < max_diff;
            if (where.size() < 400) where += fmt::format(" pos {} cpu {} gpu {} gap {:.4f};", i, a, b, gap);
        }
    }
    std::vector<int32_t> cont;
    int32_t tok = argmax(gl.data() + static_cast<int64_t>(len - 1) * V, V);
    for (int s = 0; s < steps; ++s) {
        cont.push_back(tok);
        int32_t next = 0;
        if (Status st = gm.decode(tok, nullptr, &next); !st.is_ok()) return st.to_string();
        tok = next;
    }
    const bool same = cont == ref.cont;
    std::string cs;
    if (!same) {
        std::string a, b;
        int first = 0;
        while (cont[first] == ref.cont[first]) ++first;
        for (int s = 0; s < steps; ++s)
            a += std::to_string(ref.cont[s]) + " ", b += std::to_string(cont[s]) + " ";
        // Step `first` was chosen from the logits after the previous step (gap[first]).
        const bool tie = ref.gap[first] < max_diff;
        t.cont_diverged_at_tie += tie;
        cs = fmt::format("DIFFER from step {} (CPU top-1/top-2 gap there {:.4f}: {})\n  cpu {}\n  gpu {}",
                         first, ref.gap[first], tie ? "near tie" : "NOT a near tie", a, b);
    }
    qInfo(
        "%s (%d tokens): top-1 %d/%d, max |logit diff| %.4f (max |logit| %.2f); disagreements that are "
        "near ties %d/%d;%s greedy %d %s",
        label.c_str(), len, agree, len, max_diff, max_ref, ties, len - agree, where.c_str(), steps,
        same ? "identical" : cs.c_str());
    t.agree += agree, t.total += len, t.near_tie += ties, t.same_cont += same, ++t.prompts;
    t.max_diff = std::max(t.max_diff, max_diff);
    return {};
}
}  // namespace

// Random prompts per model: 1,000 positions, from a 3-chunk prefill down to a 5-token one.
constexpr int kPromptLens[] = {700, 250, 45, 5};

class TestCudaModel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        const auto info = cuda::query_devices();
        if (info.count == 0) QSKIP(qPrintable(QString::fromStdString("no usable GPU: " + info.error)));
        auto c = cuda::CudaContext::create(0);
        QVERIFY2(c.is_ok(), c.status().to_string().c_str());
        ctx_ = std::move(*c);
        dir_ = std::filesystem::temp_directory_path() / "docket_cuda_model_test";
        std::filesystem::create_directories(dir_);
    }

    void gpu_matches_cpu_data() {
        QTest::addColumn<QString>("shape");
        QTest::addColumn<QString>("type");
        QTest::newRow("random smollm2-135m q4_k (falls back to Q4_1 rows)") << "smollm2-135m"
                                                                            << "q4_k";
        QTest::newRow("random smollm2-135m q8_0") << "smollm2-135m"
                                                  << "q8_0";
        QTest::newRow("random llama3-1b q4_k (llama3 rope, hd 64)") << "llama3-1b"
                                                                    << "q4_k";
        QTest::newRow("random llama3-1b q6_k") << "llama3-1b"
                                               << "q6_k";
    }
    void gpu_matches_cpu() {
        QFETCH(QString, shape);
        QFETCH(QString, type);
        const std::string path = (dir_ / (shape + "-" + type + ".gguf").toStdString()).string();
        if (!std::filesystem::exists(path)) {
            MakeModelOptions o;
            auto s = model_shape(shape.toStdString());
            QVERIFY2(s.is_ok(), s.status().to_string().c_str());
            o.shape = *s;
            auto t = parse_weight_type(type.toStdString());
            QVERIFY2(t.is_ok(), t.status().to_string().c_str());
            o.type = *t;
            o.seed = 7;
            const Status st = make_model(o, path);
            QVERIFY2(st.is_ok(), st.to_string().c_str());
        }
        auto m = Model::load(path);
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        const Model& model = **m;
        const int V = model.config().n_vocab;
        CpuForward cpu(model, 0, 64);
        Tally tally[2];
        std::vector<CpuRun> cpu_runs;           // computed once, compared with both GPU modes
        for (int mode = 0; mode < 2; ++mode) {  // 0: f16 prefill (default, asserted), 1: bf16 (printed)
            cuda::CudaModelOptions go;
            go.capacity = 1024;
            go.max_chunk = 256;  // the 700-token prompt takes three chunks: chunked prefill over cached context
            go.prefill_bf16 = mode == 1;
            auto gm = cuda::CudaModel::create(model, *ctx_, go);
            QVERIFY2(gm.is_ok(), gm.status().to_string().c_str());
            std::mt19937 rng(99);
            for (int pi = 0; pi < static_cast<int>(std::size(kPromptLens)); ++pi) {
                const int len = kPromptLens[pi];
                std::vector<int32_t> prompt(len);
                for (auto& t : prompt) t = static_cast<int32_t>(rng() % V);
                if (mode == 0) cpu_runs.push_back(run_cpu(model, cpu, prompt, 32));
                const CpuRun& ref = cpu_runs[pi];
                QVERIFY2(!ref.cont.empty(), "CPU forward failed");
                const std::string err =
                    compare_gpu(**gm, model, prompt, ref, 32,
                                fmt::format("{} prefill, prompt {}", mode ? "bf16" : "f16", pi), tally[mode]);
                QVERIFY2(err.empty(), err.c_str());
            }
        }
        for (int mode = 0; mode < 2; ++mode)
            qInfo(
                "%s, %s prefill: top-1 agreement %d/%d = %.2f%% (near ties among the misses: %d), identical "
                "greedy continuations %d/%d",
                path.c_str(), mode ? "bf16" : "f16", tally[mode].agree, tally[mode].total,
                100.0 * tally[mode].agree / tally[mode].total, tally[mode].near_tie, tally[mode].same_cont,
                tally[mode].prompts);
        // Random weights give flat logits over 49k-128k tokens, so top-1/top-2 gaps of 1e-4..1e-3 are common
        // and f16 rounding alone flips top-1 at ~0.3% of positions (tests/cuda/emulate_f16_prefill.py): the
        // 1,000 positions keep the 99% bar from deciding on a handful of ties. Besides the bar, every miss
        // must be a near tie (CPU gap below the largest GPU-CPU logit difference) and every continuation
        // split must start at one.
        QVERIFY2(static_cast<double>(tally[0].agree) / tally[0].total >= 0.99, "top-1 agreement under 99%");
        QCOMPARE(tally[0].near_tie, tally[0].total - tally[0].agree);
        QCOMPARE(tally[0].same_cont + tally[0].cont_diverged_at_tie, tally[0].prompts);
    }

    // SmolLM2-135M-Instruct (real weights) on the golden prompts' token ids: GPU against CPU on every prompt
    // position and a 32-token greedy continuation; the 2000-token CUAD excerpt takes 4 prefill chunks.
    void smollm2_golden_prompts_gpu_matches_cpu() {
        const std::string path = test::smollm2_path();
        if (!std::filesystem::exists(path)) QSKIP("SmolLM2 file not on this machine");
        std::string gdir = test::source_dir() + "/tests/golden/data";
        if (const char* e = std::getenv("DOCKET_GOLDEN_DATA")) gdir = e;
        auto m = Model::load(path);
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        const Model& model = **m;
        CpuForward cpu(model, 0, 64);
        cuda::CudaModelOptions go;
        go.capacity = 2112;
        go.max_chunk = 512;
        auto gm = cuda::CudaModel::create(model, *ctx_, go);
        QVERIFY2(gm.is_ok(), gm.status().to_string().c_str());
        Tally tally;
        for (const char* f : {"smollm2_logits.json", "smollm2_logits_cuad2k.json"}) {
            QFile file(QString::fromStdString(gdir + "/" + f));
            QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable("cannot open " + file.fileName()));
            const QJsonObject root = QJsonDocument::fromJson(file.readAll()).object();
            for (const auto& cv : root["cases"].toArray()) {
                const QJsonObject cs = cv.toObject();
                std::vector<int32_t> ids;
                for (const auto& v : cs["token_ids"].toArray()) ids.push_back(v.toInt());
                QVERIFY2(!ids.empty(), "golden case without token ids");
                const CpuRun ref = run_cpu(model, cpu, ids, 32);
                QVERIFY2(!ref.cont.empty(), "CPU forward failed");
                const std::string err =
                    compare_gpu(**gm, model, ids, ref, 32, cs["name"].toString().toStdString(), tally);
                QVERIFY2(err.empty(), err.c_str());
            }
        }
        qInfo(
            "SmolLM2 golden prompts: top-1 agreement %d/%d = %.2f%% (near ties among the misses: %d), "
            "identical greedy continuations %d/%d, max |logit diff| %.4f",
            tally.agree, tally.total, 100.0 * tally.agree / tally.total, tally.near_tie, tally.same_cont,
            tally.prompts, tally.max_diff);
        QVERIFY2(static_cast<double>(tally.agree) / tally.total >= 0.99, "top-1 agreement under 99%");
        QCOMPARE(tally.near_tie, tally.total - tally.agree);
        QCOMPARE(tally.same_cont + tally.cont_diverged_at_tie, tally.prompts);
    }

private:
    std::unique_ptr<cuda::CudaContext> ctx_;
    std::filesystem::path dir_;
};

QTEST_GUILESS_MAIN(TestCudaModel)
#include "test_cuda_model.moc"

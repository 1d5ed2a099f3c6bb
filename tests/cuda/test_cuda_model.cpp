// The whole model on the GPU against the CPU runtime (the reference): top-1 agreement of the logits at every
// prompt position (>= 99%) and an identical greedy 32-token continuation. Runs on random-weight models of
// real shapes written by make-model, and on SmolLM2 when its file is present. Skips when no GPU is usable.
#include <QtTest>

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
}  // namespace

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
        QTest::newRow("SmolLM2-135M-Instruct Q4_1 (real weights)") << "smollm2-file"
                                                                   << "";
    }
    void gpu_matches_cpu() {
        QFETCH(QString, shape);
        QFETCH(QString, type);
        std::string path;
        if (shape == "smollm2-file") {
            path = test::smollm2_path();
            if (!std::filesystem::exists(path)) QSKIP("SmolLM2 file not on this machine");
        } else {
            path = (dir_ / (shape + "-" + type + ".gguf").toStdString()).string();
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
        }
        auto m = Model::load(path);
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        const Model& model = **m;
        const int V = model.config().n_vocab;
        cuda::CudaModelOptions go;
        go.capacity = 512;
        go.max_chunk = 96;  // the 150-token prompt takes two chunks: chunked prefill over cached context
        auto gm = cuda::CudaModel::create(model, *ctx_, go);
        QVERIFY2(gm.is_ok(), gm.status().to_string().c_str());
        CpuForward cpu(model, 0, 64);

        std::mt19937 rng(99);
        int agree = 0, total = 0, same_cont = 0;
        const int n_prompts = 3;
        for (int pi = 0; pi < n_prompts; ++pi) {
            const int len = pi == 0 ? 150 : pi == 1 ? 37 : 5;
            std::vector<int32_t> prompt(len);
            for (auto& t : prompt) t = static_cast<int32_t>(rng() % V);
            auto cache = KvCache::create(model.config(), 512);
            QVERIFY(cache.is_ok());
            std::vector<float> cl, gl;
            std::vector<TokenId> ptoks(prompt.begin(), prompt.end());
            QVERIFY(cpu.eval(**cache, ptoks, LogitsMode::all, &cl).is_ok());
            (*gm)->reset();
            const Status gs = (*gm)->prefill(prompt, true, &gl);
            QVERIFY2(gs.is_ok(), gs.to_string().c_str());
            double max_diff = 0, max_ref = 0;
            for (int i = 0; i < len; ++i) {
                agree += argmax(cl.data() + i * V, V) == argmax(gl.data() + i * V, V);
                ++total;
                for (int j = 0; j < V; ++j) {
                    QVERIFY2(std::isfinite(gl[i * V + j]), "NaN/inf in GPU logits");
                    max_diff =
                        std::max(max_diff, std::abs(static_cast<double>(gl[i * V + j]) - cl[i * V + j]));
                    max_ref = std::max(max_ref, std::abs(static_cast<double>(cl[i * V + j])));
                }
            }
            // Greedy continuation, 32 tokens, each side from its own argmax.
            std::vector<int32_t> cpu_cont, gpu_cont;
            int32_t ct = argmax(cl.data() + (len - 1) * V, V), gt = argmax(gl.data() + (len - 1) * V, V);
            for (int s = 0; s < 32; ++s) {
                cpu_cont.push_back(ct);
                gpu_cont.push_back(gt);
                std::vector<float> l1;
                std::vector<TokenId> one = {ct};
                QVERIFY(cpu.eval(**cache, one, LogitsMode::last, &l1).is_ok());
                ct = argmax(l1.data(), V);
                int32_t next = 0;
                const Status ds = (*gm)->decode(gt, nullptr, &next);
                QVERIFY2(ds.is_ok(), ds.to_string().c_str());
                gt = next;
            }
            same_cont += cpu_cont == gpu_cont;
            std::string a, b;
            for (int s = 0; s < 32; ++s)
                a += std::to_string(cpu_cont[s]) + " ", b += std::to_string(gpu_cont[s]) + " ";
            qInfo("prompt %d (%d tokens): max |logit diff| %.4f (max |logit| %.2f); greedy 32 %s", pi, len,
                  max_diff, max_ref,
                  cpu_cont == gpu_cont ? "identical" : ("DIFFER\n  cpu " + a + "\n  gpu " + b).c_str());
        }
        const double rate = static_cast<double>(agree) / total;
        qInfo("%s: top-1 agreement %d/%d = %.2f%%, identical greedy continuations %d/%d", path.c_str(), agree,
              total, 100 * rate, same_cont, n_prompts);
        QVERIFY2(rate >= 0.99, "top-1 agreement under 99%");
        QCOMPARE(same_cont, n_prompts);
    }

private:
    std::unique_ptr<cuda::CudaContext> ctx_;
    std::filesystem::path dir_;
};

QTEST_GUILESS_MAIN(TestCudaModel)
#include "test_cuda_model.moc"

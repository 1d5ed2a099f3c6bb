// Issue 13 items 7 and 12 at the engine level: the KV cache takes memory as tokens arrive, not for its whole
// capacity up front; a cancel request stops a prefill between chunks (the path the CLI's SIGINT and the UI's
// Stop button share), and the generation loop reports it as a stop reason, not an error.
#include <QtTest>

#include <thread>

#include "runtime/generate.h"
#include "runtime_test_util.h"
#include "test_paths.h"

using namespace docket;

class TestKvGrowthAndCancel : public QObject {
    Q_OBJECT
private slots:
    // `--ctx 30000` allocated 30000 tokens of KV before the first one (2.3 GB for SmolLM2).
    void kv_cache_memory_grows_with_use() {
        auto c = KvCache::create(2, 1, 64, 30000);
        QVERIFY(c.is_ok());
        KvCache& kv = **c;
        QCOMPARE(kv.capacity(), 30000);
        QCOMPARE(kv.bytes(), uint64_t(0));
        const int32_t row = kv.row_size();
        std::vector<float> k(row), v(row);
        // Rows written before a growth read back unchanged after it.
        for (int32_t t = 0; t < 1000; ++t) {
            const int32_t pos = t;
            QCOMPARE(*kv.append(std::span<const int32_t>(&pos, 1)), t);
            for (int32_t i = 0; i < row; ++i) k[i] = t * 1000.0f + i, v[i] = -k[i];
            for (int32_t l = 0; l < 2; ++l) QVERIFY(kv.write(l, t, 1, k.data(), v.data()).is_ok());
            QVERIFY(kv.allocated() >= kv.size() && kv.allocated() <= std::max(64, 2 * kv.size()));
        }
        for (int32_t t : {0, 63, 64, 511, 999}) {
            QVERIFY(kv.read(1, t, 1, k.data(), v.data()).is_ok());
            QCOMPARE(k[5], t * 1000.0f + 5);
            QCOMPARE(v[5], -(t * 1000.0f + 5));
            QCOMPARE(kv.positions()[t], t);
        }
        // Memory held: the allocated rows (K, V, rotated K per layer, positions), far below the capacity's.
        const uint64_t per_row = 2ull * 3 * row * sizeof(float) + sizeof(int32_t);
        QVERIFY2(kv.bytes() <= per_row * (kv.allocated() + 16), qPrintable(QString::number(kv.bytes())));
        QVERIFY(kv.bytes() < per_row * 30000 / 10);
        // The capacity is still the limit.
        std::vector<int32_t> more(29001, 0);
        QCOMPARE(kv.append(more).status().code(), ErrorCode::out_of_memory);
        QCOMPARE(kv.size(), 1000);
        more.pop_back();
        QVERIFY(kv.append(more).is_ok());
        QCOMPARE(kv.allocated(), 30000);
    }

    // SIGINT during prefill was only seen between decode steps, after the whole prompt (60 s and more).
    void prefill_stops_within_a_chunk_on_cancel() {
        auto m = Model::load(test::smollm2_path());
        QVERIFY2(m.is_ok(), m.status().to_string().c_str());
        CpuForward fw(**m, 1, /*ubatch=*/32);
        auto cache = KvCache::create((*m)->config(), 4096);
        QVERIFY(cache.is_ok());
        const std::vector<TokenId> prompt(2000, 260);  // ~20 s on one thread if nothing stops it
        CancelFlag cancel{true};
        std::vector<float> logits;
        Status st = fw.eval(**cache, prompt, LogitsMode::last, &logits, &cancel);
        QCOMPARE(st.code(), ErrorCode::cancelled);
        QCOMPARE((*cache)->size(), 0);

        // Set while the prompt runs: the loop stops at the next chunk and says so; the cache is rolled back.
        cancel = false;
        GenerateParams gp;
        gp.cancel = &cancel;
        std::thread stopper([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            cancel = true;
        });
        QElapsedTimer timer;
        timer.start();
        auto r = generate(fw, **cache, prompt, gp, nullptr, nullptr);
        stopper.join();
        QVERIFY2(r.is_ok(), r.status().to_string().c_str());
        QCOMPARE(r->stop, StopReason::cancelled);
        QCOMPARE(r->generated, 0);
        QCOMPARE((*cache)->size(), 0);  // the prefill itself was cancelled, not the first decode step
        QVERIFY2(timer.elapsed() < 5000, qPrintable(QString("%1 ms").arg(timer.elapsed())));
    }
};

QTEST_GUILESS_MAIN(TestKvGrowthAndCancel)
#include "test_kv_growth_and_cancel.moc"

// The runtime session seam on the CPU (runtime/session.h): the one backend choice (auto names why it runs on
// the CPU; cuda without a usable GPU is an error, not a silent CPU run), KV rows exported from one session
// and imported into another continue exactly as the original (the composition seam), and a failed eval or
// import leaves the rows as they were.
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>

#include "runtime/cuda/backend.h"
#include "runtime/session.h"
#include "runtime_test_util.h"

using namespace docket;

class TestSession : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::unique_ptr<Model> model_;

    std::unique_ptr<Session> open(const std::string& backend, int32_t capacity) {
        auto s = open_session(*model_, backend, capacity, 2);
        if (!s) qFatal("open_session: %s", s.status().to_string().c_str());
        return std::move(*s);
    }

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        model_ = test::tiny_model(dir_, ModelArch::llama, GgmlType::Q8_0);
    }

    void backend_is_chosen_once_with_its_reason() {
        auto choice = select_backend("auto");
        QVERIFY2(choice.is_ok(), choice.status().to_string().c_str());
        auto f = open_backend(*model_, "auto", 2);
        QVERIFY2(f.is_ok(), f.status().to_string().c_str());
        if (choice->backend == Backend::cpu) {
            QCOMPARE((*f)->backend(), Backend::cpu);
            // The reason stays in the description: "CPU (CUDA unavailable: ...), 2 threads".
            QVERIFY2((*f)->description().rfind(choice->detail, 0) == 0, (*f)->description().c_str());
            QVERIFY2((*f)->description().find("2 threads") != std::string::npos, (*f)->description().c_str());
            auto cuda = open_backend(*model_, "cuda", 2);
            QVERIFY2(!cuda.is_ok(), "cuda without a usable GPU must fail, not run on the CPU");
            QCOMPARE(cuda.status().code(), select_backend("cuda").status().code());
        }
        auto cpu = open_backend(*model_, "cpu", 2);
        QVERIFY(cpu.is_ok());
        QCOMPARE((*cpu)->backend(), Backend::cpu);
        auto bad = open_backend(*model_, "gpu", 2);
        QCOMPARE(bad.status().code(), ErrorCode::invalid_argument);
    }

    // Rows exported after a prefill and imported into a fresh session (at the same positions, and moved to
    // an offset) continue with the logits the original session gives.
    void exported_rows_continue_like_the_original() {
        const int V = model_->config().n_vocab;
        const auto a = test::some_tokens(40, V, 1), b = test::some_tokens(9, V, 2);
        auto s1 = open("cpu", 64), s2 = open("cpu", 64), s3 = open("cpu", 64);
        QVERIFY(s1->eval(a, LogitsMode::none, nullptr).is_ok());
        auto rows = export_rows(*s1, 0, 40);
        QVERIFY2(rows.is_ok(), rows.status().to_string().c_str());
        QCOMPARE(rows->n, 40);
        auto first = import_rows(*s2, *rows);
        QVERIFY2(first.is_ok(), first.status().to_string().c_str());
        QCOMPARE(*first, 0);
        QCOMPARE(s2->next_position(), 40);
        std::vector<float> l1, l2;
        QVERIFY(s1->eval(b, LogitsMode::all, &l1).is_ok());
        QVERIFY(s2->eval(b, LogitsMode::all, &l2).is_ok());
        QCOMPARE(l1.size(), static_cast<size_t>(9 * V));
        QVERIFY2(l1 == l2, "imported rows continue differently from the prefilled ones");
        // The same rows placed at positions 100..139 (pre-RoPE keys): the CPU session takes any positions,
        // and attention depends only on distances, so the continuation at 140.. matches to rounding.
        QVERIFY(import_rows(*s3, test::iota_positions(40, 100), *rows).is_ok());
        std::vector<float> l3;
        QVERIFY(s3->eval(b, test::iota_positions(9, 140), LogitsMode::all, &l3).is_ok());
        const double d = test::max_diff_over_range(l1, l3, V);
        qInfo("rows moved by 100 positions: max |logit diff| / range %.2e", d);
        QVERIFY2(d < 1e-3, "moved rows do not continue like the original");
    }

    void failed_eval_and_import_leave_the_rows_as_they_were() {
        const int V = model_->config().n_vocab;
        auto s = open("cpu", 32);
        QVERIFY(s->eval(test::some_tokens(10, V), LogitsMode::none, nullptr).is_ok());
        std::vector<TokenId> bad = {1, 2, V};
        QCOMPARE(s->eval(bad, LogitsMode::none, nullptr).code(), ErrorCode::invalid_argument);
        QCOMPARE(s->size(), 10);
        std::atomic<bool> cancel{true};
        QCOMPARE(s->eval(test::some_tokens(5, V), LogitsMode::none, nullptr, &cancel).code(),
                 ErrorCode::cancelled);
        QCOMPARE(s->size(), 10);
        auto rows = export_rows(*s, 2, 5);
        QVERIFY(rows.is_ok());
        rows->k.pop_back();
        QCOMPARE(import_rows(*s, *rows).status().code(), ErrorCode::invalid_argument);
        QCOMPARE(s->size(), 10);
        QVERIFY(!export_rows(*s, 5, 6).is_ok());  // rows [5, 11) of 10
        QCOMPARE(import_rows(*s, KvRows{30, {}, {}}).status().code(), ErrorCode::invalid_argument);
        QCOMPARE(s->size(), 10);
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"

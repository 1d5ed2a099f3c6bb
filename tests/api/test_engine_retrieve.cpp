// Engine::retrieve and Engine::context_budget (for `docket-cli eval --docs-only` and oracle contexts) with
// the real SmolLM2 on two short cuad-dev contracts: the ranking is best first, the selection fits the budget
// and is exactly the context ask places (so retrieval figures describe the answers' contexts), AnswerStats
// names the placed segments by (document, ordinal), and bad requests are errors.
#include <QtTest>

#include <unistd.h>

#include <filesystem>

#include "api/engine.h"
#include "test_paths.h"

using namespace docket;
namespace fs = std::filesystem;

namespace {

const char* kQuestion =
    "Under the laws of which jurisdiction is the Mutual Termination Agreement between Beijing SINA Internet "
    "Information Service Co. and Shanghai SINA Leju Information Technology Co. Ltd. governed?";

std::vector<std::pair<std::string, int>> refs(const std::vector<RankedSegment>& v) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& s : v) out.emplace_back(s.document, s.segment);
    return out;
}

}  // namespace

class TestEngineRetrieve : public QObject {
    Q_OBJECT
    std::string dir_;
    std::unique_ptr<Engine> engine_;

    AnswerStats ask(const std::string& mode, int64_t budget) {
        AskRequest r;
        r.collection = "contracts";
        r.question = kQuestion;
        r.mode = mode;
        r.budget_tokens = budget;
        r.max_answer_tokens = 8;
        AnswerStats stats;
        AnswerSink sink;
        sink.on_done = [&](const Status&, const AnswerStats& s) { stats = s; };
        Job job = engine_->ask(r, sink);
        const Status st = job.wait();
        if (!st) qFatal("ask: %s", st.to_string().c_str());
        return stats;
    }

private slots:
    void initTestCase() {
        dir_ = test::binary_dir() + "/test-scratch/engine-retrieve-" + std::to_string(::getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/docs");
        // The two shortest cuad-dev contracts with questions, in segments of 256 tokens.
        const std::string cuad = test::shared_dir() + "/data/cuad-dev/docs/";
        for (const char* f : {"LejuHoldingsLtd_20140121_DRS (on F-1)_EX-10.26_8473102_EX-10.26_Content "
                              "License Agreement2.txt",
                              "FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020-EX-99.SERV AGREE-SERVICES "
                              "AGREEMENT_AMENDMENT.txt"})
            fs::copy_file(cuad + f, dir_ + "/docs/" + f);
        EngineOptions o;
        o.data_dir = dir_ + "/data";
        o.model_path = test::smollm2_path();
        o.threads = 2;
        o.segment_tokens = 256;  // several segments per document, so budgets choose among them
        auto e = Engine::open(o);
        if (!e) qFatal("Engine::open: %s", e.status().to_string().c_str());
        engine_ = std::move(*e);
        Job job = engine_->add_documents("contracts", {dir_ + "/docs"});
        QVERIFY2(job.wait().is_ok(), job.wait().to_string().c_str());
    }
    void cleanupTestCase() {
        engine_.reset();
        fs::remove_all(dir_);
    }

    void ranking_is_best_first_and_selection_fits_the_budget() {
        QFETCH(QString, method);
        QFETCH(int, budget);
        RetrieveRequest r{"contracts", kQuestion, method.toStdString(), budget, 64, 5};
        auto got = engine_->retrieve(r);
        QVERIFY2(got.is_ok(), got.status().to_string().c_str());
        QVERIFY(!got->ranked.empty() && got->ranked.size() <= 5);
        for (size_t i = 1; i < got->ranked.size(); ++i)
            QVERIFY(got->ranked[i - 1].score >= got->ranked[i].score);
        auto want_budget = engine_->context_budget(kQuestion, budget);
        QVERIFY(want_budget.is_ok());
        QCOMPARE(got->budget_tokens, *want_budget);
        if (budget > 0) QCOMPARE(got->budget_tokens, int64_t{budget});
        int64_t used = 0;
        for (const auto& s : got->selected) used += s.tokens;
        QVERIFY(!got->selected.empty());
        QVERIFY(used <= got->budget_tokens);
        for (const auto& s : got->ranked)
            QVERIFY(s.document.ends_with(".txt") && !s.title.empty() && s.tokens > 0);
    }
    void ranking_is_best_first_and_selection_fits_the_budget_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<int>("budget");
        for (const char* m : {"bm25", "routing", "fusion"}) {
            QTest::newRow((std::string(m) + " default").c_str()) << QString(m) << 0;
            QTest::newRow((std::string(m) + " 300").c_str()) << QString(m) << 300;
        }
    }

    void selection_is_the_context_ask_places() {
        for (const int64_t budget : {int64_t{0}, int64_t{300}}) {
            auto got = engine_->retrieve({"contracts", kQuestion, "bm25", budget, 8, 5});
            QVERIFY(got.is_ok());
            for (const char* mode : {"rag", "docket"}) {
                const AnswerStats s = ask(mode, budget);
                QCOMPARE(s.context_segments, refs(got->selected));
                QCOMPARE(s.context.size(), s.context_segments.size());
            }
        }
    }

    void bad_requests_are_errors() {
        auto bad_method = engine_->retrieve({"contracts", kQuestion, "bm52", 0, 64, 5});
        QVERIFY(!bad_method.is_ok());
        QVERIFY(bad_method.status().message().find("unknown retrieval 'bm52'") != std::string::npos);
        auto no_coll = engine_->retrieve({"nope", kQuestion, "bm25", 0, 64, 5});
        QVERIFY(!no_coll.is_ok());
        QCOMPARE(no_coll.status().code(), ErrorCode::not_found);
        QVERIFY(!engine_->retrieve({"contracts", "  ", "bm25", 0, 64, 5}).is_ok());
        QVERIFY(!engine_->retrieve({"contracts", kQuestion, "bm25", 0, 64, -1}).is_ok());
        QVERIFY(!engine_->retrieve({"contracts", kQuestion, "bm25", 1 << 22, 64, 5})
                     .is_ok());  // over the context
        QVERIFY(!engine_->context_budget(kQuestion, 1 << 22).is_ok());
        QVERIFY(!engine_->context_budget("", 0).is_ok());
        QVERIFY(!engine_->context_budget(kQuestion, 0, 0).is_ok());  // no room for an answer of 0 tokens
    }
};

QTEST_GUILESS_MAIN(TestEngineRetrieve)
#include "test_engine_retrieve.moc"

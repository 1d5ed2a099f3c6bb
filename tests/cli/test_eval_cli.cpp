// docket-cli eval end to end with the real SmolLM2: two short cuad-dev contracts ingested into a scratch data
// dir, their questions asked in the three modes (--limit 3), the JSON lines checked for their fields,
// oracle's evidence recall is 1; --docs-only reports retrieval figures; a malformed QA line is one error
// naming the line; Ctrl+C stops with the partial summary and exit 130.
#include <QtTest>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_child.h"
#include "test_paths.h"

using namespace docket::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The two shortest dev contracts with single-document questions (3 and 4 questions).
const char* kDocs[] = {
    "LejuHoldingsLtd_20140121_DRS (on F-1)_EX-10.26_8473102_EX-10.26_Content License Agreement2",
    "FEDERATEDGOVERNMENTINCOMESECURITIESINC_04_28_2020-EX-99.SERV AGREE-SERVICES AGREEMENT_AMENDMENT"};

std::vector<json> json_lines(const std::string& out) {
    std::vector<json> v;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) v.push_back(json::parse(line, nullptr, false));
    return v;
}

std::string describe(const ChildResult& r) {
    return "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.term_signal) +
           "\nstdout: " + r.out.substr(0, 2000) + "\nstderr: " + r.err.substr(0, 2000);
}

}  // namespace

class TestEvalCli : public QObject {
    Q_OBJECT
    std::string dir_, data_, qa_;

    std::vector<std::string> eval_args(std::vector<std::string> extra) const {
        std::vector<std::string> a = {
            "eval", "--data", data_,       "--model", smollm2_path(), "--collection", "cuad",
            "--qa", qa_,      "--threads", "2",       "--budget",     "600"};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }

private slots:
    void initTestCase() {
        dir_ = binary_dir() + "/test-scratch/eval-cli-" + std::to_string(::getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_ + "/docs");
        data_ = dir_ + "/data";
        qa_ = shared_dir() + "/data/cuad-dev/qa.jsonl";
        QVERIFY2(fs::exists(qa_), qa_.c_str());
        for (const char* d : kDocs)
            fs::copy_file(shared_dir() + "/data/cuad-dev/docs/" + d + ".txt", dir_ + "/docs/" + d + ".txt");
        // Segments of 256 tokens and a 600-token budget keep the full prefills of rag and oracle short.
        const ChildResult r =
            run_cli_child({"ingest", "--data", data_, "--model", smollm2_path(), "--collection", "cuad",
                           "--threads", "2", "--segment-tokens", "256", dir_ + "/docs"},
                          dir_, 120000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
    }
    void cleanupTestCase() { fs::remove_all(dir_); }

    void each_mode_scores_three_questions() {
        QFETCH(QString, mode);
        const ChildResult r =
            run_cli_child(eval_args({"--mode", mode.toStdString(), "--limit", "3", "--json"}), dir_, 120000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        const std::vector<json> lines = json_lines(r.out);
        QVERIFY2(lines.size() == 4, describe(r).c_str());
        for (int i = 0; i < 3; ++i) {
            const json& q = lines[i];
            QVERIFY2(q.is_object(), describe(r).c_str());
            for (const char* key : {"id", "qtype", "question", "prediction", "stop"})
                QVERIFY2(q[key].is_string(), key);
            QVERIFY(q["answers"].is_array() && !q["answers"].empty());
            QVERIFY(q["contains"].is_boolean());
            QVERIFY(q["f1"].is_number() && q["f1"] >= 0.0 && q["f1"] <= 1.0);
            QVERIFY(q["context"].is_array() && !q["context"].empty());
            QVERIFY(q["ttft_s"].is_number() && q["ttft_s"] > 0.0 && q["total_s"] >= q["ttft_s"]);
            QCOMPARE(q["mode"].get<std::string>(), mode.toStdString());
        }
        const json& s = lines[3];
        QVERIFY(s["summary"].get<bool>());
        QCOMPARE(s["questions"].get<int>(), 3);
        QVERIFY(!s["interrupted"].get<bool>());
        QVERIFY(s["skipped"]["document not in the collection"].get<int>() > 0);
        const json& all = s["overall"];
        QCOMPARE(all["n"].get<int>(), 3);
        for (const char* key : {"contains", "f1", "evidence_recall", "gold_doc_recall", "ttft_s", "total_s"})
            QVERIFY2(all[key].is_number(), key);
        if (mode == "oracle") {
            // The oracle context is built around the evidence: every question has it, in context.
            QCOMPARE(all["evidence_n"].get<int>(), 3);
            QCOMPARE(all["evidence_recall"].get<double>(), 1.0);
            QCOMPARE(all["gold_doc_recall"].get<double>(), 1.0);
        }
    }

    void each_mode_scores_three_questions_data() {
        QTest::addColumn<QString>("mode");
        for (const char* m : {"docket", "rag", "oracle"}) QTest::newRow(m) << QString(m);
    }

    void table_form_has_a_row_per_qtype_and_all() {
        const ChildResult t = run_cli_child(eval_args({"--limit", "2"}), dir_, 120000);
        QVERIFY2(t.exit_code == 0, describe(t).c_str());
        QVERIFY2(t.out.starts_with("mode docket (bm25, recompute 0): 2 of 2 questions\nqtype "),
                 t.out.c_str());
        QVERIFY2(
            t.out.find("\ngoverning_law ") != std::string::npos && t.out.find("\nall ") != std::string::npos,
            t.out.c_str());
        QVERIFY2(t.out.find("skipped ") != std::string::npos, t.out.c_str());
    }
    void docs_only_reports_retrieval_recall() {
        const ChildResult r = run_cli_child(eval_args({"--docs-only", "--json"}), dir_, 120000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        const std::vector<json> lines = json_lines(r.out);
        // The 7 questions of the two contracts and a summary.
        QVERIFY2(lines.size() == 8, describe(r).c_str());
        for (int i = 0; i < 7; ++i) {
            QVERIFY(lines[i]["gold_doc_rank"].is_number_integer());
            QVERIFY(lines[i]["gold_doc_rank"] >= 0);    // both documents are ranked
            QVERIFY(!lines[i].contains("prediction"));  // nothing was generated
        }
        const json& all = lines[7]["overall"];
        QCOMPARE(all["n"].get<int>(), 7);
        QCOMPARE(all["gold_doc_recall_at_5"].get<double>(),
                 1.0);  // with two documents, both are in the top 5
        QVERIFY(all["gold_doc_recall_at_1"].get<double>() >= 0.5);
        QVERIFY(all["evidence_recall"].is_number());
    }

    // An earlier run's answers scored again: here a date written another way than the accepted answer, scored
    // as a miss by the file, is found by today's scorer; a row that is not an answer is an error naming it.
    void rescore_scores_saved_answers_again_without_a_model() {
        const std::string saved = dir_ + "/saved.json";
        std::ofstream(saved)
            << R"({"id":"a","qtype":"agreement_date","answers":["21st day of January 2003"],)"
            << R"("prediction":"It was entered into on January 21, 2003.","contains":false,"f1":0,)"
            << R"("gold_doc_in_context":true,"evidence_in_context":true,"ttft_s":0.5,"total_s":1.5})"
            << "\n"
            << R"({"id":"b","qtype":"governing_law","answers":["Texas"],"prediction":"Delaware law.",)"
            << R"("contains":false,"f1":0,"gold_doc_in_context":true,"evidence_in_context":false,)"
            << R"("ttft_s":0.25,"total_s":0.5})"
            << "\n"
            << R"({"summary":true,"mode":"rag","retrieval":"bm25","recompute":0,"selected":2,)"
            << R"("skipped":{"document not in the collection":5},"interrupted":false})"
            << "\n";
        const ChildResult r = run_cli_child({"eval", "--rescore", saved, "--json"}, dir_, 30000);
        QVERIFY2(r.exit_code == 0, describe(r).c_str());
        const std::vector<json> lines = json_lines(r.out);
        QVERIFY2(lines.size() == 3, describe(r).c_str());
        QVERIFY(lines[0]["contains"].get<bool>());
        QVERIFY(!lines[1]["contains"].get<bool>());
        const json& s = lines[2];
        QCOMPARE(s["mode"].get<std::string>(), std::string("rag"));
        QCOMPARE(s["skipped"]["document not in the collection"].get<int>(), 5);
        QCOMPARE(s["overall"]["contains"].get<double>(), 0.5);
        QCOMPARE(s["overall"]["evidence_recall"].get<double>(), 0.5);
        QCOMPARE(s["overall"]["ttft_s"].get<double>(), 0.375);
        QCOMPARE(s["by_qtype"]["agreement_date"]["contains"].get<double>(), 1.0);

        std::ofstream(saved, std::ios::app) << R"({"id":"c","gold_doc_rank":0})"
                                            << "\n";
        const ChildResult bad = run_cli_child({"eval", "--rescore", saved}, dir_, 30000);
        QVERIFY2(bad.exit_code == 1 && bad.err.find("line 4: not an answer row") != std::string::npos,
                 describe(bad).c_str());
    }

    void malformed_qa_line_is_one_error_naming_it() {
        const std::string bad = dir_ + "/bad.jsonl";
        std::ifstream in(qa_);
        std::string first;
        std::getline(in, first);
        std::ofstream(bad) << first << "\n{\"id\": \"x\", \"scope\": \n";
        auto args = eval_args({});
        args[8] = bad;  // --qa
        const ChildResult r = run_cli_child(args, dir_, 60000);
        QVERIFY2(r.exit_code == 1, describe(r).c_str());
        QCOMPARE(std::count(r.err.begin(), r.err.end(), '\n'), 1l);
        QVERIFY2(r.err.find("line 2: not valid JSON") != std::string::npos, r.err.c_str());
        QVERIFY(r.out.empty());
    }

    void sigint_prints_the_partial_summary_and_exits_130() {
        CliChild c(eval_args({"--mode", "rag", "--json"}), dir_);
        QVERIFY(c.started());
        QVERIFY(c.wait_for_stderr("eval 1/7", 60000));
        c.signal(SIGINT);
        const ChildResult r = c.wait(60000);
        QVERIFY2(r.exit_code == 130, describe(r).c_str());
        const std::vector<json> lines = json_lines(r.out);
        QVERIFY2(!lines.empty() && lines.back()["summary"] == true, describe(r).c_str());
        QVERIFY(lines.back()["interrupted"].get<bool>());
        QVERIFY(lines.back()["questions"].get<int>() < 7);
        QCOMPARE(static_cast<int>(lines.size()) - 1, lines.back()["questions"].get<int>());
    }
};

QTEST_GUILESS_MAIN(TestEvalCli)
#include "test_eval_cli.moc"

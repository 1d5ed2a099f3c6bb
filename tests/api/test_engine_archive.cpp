// Archive questions (AskRequest::scope "archive") through docket::Engine with the real SmolLM2 on three
// contracts of the sample archive: per-document progress and an answer that names real documents, each cited
// into itself; the count and comparison combines; cancel mid-map; bad input. The model's correctness is
// measured by `docket-cli eval --scope archive`, not asserted here: these check the mechanics.
#include <QtTest>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "api/engine.h"
#include "test_paths.h"

using namespace docket;
namespace fs = std::filesystem;

namespace {

const char* kConsulting = "01-consulting-aduro-ireya.txt";
const char* kTrademark = "03-trademark-license-palmer-square.txt";
const char* kEndorsement = "04-endorsement-lifeway-foods.txt";
const char* kCompare =
    "Which was signed earlier: the Consulting Agreement between Aduro Biotech, Inc. and IREYA B.V., or the "
    "Endorsement Agreement between Lifeway Foods, Inc. and Ludmila Smolyansky?";

std::string scratch(const std::string& name) {
    const std::string dir = test::binary_dir() + "/test-scratch/" + name + "-" + std::to_string(::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string file_of(const std::string& path) {
    return fs::path(path).filename().string();
}

// What a job's sink and progress showed, gathered from the engine thread and the polling test thread.
struct Asked {
    Status status;
    std::string streamed;
    std::vector<Citation> citations;
    std::vector<ArchiveDocument> documents;  // on_document, in order
    AnswerStats stats;
    std::set<int64_t> done_seen;  // progress documents_done values seen while mapping
    int64_t total_seen = 0;
};

AskRequest archive_request(const std::string& collection, const std::string& question) {
    AskRequest r;
    r.collection = collection;
    r.question = question;
    r.scope = "archive";
    r.max_answer_tokens = 24;
    return r;
}

// Submits the request; `on_poll` runs on this thread every ~10 ms with the job while it runs.
Asked ask(Engine& e, const AskRequest& r, const std::function<void(Job&, Asked&)>& on_poll = {}) {
    Asked a;
    std::mutex mu;
    AnswerSink sink;
    sink.on_token = [&](const std::string& t) {
        std::lock_guard lock(mu);
        a.streamed += t;
    };
    sink.on_citation = [&](const Citation& c) {
        std::lock_guard lock(mu);
        a.citations.push_back(c);
    };
    sink.on_document = [&](const ArchiveDocument& d) {
        std::lock_guard lock(mu);
        a.documents.push_back(d);
    };
    sink.on_done = [&](const Status&, const AnswerStats& s) {
        std::lock_guard lock(mu);
        a.stats = s;
    };
    Job job = e.ask(r, sink);
    while (!job.done()) {
        const JobProgress p = job.progress();
        if (p.phase == "map") {
            std::lock_guard lock(mu);
            a.done_seen.insert(p.documents_done);
            a.total_seen = std::max(a.total_seen, p.documents_total);
        }
        if (on_poll) on_poll(job, a);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    a.status = job.wait();
    return a;
}

}  // namespace

class TestEngineArchive : public QObject {
    Q_OBJECT
    std::string data_, docs_;
    std::unique_ptr<Engine> engine_;
    std::set<std::string> paths_;  // the collection's documents

    const std::string& path_of(const char* file) const {
        for (const auto& p : paths_)
            if (file_of(p) == file) return p;
        qFatal("%s is not in the collection", file);
    }

private slots:
    void initTestCase() {
        data_ = scratch("archive-data");
        docs_ = scratch("archive-docs");
        const std::string archive = test::source_dir() + "/resources/sample-archive/";
        for (const char* f : {kConsulting, kTrademark, kEndorsement})
            fs::copy_file(archive + f, docs_ + "/" + f);
        fs::create_directories(docs_ + "-empty");
        std::ofstream(docs_ + "-empty/empty.txt").close();
        EngineOptions o;
        o.data_dir = data_;
        o.model_path = test::smollm2_path();
        o.threads = 2;
        auto e = Engine::open(o);
        if (!e) qFatal("Engine::open: %s", e.status().to_string().c_str());
        engine_ = std::move(*e);
        Job job = engine_->add_documents("contracts", {docs_});
        QVERIFY2(job.wait().is_ok(), job.wait().to_string().c_str());
        Job empty = engine_->add_documents("empty", {docs_ + "-empty"});
        empty.wait();  // its one file is unreadable: the collection exists and holds no readable document
        auto docs = engine_->documents("contracts");
        QVERIFY(docs.is_ok());
        for (const auto& d : *docs) paths_.insert(d.path);
        QCOMPARE(paths_.size(), size_t{3});
    }

    void list_question_reports_progress_and_names_real_documents_each_cited_into_itself() {
        Asked a = ask(*engine_,
                      archive_request("contracts", "Which agreements are governed by the laws of New York?"));
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        QCOMPARE(a.stats.kind, std::string("list"));
        QCOMPARE(a.total_seen, int64_t{3});
        QVERIFY2(a.done_seen.size() >= 2, "progress did not move from document to document");
        QCOMPARE(a.stats.documents_total, int64_t{3});
        QCOMPARE(a.documents.size(), size_t{3});
        std::set<std::string> asked;
        for (const auto& d : a.stats.documents) asked.insert(d.document);
        QCOMPARE(asked, paths_);  // every document, each once
        QCOMPARE(a.streamed, a.stats.answer);
        QVERIFY2(!a.stats.matched.empty(), a.stats.answer.c_str());
        for (const ArchiveDocument& m : a.stats.matched) {
            QVERIFY2(paths_.count(m.document), m.document.c_str());
            QVERIFY(m.matched);
            QVERIFY2(a.stats.answer.find(file_of(m.document)) != std::string::npos, a.stats.answer.c_str());
            QVERIFY(!m.citations.empty());
            for (const Citation& c : m.citations) QCOMPARE(c.document, m.document);
            const bool streamed = std::any_of(a.citations.begin(), a.citations.end(),
                                              [&](const Citation& c) { return c.document == m.document; });
            QVERIFY2(streamed, m.document.c_str());
        }
        QVERIFY2(a.stats.answer.find(std::to_string(a.stats.matched.size()) + " of the 3 documents") !=
                     std::string::npos,
                 a.stats.answer.c_str());
    }

    void count_question_counts_the_documents_it_names() {
        Asked a =
            ask(*engine_,
                archive_request("contracts", "How many agreements are governed by the laws of California?"));
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        QCOMPARE(a.stats.kind, std::string("count"));
        QCOMPARE(a.stats.documents.size(), size_t{3});
        int matched = 0;
        for (const auto& d : a.stats.documents) matched += d.matched;
        QCOMPARE(static_cast<size_t>(matched), a.stats.matched.size());
        const std::string want = "Count: " + std::to_string(matched) + " of the 3 documents.";
        QVERIFY2(a.stats.answer.find(want) != std::string::npos, a.stats.answer.c_str());
        for (const auto& m : a.stats.matched)
            QVERIFY2(a.stats.answer.find(file_of(m.document)) != std::string::npos, a.stats.answer.c_str());
    }

    void comparison_maps_only_over_the_named_documents() {
        AskRequest r = archive_request("contracts", kCompare);
        r.max_answer_tokens = 16;
        Asked a = ask(*engine_, r);
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        QCOMPARE(a.stats.kind, std::string("compare"));
        QCOMPARE(a.total_seen, int64_t{2});
        QCOMPARE(a.stats.documents_total, int64_t{2});
        std::set<std::string> asked;
        for (const auto& d : a.stats.documents) asked.insert(d.document);
        QCOMPARE(asked, (std::set<std::string>{path_of(kConsulting), path_of(kEndorsement)}));
        const ArchiveDocument& x = a.stats.documents[0];
        const ArchiveDocument& y = a.stats.documents[1];
        if (!x.date.empty() && !y.date.empty() && x.date.size() == 10 && y.date.size() == 10 &&
            x.date != y.date) {
            // Both dates complete and different: the earlier one is chosen (ISO dates sort as text).
            QCOMPARE(a.stats.chosen, x.date < y.date ? x.document : y.document);
            QVERIFY2(a.stats.answer.find("earlier") != std::string::npos, a.stats.answer.c_str());
        } else if (x.date.empty() || y.date.empty()) {
            QVERIFY2(a.stats.chosen.empty(), a.stats.answer.c_str());
            QVERIFY2(a.stats.answer.starts_with("Cannot tell"), a.stats.answer.c_str());
        }
        QVERIFY2(a.stats.answer.find(file_of(x.document)) != std::string::npos ||
                     a.stats.answer.find(file_of(y.document)) != std::string::npos,
                 a.stats.answer.c_str());
    }

    void cancel_mid_map_stops_within_a_document() {
        AskRequest r = archive_request("contracts", "Which agreements have a non-compete clause?");
        r.max_answer_tokens = 48;
        size_t at_cancel = 0;
        std::chrono::steady_clock::time_point cancelled_at;
        bool cancelled = false;
        Asked a = ask(*engine_, r, [&](Job& job, Asked& seen) {
            // Inside the second document's pass: one document done, the next one started.
            if (cancelled || job.progress().documents_done < 1) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            at_cancel = job.progress().documents_done;
            cancelled_at = std::chrono::steady_clock::now();
            job.cancel();
            cancelled = true;
            (void)seen;
        });
        const double waited =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - cancelled_at).count();
        QVERIFY(cancelled);
        QCOMPARE(a.status.code(), ErrorCode::cancelled);
        // The document being asked when cancel came may finish at most; no further one starts.
        QVERIFY2(a.documents.size() <= at_cancel + 1, std::to_string(a.documents.size()).c_str());
        QVERIFY(a.documents.size() < 3);
        QVERIFY2(waited < 5.0, std::to_string(waited).c_str());
    }

    void bad_input_is_a_one_line_error() {
        auto failed = [&](const AskRequest& r, ErrorCode code, const std::string& want) {
            Asked a = ask(*engine_, r);
            QVERIFY2(a.status.code() == code, a.status.to_string().c_str());
            QVERIFY2(a.status.message().find(want) != std::string::npos, a.status.message().c_str());
            QVERIFY2(a.status.message().find('\n') == std::string::npos, a.status.message().c_str());
            QVERIFY(a.documents.empty());
        };
        failed(archive_request("no-such-collection", "Which agreements are governed by Delaware law?"),
               ErrorCode::not_found, "no collection named 'no-such-collection'");
        failed(archive_request("empty", "Which agreements are governed by Delaware law?"),
               ErrorCode::not_found, "holds no readable document");
        AskRequest scope = archive_request("contracts", "Which agreements are governed by Delaware law?");
        scope.scope = "galaxy";
        failed(scope, ErrorCode::invalid_argument, "unknown scope 'galaxy'");
        AskRequest oracle = archive_request("contracts", "Which agreements are governed by Delaware law?");
        oracle.mode = "oracle";
        failed(oracle, ErrorCode::invalid_argument, "docket or rag mode");
        failed(archive_request("contracts", "Which was signed earlier: the Zyxwv Qwrtp, or the Blorf Glarb?"),
               ErrorCode::not_found, "no document of the collection matches");
        failed(archive_request("contracts", "   "), ErrorCode::invalid_argument, "the question is empty");
    }

    void cleanupTestCase() {
        engine_.reset();
        fs::remove_all(data_);
        fs::remove_all(docs_);
        fs::remove_all(docs_ + "-empty");
    }
};

QTEST_GUILESS_MAIN(TestEngineArchive)
#include "test_engine_archive.moc"

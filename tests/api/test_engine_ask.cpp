// The ask path end to end through docket::Engine with the real SmolLM2 on contracts of the sample archive:
// ingest (with unreadable files listed), a question whose answer is known, cited at the right document and
// span; re-ingest skips; a restarted engine answers with no document re-prefilled; a corrupted extent is
// recomputed and logged while the answer still comes; cancel; and the bad inputs of the issue.
#include <QtTest>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <filesystem>
#include <fstream>

#include "api/engine.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "test_paths.h"

using namespace docket;
namespace fs = std::filesystem;

namespace {

const char* kTrademark = "03-trademark-license-palmer-square.txt";
const char* kQuestion = "Which state's laws govern the Trademark License Agreement?";

std::string scratch(const std::string& name) {
    const std::string dir = test::binary_dir() + "/test-scratch/" + name + "-" + std::to_string(::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Asked {
    Status status;
    std::string text;
    std::vector<Citation> citations;
    AnswerStats stats;
};

Asked ask(Engine& e, const std::string& question, int64_t budget = 0) {
    Asked a;
    AskRequest r;
    r.collection = "contracts";
    r.question = question;
    r.budget_tokens = budget;
    AnswerSink sink;
    sink.on_token = [&](const std::string& t) { a.text += t; };
    sink.on_citation = [&](const Citation& c) { a.citations.push_back(c); };
    sink.on_done = [&](const Status&, const AnswerStats& s) { a.stats = s; };
    Job job = e.ask(r, sink);
    a.status = job.wait();
    return a;
}

bool contains_ci(std::string hay, std::string needle) {
    for (auto* s : {&hay, &needle})
        for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hay.find(needle) != std::string::npos;
}

}  // namespace

class TestEngineAsk : public QObject {
    Q_OBJECT
    std::string data_, docs_, law_text_;
    std::unique_ptr<Engine> engine_;

    std::unique_ptr<Engine> open() {
        EngineOptions o;
        o.data_dir = data_;
        o.model_path = test::smollm2_path();
        auto e = Engine::open(o);
        if (!e) qFatal("Engine::open: %s", e.status().to_string().c_str());
        return std::move(*e);
    }

private slots:
    void initTestCase() {
        data_ = scratch("engine-data");
        docs_ = scratch("engine-docs");
        const std::string archive = test::source_dir() + "/resources/sample-archive/";
        for (const char* f : {kTrademark, "06-web-hosting-centrack-i-on.txt", "08-non-competition-glamis-western-copper.txt"})
            fs::copy_file(archive + f, docs_ + "/" + f);
        std::ofstream(docs_ + "/empty.txt").close();
        std::ofstream(docs_ + "/garbage.txt", std::ios::binary) << std::string("\x7f" "ELF\0\0\0\x01\x02\x03", 10) + std::string(4000, '\0');
        law_text_ = read_file(docs_ + "/" + kTrademark);
        engine_ = open();
    }

    void ingest_lists_unreadable_files_and_ingests_the_rest() {
        Job job = engine_->add_documents("contracts", {docs_});
        QVERIFY2(job.wait().is_ok(), job.wait().to_string().c_str());
        const IngestSummary s = job.ingest_summary();
        QCOMPARE(s.ingested, int64_t{3});
        QCOMPARE(s.failed, int64_t{2});
        for (const FileResult& f : s.files)
            if (f.status == "failed") QVERIFY2(!f.error.empty(), f.path.c_str());
        QVERIFY(s.segments_prefilled > 3);
        auto docs = engine_->documents("contracts");
        QVERIFY(docs.is_ok());
        QCOMPARE(docs->size(), size_t{5});
        int errors = 0;
        for (const auto& d : *docs) errors += d.status == "error" && !d.error.empty();
        QCOMPARE(errors, 2);
        QCOMPARE(mode_of_data(), 0700u);
    }

    void governing_law_answer_cites_the_right_document_and_span() {
        Asked a = ask(*engine_, kQuestion);
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        QVERIFY2(contains_ci(a.text, "New York"), a.text.c_str());
        QVERIFY(!a.citations.empty());
        const size_t at = law_text_.find("laws of the State of New York");
        QVERIFY(at != std::string::npos);
        bool cited = false;
        for (const Citation& c : a.citations)
            cited |= c.document.ends_with(kTrademark) && c.char_begin <= static_cast<int64_t>(at) &&
                     static_cast<int64_t>(at) < c.char_end;
        QVERIFY2(cited, ("no citation spans the governing-law clause; first: " + a.citations[0].document + " " +
                         a.citations[0].quote).c_str());
        for (const Citation& c : a.citations) QVERIFY(!c.quote.empty());
        // The quote of the first citation is the clause itself: the answer's attention peaked there.
        QVERIFY2(contains_ci(a.citations[0].quote, "laws of the State of New York"), a.citations[0].quote.c_str());
    }

    void reingest_skips_unchanged_documents() {
        const auto before = engine_->telemetry().segments_prefilled;
        Job job = engine_->add_documents("contracts", {docs_});
        QVERIFY(job.wait().is_ok());
        QCOMPARE(job.ingest_summary().unchanged, int64_t{3});
        QCOMPARE(engine_->telemetry().segments_prefilled, before);
    }

    void restarted_engine_answers_without_prefilling_documents() {
        engine_.reset();
        engine_ = open();
        Asked a = ask(*engine_, kQuestion);
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        const TelemetrySnapshot t = engine_->telemetry();
        QCOMPARE(t.segments_prefilled, uint64_t{0});
        QCOMPARE(t.segments_recomputed, uint64_t{0});
        QVERIFY(t.snapshots_loaded > 0);
        // Only the question (and its routing pass) went through the model before the answer.
        QVERIFY2(t.tokens_prefilled < 200, std::to_string(t.tokens_prefilled).c_str());
        QVERIFY2(contains_ci(a.text, "New York"), a.text.c_str());
    }

    void corrupt_extent_is_recomputed_logged_and_answered() {
        engine_.reset();
        corrupt_every_snapshot_of(kTrademark);
        engine_ = open();
        Asked a = ask(*engine_, kQuestion);
        QVERIFY2(a.status.is_ok(), a.status.to_string().c_str());
        QVERIFY(a.stats.recomputed >= 1);
        QVERIFY(engine_->telemetry().segments_recomputed >= 1);
        bool logged = false;
        for (const auto& line : engine_->recent_log()) logged |= line.find("recomputing segment") != std::string::npos;
        QVERIFY(logged);
        QVERIFY2(contains_ci(a.text, "New York"), a.text.c_str());
        // Recomputed snapshots were stored again: the next answer loads them.
        Asked b = ask(*engine_, kQuestion);
        QVERIFY(b.status.is_ok());
        QCOMPARE(b.stats.recomputed, int64_t{0});
    }

    void cancelled_ask_stops_promptly() {
        AskRequest r;
        r.collection = "contracts";
        r.question = kQuestion;
        r.max_answer_tokens = 4096;
        Job job = engine_->ask(r, {});
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        const auto t0 = std::chrono::steady_clock::now();
        job.cancel();
        Status s = job.wait();
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        QCOMPARE(s.code(), ErrorCode::cancelled);
        QVERIFY2(waited < 5.0, std::to_string(waited).c_str());
    }

    void closing_the_engine_ends_running_and_queued_jobs() {
        AskRequest r;
        r.collection = "contracts";
        r.question = kQuestion;
        r.max_answer_tokens = 4096;
        Job running = engine_->ask(r, {});
        Job queued = engine_->ask(r, {});
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        engine_.reset();  // returns once the running job stopped; neither wait() may hang
        QCOMPARE(running.wait().code(), ErrorCode::cancelled);
        QCOMPARE(queued.wait().code(), ErrorCode::cancelled);
        engine_ = open();
    }

    void bad_inputs_are_clear_errors() {
        QCOMPARE(ask(*engine_, "   ").status.code(), ErrorCode::invalid_argument);
        QCOMPARE(ask(*engine_, std::string(5000, 'x')).status.code(), ErrorCode::invalid_argument);
        Asked big = ask(*engine_, kQuestion, 1 << 20);
        QCOMPARE(big.status.code(), ErrorCode::invalid_argument);
        QVERIFY2(big.status.message().find("exceeds") != std::string::npos, big.status.message().c_str());
        AskRequest r;
        r.collection = "no-such-collection";
        r.question = kQuestion;
        Job j = engine_->ask(r, {});
        QCOMPARE(j.wait().code(), ErrorCode::not_found);
        QVERIFY(!engine_->documents("no-such-collection").is_ok());

        // A second process (or engine) on the same data directory is refused.
        EngineOptions o;
        o.data_dir = data_;
        o.model_path = test::smollm2_path();
        auto second = Engine::open(o);
        QVERIFY(!second.is_ok());
        QVERIFY2(second.status().message().find("in use") != std::string::npos, second.status().message().c_str());

        // A data directory that belongs to another user is refused untouched.
        const std::string foreign = scratch("engine-foreign");
        QCOMPARE(::chown(foreign.c_str(), 65534, 65534), 0);
        o.data_dir = foreign;
        auto f = Engine::open(o);
        QVERIFY(!f.is_ok());
        QVERIFY2(f.status().message().find("another user") != std::string::npos, f.status().message().c_str());
        QVERIFY(fs::is_empty(foreign));
    }

    void removing_the_collection_drops_its_snapshots() {
        QVERIFY(engine_->remove_collection("contracts").is_ok());
        QVERIFY(engine_->collections()->empty());
        engine_.reset();
        store::StoreOptions so;
        so.create_if_missing = false;
        auto st = store::Store::open(data_ + "/store", so);
        QVERIFY(st.is_ok());
        auto stats = (*st)->stats();
        QVERIFY(stats.is_ok());
        QCOMPARE(stats->snapshots_ready, int64_t{0});
    }

private:
    unsigned mode_of_data() const {
        struct stat st {};
        ::stat(data_.c_str(), &st);
        return st.st_mode & 07777;
    }

    // Flips a byte inside every extent of the document's snapshots (the engine is closed meanwhile).
    void corrupt_every_snapshot_of(const std::string& doc) {
        store::StoreOptions so;
        so.create_if_missing = false;
        auto st = store::Store::open(data_ + "/store", so);
        QVERIFY(st.is_ok());
        auto reader = (*st)->reader();
        QVERIFY(reader.is_ok());
        auto snaps = (*reader)->list();
        QVERIFY(snaps.is_ok());
        int flipped = 0;
        for (const auto& s : *snaps) {
            if (!s.document.ends_with(doc)) continue;
            auto ext = (*reader)->extents(s.id);
            QVERIFY(ext.is_ok() && !ext->empty());
            const auto& e = ext->front();
            const std::string file = data_ + "/store/segments/" + store::segment_file_name(e.file_id);
            std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
            QVERIFY2(io.good(), file.c_str());
            io.seekg(static_cast<std::streamoff>(e.offset + e.length / 2));
            char c = 0;
            io.read(&c, 1);
            c = static_cast<char>(c ^ 0x5a);
            io.seekp(static_cast<std::streamoff>(e.offset + e.length / 2));
            io.write(&c, 1);
            ++flipped;
        }
        QVERIFY(flipped > 0);
    }
};

QTEST_GUILESS_MAIN(TestEngineAsk)
#include "test_engine_ask.moc"

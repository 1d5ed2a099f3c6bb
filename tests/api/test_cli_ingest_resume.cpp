// docket-cli's archive commands as a user runs them: an ingest SIGKILLed mid-way resumes on the next run without
// redoing finished segments and every snapshot verifies; Ctrl+C stops an ingest with exit 130; bad input gets a
// one-line error and a non-zero exit and changes nothing.
#include <QtTest>

#include <signal.h>
#include <unistd.h>

#include <sqlite3.h>

#include <QProcess>
#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "test_paths.h"

namespace fs = std::filesystem;
using namespace docket;

namespace {

struct Run {
    int code = -1;
    QString out, err;
};

Run cli(const QStringList& args, int timeout_ms = 300000) {
    QProcess p;
    p.start(DOCKET_CLI, args);
    Run r;
    if (!p.waitForFinished(timeout_ms)) {
        p.kill();
        p.waitForFinished();
        r.err = "timeout";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

std::string scratch(const std::string& name) {
    const std::string dir = test::binary_dir() + "/test-scratch/" + name + "-" + std::to_string(::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// Ready snapshots in the store's index, read beside the running writer (WAL readers need no lock).
int ready_snapshots(const std::string& data) {
    sqlite3* db = nullptr;
    int n = 0;
    if (sqlite3_open_v2((data + "/store/index.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM snapshots WHERE state = 'ready'", -1, &st, nullptr) ==
                SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

long long number_before(const QString& text, const char* what) {
    std::smatch m;
    const std::string s = text.toStdString();
    if (!std::regex_search(s, m, std::regex(std::string("(\\d+) ") + what))) return -1;
    return std::stoll(m[1]);
}

}  // namespace

class TestCliIngestResume : public QObject {
    Q_OBJECT
    std::string docs_, model_;

    QStringList common(const std::string& data) const {
        return {"--data", QString::fromStdString(data), "--model", QString::fromStdString(model_)};
    }

private slots:
    void initTestCase() {
        model_ = test::smollm2_path();
        docs_ = scratch("cli-docs");
        const std::string archive = test::source_dir() + "/resources/sample-archive/";
        for (const char* f : {"01-consulting-aduro-ireya.txt", "04-endorsement-lifeway-foods.txt"})
            fs::copy_file(archive + f, docs_ + "/" + f);
    }

    void sigkill_during_ingest_then_rerun_resumes_and_verifies() {
        const std::string data = scratch("cli-kill");
        QProcess p;
        p.start(DOCKET_CLI, QStringList{"ingest", "--collection", "c"} + common(data) + QStringList{QString::fromStdString(docs_)});
        QVERIFY(p.waitForStarted());
        // Kill once a few of the 13 segments are stored, well before the end.
        const auto t0 = std::chrono::steady_clock::now();
        while (ready_snapshots(data) < 3 && p.state() == QProcess::Running &&
               std::chrono::steady_clock::now() - t0 < std::chrono::seconds(240))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        QVERIFY2(p.state() == QProcess::Running, "ingest finished before it could be killed");
        ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
        QVERIFY(p.waitForFinished());

        Run again = cli(QStringList{"ingest", "--collection", "c"} + common(data) + QStringList{QString::fromStdString(docs_)});
        QVERIFY2(again.code == 0, qPrintable(again.err + again.out));
        const long long reused = number_before(again.out, "reused");
        QVERIFY2(reused > 0, qPrintable(again.out));  // what was finished before the kill is not redone
        QVERIFY2(again.out.contains("2 ingested"), qPrintable(again.out));

        Run verify = cli({"verify", "--store", QString::fromStdString(data + "/store")});
        QVERIFY2(verify.code == 0, qPrintable(verify.out + verify.err));
        Run docs = cli(QStringList{"documents", "--collection", "c"} + common(data));
        QCOMPARE(docs.code, 0);
        QCOMPARE(docs.out.count("ready"), 2);

        // A third run finds nothing to do.
        Run third = cli(QStringList{"ingest", "--collection", "c"} + common(data) + QStringList{QString::fromStdString(docs_)});
        QCOMPARE(third.code, 0);
        QVERIFY2(third.out.contains("0 ingested, 2 unchanged"), qPrintable(third.out));
    }

    void ctrl_c_stops_an_ingest_with_exit_130() {
        const std::string data = scratch("cli-int");
        QProcess p;
        p.start(DOCKET_CLI, QStringList{"ingest", "--collection", "c"} + common(data) + QStringList{QString::fromStdString(docs_)});
        QVERIFY(p.waitForStarted());
        const auto t0 = std::chrono::steady_clock::now();
        while (ready_snapshots(data) == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(120))
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ::kill(static_cast<pid_t>(p.processId()), SIGINT);
        const auto t1 = std::chrono::steady_clock::now();
        QVERIFY(p.waitForFinished(30000));
        const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        QCOMPARE(p.exitCode(), 130);
        QVERIFY2(waited < 10.0, qPrintable(QString::number(waited)));
        QVERIFY(QString::fromUtf8(p.readAllStandardError()).contains("a re-run resumes it"));
    }

    void bad_input_is_one_line_and_nonzero() {
        const std::string data = scratch("cli-bad");
        // Nothing exists yet: an unknown collection.
        Run unknown = cli(QStringList{"ask", "--collection", "nope"} + common(data) + QStringList{"What law governs?"});
        QCOMPARE(unknown.code, 1);
        QVERIFY2(unknown.err.contains("no collection named 'nope'"), qPrintable(unknown.err));
        QCOMPARE(unknown.err.trimmed().count('\n'), 0);
        // Empty and over-long questions.
        Run empty = cli(QStringList{"ask", "--collection", "nope"} + common(data) + QStringList{"  "});
        QVERIFY(empty.code != 0);
        QVERIFY2(empty.err.contains("question is empty"), qPrintable(empty.err));
        Run longq = cli(QStringList{"ask", "--collection", "nope"} + common(data) + QStringList{QString(5000, 'x')});
        QVERIFY(longq.code != 0);
        // A missing file and an empty one are listed with their reasons; the run reports failure.
        const std::string empty_file = data + "/empty.txt";
        QVERIFY(fs::create_directories(data + "/in"));
        std::FILE* f = std::fopen((data + "/in/empty.txt").c_str(), "w");
        std::fclose(f);
        Run ing = cli(QStringList{"ingest", "--collection", "c"} + common(data) +
                      QStringList{QString::fromStdString(data + "/in/empty.txt"), QString::fromStdString(data + "/missing.txt")});
        QCOMPARE(ing.code, 1);
        QVERIFY2(ing.out.contains("FAILED") && ing.out.contains("empty"), qPrintable(ing.out));
        QVERIFY2(ing.out.contains("missing.txt"), qPrintable(ing.out));
        // A collection whose every file failed has nothing to answer from: said so, not a guess from no text.
        Run none = cli(QStringList{"ask", "--collection", "c"} + common(data) + QStringList{"What law governs?"});
        QCOMPARE(none.code, 1);
        QVERIFY2(none.err.contains("holds no readable document"), qPrintable(none.err));
        // Usage errors: exit 2.
        QCOMPARE(cli(QStringList{"ingest"} + common(data)).code, 2);
        QCOMPARE(cli(QStringList{"ask", "--collection", "c", "-x"} + common(data) + QStringList{"q"}).code, 2);
        QCOMPARE(cli(QStringList{"ask", "--collection", "c", "--budget", "abc"} + common(data) + QStringList{"q"}).code, 2);
        // A data directory that is a file.
        Run file_dir = cli(QStringList{"collections", "--data", QString::fromStdString(data + "/in/empty.txt"), "--model",
                                       QString::fromStdString(model_)});
        QCOMPARE(file_dir.code, 1);
    }
};

QTEST_GUILESS_MAIN(TestCliIngestResume)
#include "test_cli_ingest_resume.moc"

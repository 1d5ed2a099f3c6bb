// Opening a store: commands that only look at a store (verify, inspect, compact) never create one nor touch
// the mode of a directory; a mistyped path is an error (not "0 problems"). A store the Store creates itself
// is owner-only; a directory that existed before keeps its mode.
#include <QtTest>

#include <sys/stat.h>

#include <QProcess>
#include <filesystem>

#include "store/store.h"
#include "store_test_util.h"

using namespace docket;
using namespace docket::store;
namespace fs = std::filesystem;

namespace {

std::pair<int, QString> run_cli(const QStringList& args) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(DOCKET_CLI, args);
    if (!p.waitForFinished(60000)) return {-1, "timeout"};
    return {p.exitCode(), QString::fromUtf8(p.readAll())};
}

unsigned mode_of(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return ~0u;
    return st.st_mode & 07777;
}

size_t entries(const std::string& dir) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

class TestStoreOpenExisting : public QObject {
    Q_OBJECT
private slots:
    void open_without_create_reports_missing_store() {
        const std::string missing = test::scratch_dir("open-missing");
        StoreOptions opt;
        opt.create_if_missing = false;
        auto st = Store::open(missing, opt);
        QCOMPARE(st.status().code(), ErrorCode::not_found);
        QVERIFY2(st.status().message().find("no Docket store at " + missing) != std::string::npos,
                 st.status().message().c_str());
        QVERIFY(!fs::exists(missing));

        // An existing directory that is not a store: refused, and left exactly as it was.
        fs::create_directories(missing);
        QCOMPARE(::chmod(missing.c_str(), 0755), 0);
        auto st2 = Store::open(missing, opt);
        QCOMPARE(st2.status().code(), ErrorCode::not_found);
        QCOMPARE(mode_of(missing), 0755u);
        QCOMPARE(entries(missing), size_t{0});
    }

    void cli_read_commands_never_create_or_chmod() {
        const std::string typo = test::scratch_dir("open-cli-typo");
        for (const char* cmd : {"verify", "inspect", "compact"}) {
            auto [code, out] = run_cli({cmd, "--store", QString::fromStdString(typo)});
            QVERIFY2(code != 0, qPrintable(QString("%1: %2").arg(cmd, out)));
            QVERIFY2(out.contains("no Docket store"), qPrintable(out));
            QVERIFY2(!fs::exists(typo), cmd);
        }
        fs::create_directories(typo);
        QCOMPARE(::chmod(typo.c_str(), 0755), 0);
        for (const char* cmd : {"verify", "inspect", "compact"}) {
            auto [code, out] = run_cli({cmd, "--store", QString::fromStdString(typo)});
            QVERIFY2(code != 0, qPrintable(QString("%1: %2").arg(cmd, out)));
            QCOMPARE(mode_of(typo), 0755u);
            QCOMPARE(entries(typo), size_t{0});
        }
    }

    void created_store_is_owner_only_existing_dir_keeps_mode() {
        const std::string fresh = test::scratch_dir("open-fresh");
        {
            auto st = Store::open(fresh);
            QVERIFY2(st.is_ok(), st.status().to_string().c_str());
        }
        QCOMPARE(mode_of(fresh), 0700u);
        QCOMPARE(mode_of(fresh + "/segments"), 0700u);

        const std::string shared = test::scratch_dir("open-shared");
        fs::create_directories(shared);
        QCOMPARE(::chmod(shared.c_str(), 0755), 0);
        {
            auto st = Store::open(shared);
            QVERIFY2(st.is_ok(), st.status().to_string().c_str());
        }
        QCOMPARE(mode_of(shared), 0755u);                // not ours to change
        QCOMPARE(mode_of(shared + "/segments"), 0700u);  // ours: created by the store

        // The read-only commands work on a real store and leave its mode alone.
        for (const char* cmd : {"verify", "inspect", "compact"}) {
            auto [code, out] = run_cli({cmd, "--store", QString::fromStdString(shared)});
            QVERIFY2(code == 0, qPrintable(QString("%1: %2").arg(cmd, out)));
        }
        QCOMPARE(mode_of(shared), 0755u);
    }
};

QTEST_GUILESS_MAIN(TestStoreOpenExisting)
#include "test_store_open_existing.moc"

// Issue 13, item 5: index.db, -wal and -shm were created 0644 while the rest of the store is owner-only, and
// `inspect`/`verify` could not run on a read-only store (they opened LOCK, and the index, for writing).
// Now the index files are 0600, and read-only opens open every file of the store O_RDONLY, create nothing,
// share the lock with other readers and exclude writers.
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/sqlite_db.h"
#include "store_damage_util.h"

using namespace docket;
using namespace docket::store;
namespace fs = std::filesystem;

namespace {

unsigned mode_of(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : ~0u;
}

// Every descriptor of this process open on a file below `dir`, with its access mode; "" when all are
// read-only.
std::string writable_fds_under(const std::string& dir) {
    const std::string root = fs::canonical(dir).string();
    std::string bad;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const std::string target = fs::read_symlink(e.path(), ec).string();
        if (ec || target.rfind(root + "/", 0) != 0) continue;
        std::ifstream info("/proc/self/fdinfo/" + e.path().filename().string());
        std::string key;
        unsigned long flags = 0;
        while (info >> key)
            if (key == "flags:") {
                info >> std::oct >> flags;
                break;
            }
        if ((flags & O_ACCMODE) != O_RDONLY) bad += target + " ";
    }
    return bad;
}

StoreOptions read_only_options() {
    StoreOptions opt = test::small_store_options();
    opt.read_only = true;
    opt.create_if_missing = false;
    return opt;
}

}  // namespace

class TestStoreIndexModes : public QObject {
    Q_OBJECT
private slots:
    void index_wal_and_shm_are_owner_only() {
        const mode_t old_umask = ::umask(022);
        const std::string dir = test::scratch_dir("modes");
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            test::put_seeded(**st, 800, 1);
            for (const char* f : {"/index.db", "/index.db-wal", "/index.db-shm", "/LOCK"})
                QCOMPARE(mode_of(dir + f), 0600u);
        }
        // An index made before (0644) is tightened by the next writer, its -wal and -shm with it.
        QCOMPARE(::chmod((dir + "/index.db").c_str(), 0644), 0);
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            test::put_seeded(**st, 801, 1);
            for (const char* f : {"/index.db", "/index.db-wal", "/index.db-shm"})
                QCOMPARE(mode_of(dir + f), 0600u);
        }
        ::umask(old_umask);
    }

    void read_only_open_writes_nothing_and_opens_nothing_for_writing() {
        const std::string dir = test::scratch_dir("ro-open");
        const std::string live = dir + "-live";
        std::vector<test::Written> written;
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            written = test::put_seeded(**st, 810, 4);
            fs::copy(dir, live, fs::copy_options::recursive);  // with its -wal and -shm, as a kill leaves it
        }
        QVERIFY(fs::exists(live + "/index.db-wal"));
        for (const std::string& d : {dir, live}) {
            const test::DirBytes before = test::dir_bytes(d);
            {
                auto st = Store::open(d, read_only_options());
                QVERIFY2(st.is_ok(), st.status().to_string().c_str());
                for (const auto& w : written) QVERIFY(test::serves_exactly(**st, w).empty());
                auto rep = (*st)->verify(false);
                QVERIFY(rep.is_ok() && rep->ok());
                const std::string bad = writable_fds_under(d);
                QVERIFY2(bad.empty(), bad.c_str());
                Status rm = (*st)->remove(written[0].id);
                QVERIFY2(rm.code() == ErrorCode::invalid_argument &&
                             rm.message().find("read-only") != std::string::npos,
                         rm.to_string().c_str());
            }
            QVERIFY(test::first_difference(before, test::dir_bytes(d)).empty());
        }
        // Without a LOCK file: read unlocked, and no LOCK created.
        fs::remove(dir + "/LOCK");
        {
            auto st = Store::open(dir, read_only_options());
            QVERIFY(st.is_ok());
        }
        QVERIFY(!fs::exists(dir + "/LOCK"));
    }

    void readers_share_the_lock_and_exclude_writers() {
        const std::string dir = test::scratch_dir("ro-lock");
        {
            auto w = Store::open(dir, test::small_store_options());
            QVERIFY(w.is_ok());
            auto r = Store::open(dir, read_only_options());
            QVERIFY2(!r.is_ok() && r.status().message().find("in use") != std::string::npos,
                     r.status().to_string().c_str());
        }
        auto r1 = Store::open(dir, read_only_options());
        auto r2 = Store::open(dir, read_only_options());
        QVERIFY(r1.is_ok() && r2.is_ok());
        auto w = Store::open(dir, test::small_store_options());
        QVERIFY(!w.is_ok() && w.status().message().find("in use") != std::string::npos);
    }

    void cli_read_commands_work_on_a_read_only_store() {
        const std::string dir = test::scratch_dir("ro-store");
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            test::put_seeded(**st, 820, 3);
        }
        const test::DirBytes before = test::dir_bytes(dir);
        std::vector<std::string> paths;
        for (const auto& e : fs::recursive_directory_iterator(dir)) paths.push_back(e.path().string());
        for (const auto& p : paths) ::chmod(p.c_str(), fs::is_directory(p) ? 0500 : 0400);
        ::chmod(dir.c_str(), 0500);
        if (::geteuid() == 0)
            qInfo("running as root: mode bits do not stop root's writes; the O_RDONLY check above stands in");
        for (const char* cmd : {"inspect", "verify"}) {
            auto r = test::run_cli({cmd, "--store", QString::fromStdString(dir)});
            QVERIFY2(r.code == 0, qPrintable(QString("%1: %2").arg(cmd, r.out)));
        }
        ::chmod(dir.c_str(), 0700);
        for (const auto& p : paths) ::chmod(p.c_str(), fs::is_directory(p) ? 0700 : 0600);
        QVERIFY(test::first_difference(before, test::dir_bytes(dir)).empty());
    }
};

QTEST_GUILESS_MAIN(TestStoreIndexModes)
#include "test_store_index_modes.moc"

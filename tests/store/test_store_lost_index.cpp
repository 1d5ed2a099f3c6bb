// Issue 13, item 1: with the index lost (cut to 0 bytes, deleted, overwritten, or its WAL deleted under a
// killed writer), `inspect` and `verify` deleted every segment file and said "0 problems". Now a damaged
// store is an error naming the damage, every file is left byte-identical (readers and a writer open alike),
// and `verify --rebuild-index` brings back every snapshot from the extent headers, pages identical.
#include <QtTest>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "store_damage_util.h"

using namespace docket;
using namespace docket::store;
namespace fs = std::filesystem;

namespace {

struct Base {
    std::string dir;
    std::vector<test::Written> written;
};

// A store of 8 snapshots over several segment files; `live` is a copy taken while the writer still had it
// open (the files a SIGKILL would leave: everything committed is in index.db-wal).
Base make_base(const std::string& name, const std::string& live) {
    Base b{test::scratch_dir(name), {}};
    auto st = Store::open(b.dir, test::small_store_options());
    if (!st) qFatal("%s", st.status().to_string().c_str());
    b.written = test::put_seeded(**st, 100, 8);
    if (!live.empty()) fs::copy(b.dir, live, fs::copy_options::recursive);
    return b;
}

void expect_refused_untouched(const std::string& dir, const char* what) {
    const test::DirBytes before = test::dir_bytes(dir);
    for (QStringList args :
         {QStringList{"inspect", "--store"}, QStringList{"inspect", "--snapshots", "--store"},
          QStringList{"verify", "--store"}}) {
        args << QString::fromStdString(dir);
        auto r = test::run_cli(args);
        QVERIFY2(!r.crashed && r.code != 0, qPrintable(QString("%1 %2: %3").arg(what, args[0], r.out)));
        QVERIFY2(r.out.contains("damaged"), qPrintable(r.out));
        QVERIFY2(r.out.contains("--rebuild-index"), qPrintable(r.out));
        const std::string diff = test::first_difference(before, test::dir_bytes(dir));
        QVERIFY2(diff.empty(), (std::string(what) + ": " + args[0].toStdString() + ": " + diff).c_str());
    }
    // A writer refuses it too, before its recovery could truncate or delete anything.
    {
        auto st = Store::open(dir, test::small_store_options());
        QCOMPARE(st.status().code(), ErrorCode::corrupt_data);
    }
    const test::DirBytes after = test::dir_bytes(dir);
    for (const auto& [path, bytes] : before)
        if (path.rfind("segments/", 0) == 0)
            QVERIFY2(after.count(path) && after.at(path) == bytes, path.c_str());
}

void expect_rebuilt(const std::string& dir, const std::vector<test::Written>& written, const char* what) {
    const test::DirBytes before = test::dir_bytes(dir);
    auto r = test::run_cli({"verify", "--store", QString::fromStdString(dir), "--rebuild-index"});
    QVERIFY2(!r.crashed && r.code == 0, qPrintable(QString("%1: %2").arg(what, r.out)));
    const test::DirBytes after = test::dir_bytes(dir);
    for (const auto& [path, bytes] : before)  // nothing deleted, no segment byte changed
        if (path.rfind("segments/", 0) == 0)
            QVERIFY2(after.count(path) && after.at(path) == bytes, path.c_str());
    auto st = Store::open(dir, test::small_store_options());
    QVERIFY2(st.is_ok(), st.status().to_string().c_str());
    for (const test::Written& w : written) {
        const std::string err = test::serves_exactly(**st, w);
        QVERIFY2(err.empty(), (std::string(what) + ": " + err).c_str());
    }
    auto rep = (*st)->verify(false);
    QVERIFY(rep.is_ok());
    QVERIFY2(rep->ok(), rep->problems.empty() ? "" : rep->problems[0].message.c_str());
    QCOMPARE(rep->snapshots, int64_t(written.size()));
}

}  // namespace

class TestStoreLostIndex : public QObject {
    Q_OBJECT
private slots:
    void inspect_and_verify_never_delete_segments_when_the_index_is_lost() {
        struct Case {
            const char* name;
            std::function<void(const std::string&)> damage;
        };
        const std::vector<Case> cases = {
            {"index cut to 0 bytes", [](const std::string& d) { fs::resize_file(d + "/index.db", 0); }},
            {"index deleted", [](const std::string& d) { fs::remove(d + "/index.db"); }},
            {"index overwritten",
             [](const std::string& d) {
                 std::mt19937_64 rng(13);
                 std::string junk(16384, '\0');
                 for (char& c : junk) c = static_cast<char>(rng());
                 std::ofstream(d + "/index.db", std::ios::binary | std::ios::trunc) << junk;
             }},
        };
        for (const Case& c : cases) {
            Base b = make_base("lost-index", "");
            c.damage(b.dir);
            expect_refused_untouched(b.dir, c.name);
            expect_rebuilt(b.dir, b.written, c.name);
        }
    }

    void wal_deleted_under_a_killed_writer_is_refused_then_rebuilt() {
        // The files a SIGKILL leaves, then the WAL (holding every commit) deleted.
        const std::string live = test::scratch_dir("lost-wal-live");
        Base b = make_base("lost-wal", live);
        QVERIFY(fs::exists(live + "/index.db-wal"));
        fs::remove(live + "/index.db-wal");
        fs::remove(live + "/index.db-shm");
        expect_refused_untouched(live, "WAL deleted");
        expect_rebuilt(live, b.written, "WAL deleted");
    }

    void rolled_back_index_keeps_newer_files_and_tails_then_rebuilt() {
        // The index as it was after the first 4 snapshots, the segment files as they are after 8: newer
        // files the index does not know, and a tail past the active file's committed end.
        const std::string dir = test::scratch_dir("rolled-back");
        std::vector<test::Written> written;
        const std::string old_index = dir + "-old-index.db";
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            written = test::put_seeded(**st, 200, 4);
        }
        fs::copy_file(dir + "/index.db", old_index, fs::copy_options::overwrite_existing);
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            for (auto& w : test::put_seeded(**st, 300, 4)) written.push_back(w);
        }
        fs::copy_file(old_index, dir + "/index.db", fs::copy_options::overwrite_existing);
        expect_refused_untouched(dir, "rolled back");
        expect_rebuilt(dir, written, "rolled back");
    }

    void rebuild_keeps_the_catalog_of_a_readable_index() {
        // The readable index is repaired in place: its document rows (and the snapshot's link to them) stay.
        const std::string dir = test::scratch_dir("rebuild-catalog");
        test::Written w;
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            auto coll = (*st)->ensure_collection("c");
            auto doc = (*st)->ensure_document(*coll, "contracts/a.pdf", Hash128{1, 2});
            auto seg = (*st)->ensure_segment(*doc, 0, Hash128{3, 4});
            w.seed = 400;
            w.snap = test::seeded_snapshot(w.seed);
            auto kv = test::make_kv(w.seed, w.snap.shape, w.snap.n_tokens);
            auto id = (*st)->put(w.snap.key, w.snap.shape, w.snap.n_tokens, kv.fn(), *seg);
            QVERIFY(id.is_ok());
        }
        {
            auto db = Db::open(dir + "/index.db", false);
            QVERIFY(db.is_ok());
            QVERIFY((*db)->exec("DELETE FROM extents").is_ok());  // the rows a damaged index lost
        }
        expect_rebuilt(dir, {w}, "extent rows lost");
        StoreOptions ro = test::small_store_options();
        ro.read_only = true;
        auto st = Store::open(dir, ro);
        QVERIFY(st.is_ok());
        auto list = (*(*st)->reader())->list();
        QVERIFY(list.is_ok() && list->size() == 1);
        QCOMPARE((*list)[0].document, std::string("contracts/a.pdf"));
    }
};

QTEST_GUILESS_MAIN(TestStoreLostIndex)
#include "test_store_lost_index.moc"

// Issue 13, item 2: a crafted `files.state = 'retired'` made opening the store delete that segment file
// (and `verify` then called the rest OK). A file is now deleted only on the store's own compaction record
// with no extent row pointing into it; a bare 'retired' state keeps the file and is reported.
#include <QtTest>

#include <filesystem>
#include <set>

#include "store/sqlite_db.h"
#include "store_damage_util.h"

using namespace docket;
using namespace docket::store;
namespace fs = std::filesystem;

namespace {

void exec(const std::string& dir, const std::string& sql) {
    auto db = Db::open(dir + "/index.db", false);
    QVERIFY(db.is_ok());
    Status st = (*db)->exec(sql);
    QVERIFY2(st.is_ok(), st.to_string().c_str());
}

int64_t count(const std::string& dir, const std::string& sql) {
    auto db = Db::open(dir + "/index.db", false);
    auto q = (*db)->prepare(sql);
    auto row = q->step();
    return row.is_ok() && *row ? q->col_int(0) : -1;
}

}  // namespace

class TestStoreRetiredRow : public QObject {
    Q_OBJECT
private slots:
    void crafted_retired_row_never_deletes_a_file_with_live_extents() {
        const std::string dir = test::scratch_dir("retired-live");
        std::vector<test::Written> written;
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            written = test::put_seeded(**st, 500, 6);
        }
        const int64_t victim = written[0].extents[0].file_id;
        const std::string path = test::segment_path(dir, victim);
        const test::DirBytes before = test::dir_bytes(dir);
        exec(dir, "UPDATE files SET state = 'retired' WHERE id = " + std::to_string(victim));

        // verify (read-only) names the inconsistency and changes nothing.
        const test::DirBytes crafted = test::dir_bytes(dir);
        auto r = test::run_cli({"verify", "--store", QString::fromStdString(dir)});
        QVERIFY2(r.code == 1 && r.out.contains("marked retired but"), qPrintable(r.out));
        QVERIFY(test::first_difference(crafted, test::dir_bytes(dir)).empty());

        // A writer's open keeps the file, puts the row back to sealed, and every snapshot is served.
        auto st = Store::open(dir, test::small_store_options());
        QVERIFY2(st.is_ok(), st.status().to_string().c_str());
        QVERIFY(fs::exists(path));
        const std::string rel = "segments/" + segment_file_name(victim);
        QVERIFY(test::dir_bytes(dir).at(rel) == before.at(rel));
        for (const test::Written& w : written) {
            const std::string err = test::serves_exactly(**st, w);
            QVERIFY2(err.empty(), err.c_str());
        }
        auto rep = (*st)->verify(false);
        QVERIFY(rep.is_ok() && rep->ok());
        st->reset();
        QCOMPARE(count(dir, "SELECT count(*) FROM files WHERE state = 'retired'"), int64_t{0});
    }

    void retired_without_a_compaction_record_is_kept_and_compaction_still_deletes() {
        const std::string dir = test::scratch_dir("retired-dead");
        std::vector<test::Written> written;
        int64_t dead_file = 0;
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            written = test::put_seeded(**st, 600, 6);
            // Empty the first file of live extents (every snapshot with an extent in it goes).
            dead_file = written[0].extents[0].file_id;
            std::set<int64_t> gone;
            for (const auto& w : written)
                for (const auto& e : w.extents)
                    if (e.file_id == dead_file) gone.insert(w.id);
            for (int64_t id : gone) QVERIFY((*st)->remove(id).is_ok());
        }
        exec(dir, "UPDATE files SET state = 'retired' WHERE id = " + std::to_string(dead_file));
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            QVERIFY2(fs::exists(test::segment_path(dir, dead_file)), "a bare 'retired' row deleted the file");
            // The store's own compaction does delete it, through its record.
            auto cs = (*st)->compact(1.0);
            QVERIFY2(cs.is_ok(), cs.status().to_string().c_str());
            QVERIFY(cs->files_deleted >= 1);
            QVERIFY(!fs::exists(test::segment_path(dir, dead_file)));
        }
        QCOMPARE(count(dir, "SELECT count(*) FROM compactions"), int64_t{0});
        QCOMPARE(count(dir, "SELECT count(*) FROM files WHERE id = " + std::to_string(dead_file)),
                 int64_t{0});
    }
};

QTEST_GUILESS_MAIN(TestStoreRetiredRow)
#include "test_store_retired_row.moc"

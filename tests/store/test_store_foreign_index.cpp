// Issue 13, item 3: `inspect` on a directory holding another program's SQLite index.db added Docket's tables
// to it and switched it to WAL. A Docket index is now recognised by its application_id (or, for stores from
// before it, by its first migration's row); anything else is refused with every byte, and the directory's
// listing, as they were: no tables, no WAL, no LOCK, no segments/.
#include <QtTest>

#include <sqlite3.h>

#include <filesystem>
#include <functional>

#include "store/sqlite_db.h"
#include "store/store_schema.h"
#include "store_damage_util.h"

using namespace docket;
using namespace docket::store;
namespace fs = std::filesystem;

namespace {

// Another program's database, written with the plain SQLite API.
void make_foreign(const std::string& dir, const std::string& sql, bool keep_wal) {
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    QCOMPARE(sqlite3_open((dir + "/index.db").c_str(), &db), SQLITE_OK);
    QCOMPARE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    if (keep_wal) {  // the files while it is still open: its log holds the commits
        fs::copy(dir, dir + "-live", fs::copy_options::recursive);
    }
    sqlite3_close(db);
    if (keep_wal) {
        fs::remove_all(dir);
        fs::rename(dir + "-live", dir);
    }
}

void expect_refused(const std::string& dir, const char* what) {
    const test::DirBytes before = test::dir_bytes(dir);
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
    const std::vector<QStringList> commands = {
        {"inspect"}, {"verify"}, {"verify", "--mark-bad"}, {"compact"}, {"verify", "--rebuild-index"}};
    for (QStringList args : commands) {
        args << "--store" << QString::fromStdString(dir);
        auto r = test::run_cli(args);
        QVERIFY2(!r.crashed && r.code != 0, qPrintable(QString("%1: %2").arg(what, r.out)));
        QVERIFY2(r.out.contains("not a Docket index"), qPrintable(r.out));
    }
    auto st = Store::open(dir);  // the engine itself, allowed to create a store
    QCOMPARE(st.status().code(), ErrorCode::invalid_argument);
    const std::string diff = test::first_difference(before, test::dir_bytes(dir));
    QVERIFY2(diff.empty(), (std::string(what) + ": " + diff).c_str());
    size_t after = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++after;
    QCOMPARE(after, entries);
}

}  // namespace

class TestStoreForeignIndex : public QObject {
    Q_OBJECT
private slots:
    void foreign_sqlite_index_is_refused_untouched() {
        const std::string base = test::scratch_dir("foreign");
        make_foreign(base + "/rollback", "CREATE TABLE notes(x); INSERT INTO notes VALUES('mine');", false);
        expect_refused(base + "/rollback", "rollback-journal database");

        make_foreign(base + "/wal",
                     "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE notes(x); "
                     "INSERT INTO notes VALUES('mine');",
                     true);
        QVERIFY(fs::exists(base + "/wal/index.db-wal"));
        expect_refused(base + "/wal", "WAL database with a live log");

        // Docket's table names are not Docket's marker.
        make_foreign(base + "/lookalike",
                     "CREATE TABLE schema_migrations(version, description, applied_at); INSERT INTO "
                     "schema_migrations VALUES(1, 'theirs', 0); CREATE TABLE files(id); CREATE TABLE "
                     "snapshots(id); CREATE TABLE extents(id);",
                     false);
        expect_refused(base + "/lookalike", "look-alike schema");

        // A Docket schema under another program's application_id is that program's.
        const std::string other = base + "/other-app";
        {
            auto st = Store::open(other);
            QVERIFY(st.is_ok());
        }
        {
            auto db = Db::open(other + "/index.db", false);
            QVERIFY((*db)->exec("PRAGMA application_id = 1234").is_ok());
        }
        fs::remove(other + "/LOCK");
        fs::remove_all(other + "/segments");
        expect_refused(other, "another application_id");
    }

    void store_from_before_the_marker_is_accepted_and_stamped() {
        const std::string dir = test::scratch_dir("legacy-marker");
        std::vector<test::Written> written;
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY(st.is_ok());
            written = test::put_seeded(**st, 700, 2);
        }
        {
            auto db = Db::open(dir + "/index.db", false);
            QVERIFY((*db)->exec("PRAGMA application_id = 0").is_ok());
        }
        auto r = test::run_cli({"inspect", "--store", QString::fromStdString(dir)});
        QVERIFY2(r.code == 0, qPrintable(r.out));
        {
            auto st = Store::open(dir, test::small_store_options());
            QVERIFY2(st.is_ok(), st.status().to_string().c_str());
            for (const auto& w : written) QVERIFY(test::serves_exactly(**st, w).empty());
        }
        auto db = Db::open(dir + "/index.db", false);
        auto q = (*db)->prepare("PRAGMA application_id");
        QVERIFY(q->step().is_ok());
        QCOMPARE(q->col_int(0), int64_t{kApplicationId});
    }
};

QTEST_GUILESS_MAIN(TestStoreForeignIndex)
#include "test_store_foreign_index.moc"

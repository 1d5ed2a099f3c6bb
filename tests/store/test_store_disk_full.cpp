// Disk full: an injected ENOSPC on the N-th write or sync of a put (for every N the put reaches) gives a
// clean disk_full error, leaves no trace of the failed snapshot, keeps every earlier snapshot intact, and the
// store takes new writes once space is back; a reopen finds it consistent. A read error during compaction
// drops no snapshot.
#include <QtTest>

#include <filesystem>

#include "store/fault_injection.h"
#include "store/store.h"
#include "store_test_util.h"

using namespace docket;
using namespace docket::store;

namespace {

SnapshotKey key(uint64_t n, Codec c = Codec::int4) {
    SnapshotKey k;
    k.codec = default_codec_params(c, 64);
    k.content = Hash128{n, 7};
    return k;
}

void check_consistent(Store& st, const std::string& dir, int expect_ready, const char* when) {
    auto reader = st.reader();
    QVERIFY(reader.is_ok());
    auto list = (*reader)->list();
    QVERIFY(list.is_ok());
    int ready = 0;
    for (const auto& s : *list) {
        QVERIFY2(s.state == SnapshotState::ready, when);
        ++ready;
    }
    QVERIFY2(ready == expect_ready,
             qPrintable(QString("%1: %2 ready, expected %3").arg(when).arg(ready).arg(expect_ready)));
    auto rep = st.verify(false);
    QVERIFY(rep.is_ok());
    QVERIFY2(rep->ok(), qPrintable(QString("%1: %2").arg(when).arg(
                            rep->problems.empty() ? "" : QString::fromStdString(rep->problems[0].message))));
    auto stats = st.stats();
    uint64_t on_disk = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/segments")) on_disk += e.file_size();
    QVERIFY2(
        on_disk == stats->file_bytes,
        qPrintable(
            QString("%1: %2 bytes on disk, index says %3").arg(when).arg(on_disk).arg(stats->file_bytes)));
}

}  // namespace

class TestStoreDiskFull : public QObject {
    Q_OBJECT
private slots:
    void enospc_at_every_write_and_sync_is_clean() {
        const std::string dir = test::scratch_dir("diskfull");
        IoFaults faults;
        StoreOptions opt;
        opt.faults = &faults;
        opt.segment_file_bytes = 256 << 10;
        opt.extent_target_bytes = 64 << 10;
        opt.write_batch_bytes = 128 << 10;
        auto st = Store::open(dir, opt);
        QVERIFY(st.is_ok());
        auto base = test::make_kv(1, {4, 3, 64}, 400);
        QVERIFY((*st)->put(key(1), base.shape, base.n_tokens, base.fn()).is_ok());
        int ready = 1;

        // How many writes and syncs one put of this size makes.
        auto kv = test::make_kv(2, {8, 3, 64}, 500);
        faults.writes = 0;
        faults.syncs = 0;
        QVERIFY((*st)->put(key(2), kv.shape, kv.n_tokens, kv.fn()).is_ok());
        ++ready;
        const int64_t writes = faults.writes.load(), syncs = faults.syncs.load();
        qInfo("one put: %lld writes, %lld syncs", (long long)writes, (long long)syncs);
        QVERIFY(writes >= 3 && syncs >= 2);

        uint64_t n = 100;
        for (int kind = 0; kind < 2; ++kind) {
            const int64_t count = kind == 0 ? writes : syncs;
            for (int64_t at = 1; at <= count; ++at) {
                (kind == 0 ? faults.fail_write_in : faults.fail_sync_in) = at;
                auto r = (*st)->put(key(++n), kv.shape, kv.n_tokens, kv.fn());
                const QString when =
                    QString("%1 %2 of %3").arg(kind == 0 ? "write" : "sync").arg(at).arg(count);
                QVERIFY2(!r.is_ok(), qPrintable(when + ": put succeeded despite ENOSPC"));
                QVERIFY2(r.status().code() == ErrorCode::disk_full,
                         qPrintable(when + ": " + QString::fromStdString(r.status().to_string())));
                check_consistent(**st, dir, ready, qPrintable(when));
                // Space is back: the next put works.
                QVERIFY((*st)->put(key(++n), kv.shape, kv.n_tokens, kv.fn()).is_ok());
                ++ready;
            }
        }
        faults.fail_write_in = -1;
        faults.fail_sync_in = -1;
        // Reopen: recovery agrees, and the oldest snapshot still reads back.
        st = Result<std::unique_ptr<Store>>(make_error(ErrorCode::internal, "closed"));
        auto again = Store::open(dir, opt);
        QVERIFY(again.is_ok());
        check_consistent(**again, dir, ready, "after reopen");
        auto reader = (*again)->reader();
        auto f = (*reader)->find(key(1));
        QVERIFY(f.is_ok() && f->has_value());
        auto dec = (*reader)->read_kv(**f);
        QVERIFY(dec.is_ok());
    }

    void enospc_during_compaction_keeps_every_snapshot() {
        const std::string dir = test::scratch_dir("diskfull-compact");
        IoFaults faults;
        StoreOptions opt;
        opt.faults = &faults;
        opt.segment_file_bytes = 256 << 10;
        opt.extent_target_bytes = 64 << 10;
        auto st = Store::open(dir, opt);
        QVERIFY(st.is_ok());
        auto kv = test::make_kv(3, {2, 2, 64}, 100);  // ~70 KB each: 3 per file, so files stay partly live
        std::vector<int64_t> ids;
        for (int i = 0; i < 12; ++i)
            ids.push_back(*(*st)->put(key(200 + i, Codec::int8), kv.shape, kv.n_tokens, kv.fn()));
        for (int i = 0; i < 12; i += 3) QVERIFY((*st)->remove(ids[i]).is_ok());
        for (int at = 1; at <= 4; ++at) {
            faults.fail_write_in = at;
            auto cs = (*st)->compact(0.1);
            QVERIFY(!cs.is_ok());
            QCOMPARE(cs.status().code(), ErrorCode::disk_full);
            check_consistent(**st, dir, 8, "compaction ENOSPC");
        }
        faults.fail_write_in = -1;
        auto cs = (*st)->compact(0.1);
        QVERIFY(cs.is_ok());
        check_consistent(**st, dir, 8, "compaction after space is back");
    }

    // A read error while compaction copies (EIO: maybe transient) is not corruption: the compaction stops
    // with io_error and no snapshot is dropped; a later compaction finishes the job.
    void read_error_during_compaction_drops_nothing() {
        const std::string dir = test::scratch_dir("readerr-compact");
        IoFaults faults;
        faults.error = EIO;
        StoreOptions opt;
        opt.faults = &faults;
        opt.segment_file_bytes = 256 << 10;
        opt.extent_target_bytes = 64 << 10;
        auto st = Store::open(dir, opt);
        QVERIFY(st.is_ok());
        auto kv = test::make_kv(4, {2, 2, 64}, 100);
        std::vector<int64_t> ids;
        for (int i = 0; i < 12; ++i)
            ids.push_back(*(*st)->put(key(300 + i, Codec::int8), kv.shape, kv.n_tokens, kv.fn()));
        for (int i = 0; i < 12; i += 3) QVERIFY((*st)->remove(ids[i]).is_ok());
        for (int at = 1; at <= 3; ++at) {
            faults.fail_read_in = at;
            auto cs = (*st)->compact(0.1);
            QVERIFY(!cs.is_ok());
            QCOMPARE(cs.status().code(), ErrorCode::io_error);
            check_consistent(**st, dir, 8, "compaction read error");
        }
        faults.fail_read_in = -1;
        auto cs = (*st)->compact(0.1);
        QVERIFY(cs.is_ok());
        QVERIFY(cs->files_compacted > 0);
        check_consistent(**st, dir, 8, "compaction after the read error");
    }
};

QTEST_GUILESS_MAIN(TestStoreDiskFull)
#include "test_store_disk_full.moc"

// Corruption: random bit flips anywhere in the live bytes of segment files (headers, payload, padding) are
// all detected, both on read (corrupt_data naming the document, snapshot marked bad, a re-put recovers) and
// by `docket-cli verify` (exit status 1, the document named).
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <QProcess>
#include <random>

#include "store/segment_file.h"
#include "store/store.h"
#include "store_test_util.h"

using namespace docket;
using namespace docket::store;

namespace {

struct Live {
    int64_t snapshot;
    std::string document;
    ExtentLoc ext;
    int doc_index;
};

void flip(const std::string& path, uint64_t offset, uint8_t mask) {
    int fd = ::open(path.c_str(), O_RDWR);
    uint8_t b = 0;
    QVERIFY(fd >= 0 && ::pread(fd, &b, 1, off_t(offset)) == 1);
    b ^= mask;
    QVERIFY(::pwrite(fd, &b, 1, off_t(offset)) == 1);
    ::fsync(fd);
    ::close(fd);
}

std::pair<int, QString> run_cli(const QStringList& args) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(DOCKET_CLI, args);
    if (!p.waitForFinished(60000)) return {-1, "timeout"};
    return {p.exitCode(), QString::fromUtf8(p.readAll())};
}

}  // namespace

class TestStoreCorruption : public QObject {
    Q_OBJECT
private slots:
    void every_random_flip_detected_on_read_and_by_verify() {
        const std::string dir = test::scratch_dir("corrupt");
        StoreOptions opt;
        opt.segment_file_bytes = 512 << 10;
        opt.extent_target_bytes = 64 << 10;
        const int kDocs = 6;
        std::vector<test::SyntheticKv> kvs;
        std::vector<SnapshotKey> keys;
        std::vector<int64_t> segs;
        std::vector<std::string> names;
        {
            auto st = Store::open(dir, opt);
            QVERIFY(st.is_ok());
            auto coll = (*st)->ensure_collection("c");
            for (int i = 0; i < kDocs; ++i) {
                names.push_back("contracts/doc-" + std::to_string(i) + ".pdf");
                auto doc = (*st)->ensure_document(*coll, names.back(), Hash128{uint64_t(i), 1});
                auto seg = (*st)->ensure_segment(*doc, 0, Hash128{uint64_t(i), 2});
                QVERIFY(seg.is_ok());
                segs.push_back(*seg);
                kvs.push_back(test::make_kv(77 + i, {6, 3, 64}, 100 + 90 * i));
                SnapshotKey k;
                k.codec = default_codec_params(Codec(i % 4), 64);
                k.content = Hash128{uint64_t(i), 3};
                keys.push_back(k);
                QVERIFY((*st)->put(k, kvs[i].shape, kvs[i].n_tokens, kvs[i].fn(), *seg).is_ok());
            }
        }
        std::mt19937_64 rng(99);
        const int kFlips = 200;
        int detected_read = 0, detected_verify = 0, cli_runs = 0;
        auto st = Store::open(dir, opt);
        QVERIFY(st.is_ok());
        auto reader = (*st)->reader();
        QVERIFY(reader.is_ok());
        for (int trial = 0; trial < kFlips; ++trial) {
            // Every live extent, then one random byte of one of them.
            std::vector<Live> live;
            auto list = (*reader)->list();
            QVERIFY(list.is_ok());
            for (const auto& s : *list) {
                QCOMPARE(s.state, SnapshotState::ready);
                auto ext = (*reader)->extents(s.id);
                int idx = int(std::find(names.begin(), names.end(), s.document) - names.begin());
                for (const auto& e : *ext) live.push_back({s.id, s.document, e, idx});
            }
            QVERIFY(!live.empty());
            const Live& victim = live[rng() % live.size()];
            const uint64_t off = victim.ext.offset + rng() % victim.ext.length;
            const std::string path = dir + "/segments/" + segment_file_name(victim.ext.file_id);
            const uint8_t mask = uint8_t(1u << (rng() % 8));
            flip(path, off, mask);

            const bool use_cli = trial % 25 == 0;
            if (use_cli) {
                st = Result<std::unique_ptr<Store>>(make_error(ErrorCode::internal, "closed for the CLI"));
                reader = Result<std::unique_ptr<StoreReader>>(make_error(ErrorCode::internal, "closed"));
                auto [code, out] = run_cli({"verify", "--store", QString::fromStdString(dir)});
                QVERIFY2(code == 1, qPrintable(out));
                QVERIFY2(out.contains(QString::fromStdString(victim.document)), qPrintable(out));
                ++cli_runs;
                st = Store::open(dir, opt);
                QVERIFY(st.is_ok());
                reader = (*st)->reader();
                QVERIFY(reader.is_ok());
            }
            auto rep = (*st)->verify(false);
            QVERIFY(rep.is_ok());
            QVERIFY2(rep->problems.size() == 1,
                     qPrintable(QString("trial %1: flip at %2+%3 of %4 gave %5 problems")
                                    .arg(trial)
                                    .arg(victim.ext.offset)
                                    .arg(off - victim.ext.offset)
                                    .arg(QString::fromStdString(path))
                                    .arg(rep->problems.size())));
            QCOMPARE(rep->problems[0].snapshot_id, victim.snapshot);
            QCOMPARE(rep->problems[0].document, victim.document);
            ++detected_verify;

            auto info = (*reader)->get(victim.snapshot);
            QVERIFY(info.is_ok());
            AlignedBuffer pages;
            Status rs = (*reader)->read_pages(*info, 0, info->shape.n_layers, pages);
            QCOMPARE(rs.code(), ErrorCode::corrupt_data);
            QVERIFY2(rs.message().find(victim.document) != std::string::npos, rs.message().c_str());
            ++detected_read;
            auto after = (*reader)->get(victim.snapshot);
            QCOMPARE(after->state, SnapshotState::bad);
            auto gone = (*reader)->find(keys[victim.doc_index]);
            QVERIFY(gone.is_ok() && !gone->has_value());

            // The caller recomputes: a put with the same key replaces the bad snapshot.
            flip(path, off, mask);  // (the old bytes are dead now either way)
            const int i = victim.doc_index;
            auto id = (*st)->put(keys[i], kvs[i].shape, kvs[i].n_tokens, kvs[i].fn(), segs[i]);
            QVERIFY(id.is_ok());
            QVERIFY(*id != victim.snapshot);
            if (trial % 40 == 39) QVERIFY((*st)->compact(0.5).is_ok());
        }
        qInfo("%d flips: %d detected on read, %d by Store::verify, %d also by docket-cli verify", kFlips,
              detected_read, detected_verify, cli_runs);
        // And a clean store verifies clean through the CLI.
        st = Result<std::unique_ptr<Store>>(make_error(ErrorCode::internal, "closed for the CLI"));
        reader = Result<std::unique_ptr<StoreReader>>(make_error(ErrorCode::internal, "closed"));
        auto [code, out] = run_cli({"verify", "--store", QString::fromStdString(dir)});
        QVERIFY2(code == 0, qPrintable(out));
    }
};

QTEST_GUILESS_MAIN(TestStoreCorruption)
#include "test_store_corruption.moc"

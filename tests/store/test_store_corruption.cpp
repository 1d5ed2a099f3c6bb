// Corruption: random bit flips anywhere in the live bytes of segment files (headers, payload, padding) are
// all detected, both on read (corrupt_data naming the document, snapshot marked bad, a re-put recovers) and
// by `docket-cli verify` (exit status 1, the document named). Headers rewritten with a valid checksum but a
// shape that disagrees with the snapshot row (or lengths that would overflow) are rejected cleanly.
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <QProcess>
#include <cstring>
#include <functional>
#include <random>

#include "store/extent_format.h"
#include "store/segment_file.h"
#include "store/sqlite_db.h"
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
            QVERIFY2(rs.code() == ErrorCode::corrupt_data, rs.to_string().c_str());
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

    // A header whose checksum is valid (index updated to match) but whose fields disagree with the snapshot
    // row: each is corrupt_data on read and in verify, never a copy sized by the header.
    void forged_header_with_valid_checksum_rejected() {
        const std::string dir = test::scratch_dir("forged");
        StoreOptions opt;
        struct Forge {
            const char* name;
            std::function<void(ExtentHeader&)> edit;
        };
        const std::vector<Forge> forges = {
            {"more kv heads (page bigger than the row's)",
             [](ExtentHeader& h) {
                 h.n_kv_heads = static_cast<uint16_t>(h.n_kv_heads + 2);
                 h.page_bytes = uint32_t(kv_page::page_bytes(Codec(h.codec), h.n_kv_heads, h.head_dim));
                 h.raw_length = uint64_t{h.layer_count} * h.page_count * h.page_bytes;
                 h.flags = 0;  // "zstd", so the raw-length check does not catch it first
             }},
            {"smaller head_dim, self-consistent",
             [](ExtentHeader& h) {
                 h.head_dim = 32;
                 h.page_bytes = uint32_t(kv_page::page_bytes(Codec(h.codec), h.n_kv_heads, h.head_dim));
                 h.raw_length = h.payload_length = uint64_t{h.layer_count} * h.page_count * h.page_bytes;
             }},
            {"other codec, self-consistent",
             [](ExtentHeader& h) {
                 h.codec = uint8_t(Codec::int4);
                 h.page_bytes = uint32_t(kv_page::page_bytes(Codec(h.codec), h.n_kv_heads, h.head_dim));
                 h.raw_length = h.payload_length = uint64_t{h.layer_count} * h.page_count * h.page_bytes;
             }},
            {"other token count", [](ExtentHeader& h) { h.n_tokens += 1; }},
            {"payload length that wraps 128 + n",
             [](ExtentHeader& h) {
                 h.flags = 0;
                 h.payload_length = ~uint64_t{0} - 64;
             }},
            {"raw payload shorter than the pages", [](ExtentHeader& h) { h.payload_length -= 4096; }},
        };
        std::vector<int64_t> ids;
        std::vector<ExtentLoc> locs;
        {
            auto st = Store::open(dir, opt);
            QVERIFY(st.is_ok());
            for (size_t i = 0; i < forges.size(); ++i) {
                auto kv = test::make_kv(500 + i, {2, 1, 64}, 150);
                SnapshotKey k;
                k.codec = default_codec_params(Codec::fp16, 64);
                k.content = Hash128{uint64_t(i), 9};
                auto id = (*st)->put(k, kv.shape, kv.n_tokens, kv.fn());
                QVERIFY(id.is_ok());
                ids.push_back(*id);
                auto r = (*st)->reader();
                auto ext = (*r)->extents(*id);
                QVERIFY(ext.is_ok() && ext->size() == 1);  // one extent: small snapshot
                locs.push_back((*ext)[0]);
            }
        }
        {
            auto db = Db::open(dir + "/index.db", false);
            QVERIFY(db.is_ok());
            for (size_t i = 0; i < forges.size(); ++i) {
                const ExtentLoc& e = locs[i];
                const std::string path = dir + "/segments/" + segment_file_name(e.file_id);
                std::vector<uint8_t> bytes(e.length);
                int fd = ::open(path.c_str(), O_RDWR);
                QVERIFY(fd >= 0);
                QCOMPARE(::pread(fd, bytes.data(), e.length, off_t(e.offset)), ssize_t(e.length));
                ExtentHeader h;
                std::memcpy(&h, bytes.data(), sizeof(h));
                QCOMPARE(h.flags, kExtentRaw);
                forges[i].edit(h);
                h.checksum = 0;
                std::memcpy(bytes.data(), &h, sizeof(h));
                h.checksum = extent_checksum(bytes.data(), e.length);
                std::memcpy(bytes.data(), &h, sizeof(h));
                QCOMPARE(::pwrite(fd, bytes.data(), e.length, off_t(e.offset)), ssize_t(e.length));
                ::close(fd);
                auto up = (*db)->prepare("UPDATE extents SET checksum = ? WHERE id = ?");
                QVERIFY(up.is_ok());
                QVERIFY(up->bind(1, h.checksum).bind(2, e.id).exec().is_ok());
            }
        }
        for (bool uring : {false, true}) {  // verify through both readers; then reads (marking bad)
            opt.allow_io_uring = uring;
            auto st = Store::open(dir, opt);
            QVERIFY(st.is_ok());
            auto rep = (*st)->verify(false);
            QVERIFY(rep.is_ok());
            QCOMPARE(rep->problems.size(), forges.size());
            for (size_t i = 0; i < forges.size(); ++i) {
                QCOMPARE(rep->problems[i].snapshot_id, ids[i]);
                qInfo("%s: %s", forges[i].name, rep->problems[i].message.c_str());
            }
            if (uring) {
                auto r = (*st)->reader();
                for (size_t i = 0; i < forges.size(); ++i) {
                    auto info = (*r)->get(ids[i]);
                    QVERIFY(info.is_ok());
                    AlignedBuffer pages;
                    Status rs = (*r)->read_pages(*info, 0, info->shape.n_layers, pages);
                    QVERIFY2(rs.code() == ErrorCode::corrupt_data, forges[i].name);
                    QCOMPARE((*r)->get(ids[i])->state, SnapshotState::bad);
                }
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestStoreCorruption)
#include "test_store_corruption.moc"

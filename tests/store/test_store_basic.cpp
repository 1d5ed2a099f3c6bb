// Snapshot store basics: put/read round trip for every codec, key isolation, reopen (io_uring and the pread
// fallback), segment file rotation, LRU eviction under a byte budget, compaction, the model fingerprint.
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "model/fingerprint.h"
#include "store/fault_injection.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "store_test_util.h"
#include "test_paths.h"

using namespace docket;
using namespace docket::store;

namespace {

SnapshotKey key_for(Codec c, uint64_t content, int head_dim = 64) {
    SnapshotKey k;
    k.model = Hash128{1, 2};
    k.codec = default_codec_params(c, head_dim);
    k.prefix = Hash128{3, 4};
    k.content = Hash128{content, 0};
    return k;
}

std::vector<uint8_t> encode_all(Codec c, const test::SyntheticKv& kv) {
    test::SeededSnapshot s{key_for(c, 0), kv.shape, kv.n_tokens};
    (void)s;
    const size_t pb = kv_page::page_bytes(c, kv.shape.n_kv_heads, kv.shape.head_dim);
    const int np = kv_page::pages_for_tokens(kv.n_tokens);
    const size_t per_token = size_t(kv.shape.n_kv_heads) * kv.shape.head_dim;
    std::vector<uint8_t> out(size_t(kv.shape.n_layers) * np * pb);
    for (int l = 0; l < kv.shape.n_layers; ++l)
        for (int p = 0; p < np; ++p) {
            const int valid = int(std::min<int64_t>(64, kv.n_tokens - p * 64));
            (void)encode_page(c, kv.shape.n_kv_heads, kv.shape.head_dim, kv.k[l].data() + p * 64 * per_token,
                              kv.v[l].data() + p * 64 * per_token, valid,
                              out.data() + (size_t(l) * np + p) * pb);
        }
    return out;
}

#define REQUIRE_OK(expr)                                                                   \
    do {                                                                                   \
        auto&& r_ = (expr);                                                                \
        QVERIFY2(r_.is_ok(), qPrintable(QString::fromStdString(r_.status().to_string()))); \
    } while (0)
#define REQUIRE_STATUS(expr)                                                      \
    do {                                                                          \
        Status s_ = (expr);                                                       \
        QVERIFY2(s_.is_ok(), qPrintable(QString::fromStdString(s_.to_string()))); \
    } while (0)

}  // namespace

class TestStoreBasic : public QObject {
    Q_OBJECT
private slots:
    void put_then_read_back_every_codec() {
        const std::string dir = test::scratch_dir("basic-roundtrip");
        auto st = Store::open(dir);
        REQUIRE_OK(st);
        Store& store = **st;
        auto coll = store.ensure_collection("cuad");
        REQUIRE_OK(coll);
        auto doc = store.ensure_document(*coll, "contracts/lease.pdf", Hash128{9, 9});
        REQUIRE_OK(doc);
        auto seg = store.ensure_segment(*doc, 0, Hash128{8, 8});
        REQUIRE_OK(seg);
        auto kv = test::make_kv(42, {30, 3, 64}, 300);  // SmolLM2 shape, partial last page
        auto reader = store.reader();
        REQUIRE_OK(reader);
        qInfo("reads through %s", (*reader)->io_kind());
        for (int c = 0; c < kv_page::kNumCodecs; ++c) {
            const SnapshotKey key = key_for(Codec(c), 100);
            auto id = store.put(key, kv.shape, kv.n_tokens, kv.fn(), *seg);
            REQUIRE_OK(id);
            auto found = (*reader)->find(key);
            REQUIRE_OK(found);
            QVERIFY(found->has_value());
            const SnapshotInfo& info = **found;
            QCOMPARE(info.id, *id);
            QCOMPARE(info.document, std::string("contracts/lease.pdf"));
            QCOMPARE(info.n_tokens, int64_t(300));
            AlignedBuffer pages;
            REQUIRE_STATUS((*reader)->read_pages(info, 0, 30, pages));
            const auto expect = encode_all(Codec(c), kv);
            QCOMPARE(pages.size(), expect.size());
            QVERIFY(std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
            QCOMPARE(reinterpret_cast<uintptr_t>(pages.data()) % kv_page::kPageAlign, uintptr_t(0));
            // A layer sub-range is the matching slice.
            AlignedBuffer part;
            REQUIRE_STATUS((*reader)->read_pages(info, 7, 19, part));
            const size_t layer_bytes = expect.size() / 30;
            QCOMPARE(part.size(), 12 * layer_bytes);
            QVERIFY(std::memcmp(part.data(), expect.data() + 7 * layer_bytes, part.size()) == 0);
            auto dec = (*reader)->read_kv(info);
            REQUIRE_OK(dec);
            QCOMPARE(dec->k[29].size(), kv.k[29].size());
            qInfo("%s: %llu bytes on disk, %llu raw, %.1f bytes/token", kv_page::codec_name(Codec(c)),
                  (unsigned long long)(*reader)->get(*id)->bytes,
                  (unsigned long long)(*reader)->get(*id)->raw_bytes,
                  double((*reader)->get(*id)->bytes) / 300);
            // Same key again: the ready snapshot is kept.
            auto again = store.put(key, kv.shape, kv.n_tokens, kv.fn(), *seg);
            REQUIRE_OK(again);
            QCOMPARE(*again, *id);
        }
        auto rep = store.verify(false);
        REQUIRE_OK(rep);
        QVERIFY(rep->ok());
        QCOMPARE(rep->snapshots, int64_t(4));
        struct stat sb;
        QCOMPARE(::stat(dir.c_str(), &sb), 0);
        QCOMPARE(int(sb.st_mode & 0777), 0700);
        QCOMPARE(::stat((dir + "/segments").c_str(), &sb), 0);
        QCOMPARE(int(sb.st_mode & 0777), 0700);
    }

    void key_differing_in_any_field_never_matches() {
        const std::string dir = test::scratch_dir("basic-keys");
        auto st = Store::open(dir);
        REQUIRE_OK(st);
        auto kv = test::make_kv(1, {2, 3, 64}, 70);
        const SnapshotKey key = key_for(Codec::int4, 5);
        REQUIRE_OK((*st)->put(key, kv.shape, kv.n_tokens, kv.fn()));
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        auto hit = (*reader)->find(key);
        REQUIRE_OK(hit);
        QVERIFY(hit->has_value());
        std::vector<SnapshotKey> misses(5, key);
        misses[0].model.hi ^= 1;
        misses[1].codec.codec = Codec::int8;
        misses[2].prefix.lo ^= 1;
        misses[3].content.hi ^= 1;
        misses[4].codec.codec = Codec::int2;
        for (const auto& m : misses) {
            auto r = (*reader)->find(m);
            REQUIRE_OK(r);
            QVERIFY(!r->has_value());
        }
        // Group sizes other than the page format's are refused, not silently stored under another key.
        SnapshotKey odd = key;
        odd.codec.v_group = 32;
        QCOMPARE((*st)->put(odd, kv.shape, kv.n_tokens, kv.fn()).status().code(),
                 ErrorCode::invalid_argument);
        QVERIFY(codec_params_string(key.codec).find("fmt=") != std::string::npos);
    }

    void reopen_reads_with_pread_fallback_and_rotates_files() {
        const std::string dir = test::scratch_dir("basic-reopen");
        StoreOptions opt;
        opt.segment_file_bytes = 256 << 10;  // several files
        opt.extent_target_bytes = 64 << 10;
        std::vector<test::SyntheticKv> kvs;
        {
            auto st = Store::open(dir, opt);
            REQUIRE_OK(st);
            for (int i = 0; i < 8; ++i) {
                kvs.push_back(test::make_kv(100 + i, {4, 3, 64}, 200 + 37 * i));
                REQUIRE_OK((*st)->put(key_for(Codec::fp16, 100 + i), kvs.back().shape, kvs.back().n_tokens,
                                      kvs.back().fn()));
            }
            auto s = (*st)->stats();
            REQUIRE_OK(s);
            QVERIFY2(s->files >= 3, qPrintable(QString("only %1 files").arg(s->files)));
            QCOMPARE(s->dead_bytes(), uint64_t(0));
        }
        // Another process can't open it while we hold it; after close it can.
        opt.allow_io_uring = false;
        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        QVERIFY(!Store::open(dir, opt).is_ok());
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        QCOMPARE(std::string((*reader)->io_kind()), std::string("pread-pool"));
        for (int i = 0; i < 8; ++i) {
            auto f = (*reader)->find(key_for(Codec::fp16, 100 + i));
            REQUIRE_OK(f);
            QVERIFY(f->has_value());
            AlignedBuffer pages;
            REQUIRE_STATUS((*reader)->read_pages(**f, 0, 4, pages));
            const auto expect = encode_all(Codec::fp16, kvs[i]);
            QVERIFY(pages.size() == expect.size() &&
                    std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
        }
    }

    // A submit that fails mid-batch (injected) is an io_error of that read only: the next read on the same
    // reader sees no stale completion and returns every page right.
    void uring_submit_failure_leaves_nothing_in_flight() {
        const std::string dir = test::scratch_dir("basic-uring-fail");
        IoFaults faults;
        StoreOptions opt;
        opt.extent_target_bytes = 64 << 10;
        opt.queue_depth = 4;
        opt.faults = &faults;
        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        auto kv = test::make_kv(4242, {6, 3, 64}, 1500);
        REQUIRE_OK((*st)->put(key_for(Codec::fp16, 4242), kv.shape, kv.n_tokens, kv.fn()));
        const auto expect = encode_all(Codec::fp16, kv);
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        if (std::string((*reader)->io_kind()) != "io_uring") QSKIP("io_uring is not available here");
        auto f = (*reader)->find(key_for(Codec::fp16, 4242));
        REQUIRE_OK(f);
        QVERIFY(f->has_value());
        auto ext = (*reader)->extents((*f)->id);
        QVERIFY(ext.is_ok() && ext->size() > 16);  // many batches of 4 reads
        for (int nth : {1, 2, 3, 5, 8, 13}) {
            faults.fail_submit_in = nth;
            AlignedBuffer pages;
            Status bad = (*reader)->read_pages(**f, 0, kv.shape.n_layers, pages);
            QCOMPARE(bad.code(), ErrorCode::io_error);
            for (int again = 0; again < 2; ++again) {
                std::memset(pages.data(), 0xAB, pages.size());
                REQUIRE_STATUS((*reader)->read_pages(**f, 0, kv.shape.n_layers, pages));
                QVERIFY(pages.size() == expect.size() &&
                        std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
            }
            QCOMPARE(std::string((*reader)->io_kind()), std::string("io_uring"));
        }
        auto after = (*reader)->get((*f)->id);
        QCOMPARE(after->state, SnapshotState::ready);  // an I/O error is not corruption
    }

    // A segment file shorter than its committed end (lost tail, cut at an unaligned size): the open cuts it
    // to a 4 KiB boundary, drops the snapshots that lost bytes, and later puts (O_DIRECT) and reads work.
    void recovery_of_a_short_file_keeps_appends_aligned() {
        const std::string dir = test::scratch_dir("basic-short-file");
        StoreOptions opt;
        opt.extent_target_bytes = 64 << 10;
        std::vector<test::SyntheticKv> kvs;
        std::vector<int64_t> ids;
        ExtentLoc cut_in;
        {
            auto st = Store::open(dir, opt);
            REQUIRE_OK(st);
            for (int i = 0; i < 4; ++i) {
                kvs.push_back(test::make_kv(700 + i, {3, 2, 64}, 300));
                auto id =
                    (*st)->put(key_for(Codec::int8, 700 + i), kvs[i].shape, kvs[i].n_tokens, kvs[i].fn());
                REQUIRE_OK(id);
                ids.push_back(*id);
            }
            auto r = (*st)->reader();
            auto ext = (*r)->extents(ids[2]);
            REQUIRE_OK(ext);
            cut_in = (*ext)[1];
        }
        const std::string seg = dir + "/segments/" + segment_file_name(cut_in.file_id);
        const uint64_t cut = cut_in.offset + 5000;  // unaligned, inside snapshot 3's second extent
        QCOMPARE(::truncate(seg.c_str(), off_t(cut)), 0);

        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        QCOMPARE(std::filesystem::file_size(seg) % kIoAlign, uintmax_t(0));
        QVERIFY(std::filesystem::file_size(seg) <= cut);
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        for (int i = 0; i < 4; ++i) {
            auto f = (*reader)->find(key_for(Codec::int8, 700 + i));
            REQUIRE_OK(f);
            QCOMPARE(f->has_value(), i < 2);  // 2 lost bytes, 3 lay wholly past the cut
            if (i < 2) {
                AlignedBuffer pages;
                REQUIRE_STATUS((*reader)->read_pages(**f, 0, 3, pages));
                const auto expect = encode_all(Codec::int8, kvs[i]);
                QVERIFY(std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
            }
        }
        // New puts append at the aligned end (an unaligned one fails every O_DIRECT write with EINVAL).
        for (int i = 2; i < 4; ++i) {
            REQUIRE_OK((*st)->put(key_for(Codec::int8, 700 + i), kvs[i].shape, kvs[i].n_tokens, kvs[i].fn()));
            auto f = (*reader)->find(key_for(Codec::int8, 700 + i));
            REQUIRE_OK(f);
            QVERIFY(f->has_value());
            AlignedBuffer pages;
            REQUIRE_STATUS((*reader)->read_pages(**f, 0, 3, pages));
            const auto expect = encode_all(Codec::int8, kvs[i]);
            QVERIFY(std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
        }
        auto rep = (*st)->verify(false);
        REQUIRE_OK(rep);
        QVERIFY2(rep->ok(), rep->problems.empty() ? "" : rep->problems[0].message.c_str());
        QCOMPARE(rep->snapshots, int64_t(4));
    }

    // Store::put asks kv(layer) once per layer, whatever the extent plan (several page blocks per layer, or
    // several layers per extent).
    void put_fetches_each_layer_once() {
        const std::string dir = test::scratch_dir("basic-kv-calls");
        for (size_t target : {size_t(64) << 10, size_t(4) << 20}) {
            StoreOptions opt;
            opt.extent_target_bytes = target;
            auto st = Store::open(dir, opt);
            REQUIRE_OK(st);
            auto kv = test::make_kv(31, {5, 2, 64}, 900);
            std::vector<int> calls(5, 0);
            LayerKvFn fn = [&](int l) {
                ++calls[l];
                return LayerKv{kv.k[l].data(), kv.v[l].data()};
            };
            REQUIRE_OK((*st)->put(key_for(Codec::int4, 31 + target), kv.shape, kv.n_tokens, fn));
            for (int l = 0; l < 5; ++l) QCOMPARE(calls[l], 1);
        }
    }

    // After compaction deletes a file, a reader does not keep it open (its space would never come back).
    void reader_closes_deleted_segment_files() {
        const std::string dir = test::scratch_dir("basic-fds");
        StoreOptions opt;
        opt.segment_file_bytes = 256 << 10;
        opt.extent_target_bytes = 64 << 10;
        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        auto kv = test::make_kv(5, {2, 2, 64}, 100);
        std::vector<int64_t> ids;
        for (int i = 0; i < 12; ++i)
            ids.push_back(*(*st)->put(key_for(Codec::int8, 900 + i), kv.shape, kv.n_tokens, kv.fn()));
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        auto read_all = [&] {
            auto list = (*reader)->list();
            for (const auto& s : *list) {
                AlignedBuffer pages;
                QVERIFY((*reader)->read_pages(s, 0, s.shape.n_layers, pages).is_ok());
            }
        };
        auto deleted_fds = [&] {
            int n = 0;
            for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
                std::error_code ec;
                const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
                if (!ec && target.find(dir) == 0 && target.find("(deleted)") != std::string::npos) ++n;
            }
            return n;
        };
        read_all();  // opens every file
        for (int i = 0; i < 12; i += 2) REQUIRE_STATUS((*st)->remove(ids[i]));
        auto cs = (*st)->compact(0.1);
        REQUIRE_OK(cs);
        QVERIFY(cs->files_deleted > 0);
        read_all();
        QCOMPARE(deleted_fds(), 0);
    }

    void lru_eviction_keeps_recently_used_within_budget() {
        const std::string dir = test::scratch_dir("basic-lru");
        StoreOptions opt;
        opt.segment_file_bytes = 192 << 10;
        opt.extent_target_bytes = 64 << 10;
        auto kv = test::make_kv(7, {4, 3, 64}, 256);
        uint64_t one = 0;
        {
            auto probe = Store::open(dir + "-probe", opt);
            REQUIRE_OK(probe);
            REQUIRE_OK((*probe)->put(key_for(Codec::int8, 1), kv.shape, kv.n_tokens, kv.fn()));
            one = (*probe)->stats()->live_bytes;
        }
        opt.byte_budget = 4 * one;
        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        for (int i = 0; i < 12; ++i) {
            REQUIRE_OK((*st)->put(key_for(Codec::int8, 1000 + i), kv.shape, kv.n_tokens, kv.fn()));
            // Keep snapshot 1000 hot: read it after every put.
            auto hot = (*reader)->find(key_for(Codec::int8, 1000));
            REQUIRE_OK(hot);
            QVERIFY2(hot->has_value(), "the most recently used snapshot was evicted");
            AlignedBuffer pages;
            REQUIRE_STATUS((*reader)->read_pages(**hot, 0, 4, pages));
            std::this_thread::sleep_for(std::chrono::milliseconds(3));  // distinct last_used stamps
        }
        auto s = (*st)->stats();
        REQUIRE_OK(s);
        QVERIFY2(s->live_bytes <= opt.byte_budget,
                 qPrintable(QString("live %1 > budget %2").arg(s->live_bytes).arg(opt.byte_budget)));
        QCOMPARE(s->snapshots_ready, int64_t(4));
        // Compaction keeps the files near the live bytes (the active file's slack aside).
        QVERIFY2(s->file_bytes <= opt.byte_budget + opt.segment_file_bytes,
                 qPrintable(QString("files %1 bytes for budget %2").arg(s->file_bytes).arg(opt.byte_budget)));
        for (int i : {9, 10, 11}) {
            auto f = (*reader)->find(key_for(Codec::int8, 1000 + i));
            REQUIRE_OK(f);
            QVERIFY2(f->has_value(), qPrintable(QString("recent snapshot %1 evicted").arg(i)));
        }
        auto old = (*reader)->find(key_for(Codec::int8, 1001));
        REQUIRE_OK(old);
        QVERIFY(!old->has_value());
        auto rep = (*st)->verify(false);
        REQUIRE_OK(rep);
        QVERIFY(rep->ok());
    }

    void compaction_reclaims_dead_extents_and_keeps_live_ones() {
        const std::string dir = test::scratch_dir("basic-compact");
        StoreOptions opt;
        opt.segment_file_bytes = 256 << 10;
        opt.extent_target_bytes = 64 << 10;
        auto st = Store::open(dir, opt);
        REQUIRE_OK(st);
        std::vector<test::SyntheticKv> kvs;
        std::vector<int64_t> ids;
        for (int i = 0; i < 16; ++i) {
            kvs.push_back(test::make_kv(500 + i, {3, 2, 64}, 300));
            auto id = (*st)->put(key_for(Codec::int4, 500 + i), kvs.back().shape, 300, kvs.back().fn());
            REQUIRE_OK(id);
            ids.push_back(*id);
        }
        for (int i = 0; i < 16; i += 2) REQUIRE_STATUS((*st)->remove(ids[i]));
        auto before = (*st)->stats();
        REQUIRE_OK(before);
        QVERIFY(before->dead_bytes() > 0);
        auto cs = (*st)->compact(0.3);
        REQUIRE_OK(cs);
        QVERIFY(cs->files_deleted > 0);
        auto after = (*st)->stats();
        REQUIRE_OK(after);
        qInfo("files %llu -> %llu bytes (live %llu)", (unsigned long long)before->file_bytes,
              (unsigned long long)after->file_bytes, (unsigned long long)after->live_bytes);
        QVERIFY(after->file_bytes < before->file_bytes);
        QCOMPARE(after->live_bytes, before->live_bytes);
        auto reader = (*st)->reader();
        REQUIRE_OK(reader);
        for (int i = 1; i < 16; i += 2) {
            auto f = (*reader)->find(key_for(Codec::int4, 500 + i));
            REQUIRE_OK(f);
            QVERIFY(f->has_value());
            AlignedBuffer pages;
            REQUIRE_STATUS((*reader)->read_pages(**f, 0, 3, pages));
            const auto expect = encode_all(Codec::int4, kvs[i]);
            QVERIFY(std::memcmp(pages.data(), expect.data(), expect.size()) == 0);
        }
        auto rep = (*st)->verify(false);
        REQUIRE_OK(rep);
        QVERIFY(rep->ok());
    }

    void model_fingerprint_of_smollm2_cached_and_content_sensitive() {
        const std::string model = test::smollm2_path();
        QVERIFY2(std::filesystem::exists(model), "SmolLM2 model missing: run installer/setup.sh");
        const std::string dir = test::scratch_dir("basic-fingerprint");
        auto st = Store::open(dir);
        REQUIRE_OK(st);
        auto t0 = std::chrono::steady_clock::now();
        auto fp = (*st)->model_fingerprint(model);
        REQUIRE_OK(fp);
        auto t1 = std::chrono::steady_clock::now();
        auto fp2 = (*st)->model_fingerprint(model);
        REQUIRE_OK(fp2);
        auto t2 = std::chrono::steady_clock::now();
        const double first_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
        const double cached_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
        qInfo("fingerprint %s: %.1f ms computed (%.0f MB), %.3f ms cached", fp->hex().c_str(), first_ms,
              std::filesystem::file_size(model) / 1e6, cached_ms);
        QCOMPARE(*fp2, *fp);
        QVERIFY(cached_ms < first_ms);
        // A copy elsewhere: same fingerprint. One flipped byte in the tensor data: a different one.
        const std::string copy = dir + "/copy.gguf";
        std::filesystem::copy_file(model, copy);
        auto fc = model_fingerprint_file(copy);
        REQUIRE_OK(fc);
        QCOMPARE(*fc, *fp);
        {
            std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
            const auto size = std::filesystem::file_size(copy);
            f.seekg(size - 1000);
            char c;
            f.read(&c, 1);
            c ^= 0x10;
            f.seekp(size - 1000);
            f.write(&c, 1);
        }
        auto fd = (*st)->model_fingerprint(copy);
        REQUIRE_OK(fd);
        QVERIFY(!(*fd == *fp));

        // A different model of the same size with the mtime kept (cp -p, rsync -t) put at a path the cache
        // knows: fingerprinted again, not served from the cache. Both by rename (new inode) and rewritten in
        // place (same inode; ctime moves).
        const std::string known = dir + "/known.gguf";
        std::filesystem::copy_file(model, known);
        REQUIRE_OK((*st)->model_fingerprint(known));
        struct stat orig;
        QCOMPARE(::stat(known.c_str(), &orig), 0);
        const timespec keep[2] = {orig.st_atim, orig.st_mtim};
        QCOMPARE(::utimensat(AT_FDCWD, copy.c_str(), keep, 0), 0);
        QCOMPARE(std::filesystem::file_size(copy), std::filesystem::file_size(known));
        std::filesystem::rename(copy, known);
        auto fr = (*st)->model_fingerprint(known);
        REQUIRE_OK(fr);
        QCOMPARE(*fr, *fd);
        // In place: flip the byte back, restore the mtime again.
        {
            std::fstream f(known, std::ios::in | std::ios::out | std::ios::binary);
            const auto size = std::filesystem::file_size(known);
            f.seekg(size - 1000);
            char c;
            f.read(&c, 1);
            c ^= 0x10;
            f.seekp(size - 1000);
            f.write(&c, 1);
        }
        QCOMPARE(::utimensat(AT_FDCWD, known.c_str(), keep, 0), 0);
        auto fi = (*st)->model_fingerprint(known);
        REQUIRE_OK(fi);
        QCOMPARE(*fi, *fp);
        std::filesystem::remove(known);
    }
};

QTEST_GUILESS_MAIN(TestStoreBasic)
#include "test_store_basic.moc"

// Concurrent readers while a writer appends: 3 reader threads (each with its own StoreReader) read and check
// snapshots byte-exact while the writer keeps adding, evicting and compacting; no reader ever sees a
// half-written snapshot or wrong bytes.
#include <QtTest>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "store/store.h"
#include "store_test_util.h"

using namespace docket;
using namespace docket::store;

class TestStoreConcurrent : public QObject {
    Q_OBJECT
private slots:
    void readers_see_only_complete_snapshots_while_writer_appends() {
        const std::string dir = test::scratch_dir("concurrent");
        StoreOptions opt;
        opt.segment_file_bytes = 512 << 10;
        opt.extent_target_bytes = 64 << 10;
        opt.write_batch_bytes = 64 << 10;  // several commits per snapshot: 'writing' states are common
        opt.byte_budget = 4 << 20;         // eviction and compaction race the readers too
        opt.compact_dead_fraction = 0.3;
        opt.queue_depth = 8;
        auto st = Store::open(dir, opt);
        QVERIFY(st.is_ok());
        Store& store = **st;

        std::mutex mu;
        std::map<uint64_t, std::vector<uint8_t>> expected;  // seed -> pages, filled before the put
        std::atomic<bool> done{false};
        std::atomic<int64_t> reads{0}, evicted_meanwhile{0};
        std::atomic<int> failures{0};
        std::string first_failure;
        auto fail = [&](const std::string& m) {
            std::lock_guard lock(mu);
            if (failures++ == 0) first_failure = m;
        };

        auto reader_fn = [&](int r) {
            auto reader = store.reader();
            if (!reader) return fail(reader.status().to_string());
            while (!done.load()) {
                auto list = (*reader)->list();
                if (!list) return fail(list.status().to_string());
                for (const auto& s : *list) {
                    if (s.state != SnapshotState::ready) continue;
                    auto f = (*reader)->find(s.key);
                    if (!f) return fail(f.status().to_string());
                    if (!f->has_value()) continue;  // evicted since the list
                    AlignedBuffer pages;
                    Status rs = (*reader)->read_pages(**f, 0, s.shape.n_layers, pages);
                    if (rs.code() == ErrorCode::not_found) {
                        ++evicted_meanwhile;
                        continue;
                    }
                    if (!rs) return fail("reader " + std::to_string(r) + ": " + rs.to_string());
                    std::vector<uint8_t> want;
                    {
                        std::lock_guard lock(mu);
                        want = expected.at(s.key.content.lo);
                    }
                    if (pages.size() != want.size() ||
                        std::memcmp(pages.data(), want.data(), want.size()) != 0)
                        return fail("reader " + std::to_string(r) + ": snapshot " + std::to_string(s.id) +
                                    " differs");
                    ++reads;
                }
            }
        };
        std::vector<std::thread> readers;
        for (int r = 0; r < 3; ++r) readers.emplace_back(reader_fn, r);

        int written = 0;
        const auto t_end = std::chrono::steady_clock::now() + std::chrono::seconds(8);
        for (uint64_t seed = 5000; std::chrono::steady_clock::now() < t_end && failures == 0; ++seed) {
            auto s = test::seeded_snapshot(seed);
            {
                auto pages = test::expected_pages(s, seed);
                std::lock_guard lock(mu);
                expected[seed] = std::move(pages);
            }
            auto kv = test::make_kv(seed, s.shape, s.n_tokens);
            auto id = store.put(s.key, s.shape, s.n_tokens, kv.fn());
            if (!id) {
                fail("writer: " + id.status().to_string());
                break;
            }
            ++written;
        }
        done = true;
        for (auto& t : readers) t.join();
        qInfo("%d snapshots written, %lld verified reads, %lld reads raced an eviction", written,
              (long long)reads.load(), (long long)evicted_meanwhile.load());
        QVERIFY2(failures == 0, first_failure.c_str());
        QVERIFY(written > 20);
        QVERIFY(reads > 100);
        auto rep = store.verify(false);
        QVERIFY(rep.is_ok() && rep->ok());
    }
};

QTEST_GUILESS_MAIN(TestStoreConcurrent)
#include "test_store_concurrent.moc"

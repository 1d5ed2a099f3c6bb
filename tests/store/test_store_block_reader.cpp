// The io_uring BlockReader with callback worker threads: every read's callback runs exactly once, with the
// right bytes, off the calling thread, and has returned when read() returns, however slow the callbacks are
// (slots all held by workers), after an injected submit failure, and across many readers (no thread leaks).
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <QtTest>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"
#include "store/fault_injection.h"
#include "store/segment_file.h"
#include "store_test_util.h"

using namespace docket;
using namespace docket::store;

namespace {

constexpr uint32_t kBlock = 64 << 10;
constexpr int kBlocks = 256;  // 16 MiB

// Byte i of block b: a function of both, so a callback handed another slot's bytes is caught.
uint8_t pattern(size_t block, size_t i) {
    return static_cast<uint8_t>((block * 131 + i * 7 + (i >> 12)) & 0xFF);
}

int count_threads() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/task")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
    }
    return n;
}

// What the callbacks saw during one read().
struct Seen {
    std::array<std::atomic<int>, kBlocks> calls{};
    std::atomic<int> bad_bytes{0}, bad_result{0}, running{0}, on_caller{0};
    std::mutex mu;
    std::set<std::thread::id> threads;
};

}  // namespace

class TestStoreBlockReader : public QObject {
    Q_OBJECT
    std::string dir_, path_;
    int fd_ = -1;

    std::unique_ptr<BlockReader> uring(int qd, int threads, IoFaults* faults = nullptr) {
        auto r = make_uring_reader(qd, faults, threads);
        if (!r) return nullptr;
        return std::move(*r);
    }

    std::vector<ReadRequest> all_blocks() const {
        std::vector<ReadRequest> reqs;
        for (int b = 0; b < kBlocks; ++b) reqs.push_back({fd_, uint64_t(b) * kBlock, kBlock});
        return reqs;
    }

    // A callback that checks the bytes, counts calls and threads, and sleeps `slow_us` on every
    // `slow_every`-th block (0: never).
    ReadDone checker(Seen& seen, int slow_every, int slow_us) {
        const auto caller = std::this_thread::get_id();
        return [&seen, caller, slow_every, slow_us](size_t i, const uint8_t* data, int64_t res) {
            seen.running.fetch_add(1);
            seen.calls[i].fetch_add(1);
            if (std::this_thread::get_id() == caller) seen.on_caller.fetch_add(1);
            {
                std::lock_guard lock(seen.mu);
                seen.threads.insert(std::this_thread::get_id());
            }
            // Before the check: a slot reused meanwhile would be overwritten by then.
            if (slow_every && i % slow_every == 0)
                std::this_thread::sleep_for(std::chrono::microseconds(slow_us));
            if (res != kBlock) {
                seen.bad_result.fetch_add(1);
            } else {
                for (size_t k = 0; k < kBlock; k += 509)
                    if (data[k] != pattern(i, k)) {
                        seen.bad_bytes.fetch_add(1);
                        break;
                    }
            }
            seen.running.fetch_sub(1);
        };
    }

private slots:
    void initTestCase() {
        dir_ = test::scratch_dir("block-reader");
        std::filesystem::create_directories(dir_);
        path_ = dir_ + "/blocks.bin";
        AlignedBuffer buf(kBlock);
        int wfd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        QVERIFY(wfd >= 0);
        for (int b = 0; b < kBlocks; ++b) {
            for (size_t i = 0; i < kBlock; ++i) buf.data()[i] = pattern(b, i);
            QCOMPARE(::pwrite(wfd, buf.data(), kBlock, off_t(b) * kBlock), ssize_t(kBlock));
        }
        QCOMPARE(::fsync(wfd), 0);
        ::close(wfd);
        fd_ = open_segment_for_read(path_, true);  // O_DIRECT where the filesystem allows it, as the store
        QVERIFY(fd_ >= 0);
        if (!uring(4, 0)) QSKIP("io_uring is not available here");
    }
    void cleanupTestCase() {
        if (fd_ >= 0) ::close(fd_);
        std::filesystem::remove_all(dir_);
    }

    // Each request's callback runs once with its own bytes, on the worker threads (never the caller's) when
    // there are some, on the caller's with none; all have returned when read() does.
    void every_callback_once_with_its_bytes_then_read_returns() {
        for (int threads : {0, 1, 3}) {
            for (int qd : {1, 8, 64}) {
                auto r = uring(qd, threads);
                QVERIFY(r);
                Seen seen;
                const auto reqs = all_blocks();
                QVERIFY(r->read(reqs, checker(seen, 0, 0)).is_ok());
                QCOMPARE(seen.running.load(), 0);
                for (int b = 0; b < kBlocks; ++b) QCOMPARE(seen.calls[b].load(), 1);
                QCOMPARE(seen.bad_bytes.load(), 0);
                QCOMPARE(seen.bad_result.load(), 0);
                if (threads == 0) {
                    QCOMPARE(seen.on_caller.load(), kBlocks);
                } else {
                    QCOMPARE(seen.on_caller.load(), 0);
                    QVERIFY(int(seen.threads.size()) <= threads);
                }
            }
        }
    }

    // Callbacks slower than the disk: every slot ends up held by a worker and the ring must wait for one to
    // come back, never reuse a slot whose callback is still reading it (that would show as wrong bytes).
    void slow_callbacks_hold_every_slot_without_reuse() {
        for (int threads : {1, 2}) {
            auto r = uring(4, threads);
            QVERIFY(r);
            Seen seen;
            const auto reqs = all_blocks();
            QVERIFY(r->read(reqs, checker(seen, 1, 300)).is_ok());
            QCOMPARE(seen.running.load(), 0);
            for (int b = 0; b < kBlocks; ++b) QCOMPARE(seen.calls[b].load(), 1);
            QCOMPARE(seen.bad_bytes.load(), 0);
        }
    }

    // A read past the end of the file reaches its callback as a short result, through a worker.
    void read_past_the_end_is_a_short_result() {
        auto r = uring(8, 2);
        QVERIFY(r);
        std::vector<ReadRequest> reqs = {{fd_, uint64_t(kBlocks - 1) * kBlock, 2 * kBlock},
                                         {fd_, uint64_t(kBlocks) * kBlock, kBlock}};
        std::atomic<int64_t> res0{-1}, res1{-1};
        QVERIFY(
            r->read(reqs, [&](size_t i, const uint8_t*, int64_t res) { (i ? res1 : res0) = res; }).is_ok());
        QCOMPARE(res0.load(), int64_t(kBlock));
        QCOMPARE(res1.load(), int64_t(0));
    }

    // An injected submit failure mid-batch: read() returns the error after every callback it started has
    // returned (each with right bytes), and the next reads on the same reader get everything right.
    void submit_failure_with_workers_loses_no_error_and_recovers() {
        IoFaults faults;
        auto r = uring(8, 2, &faults);
        QVERIFY(r);
        for (int nth : {1, 2, 5, 9}) {
            faults.fail_submit_in = nth;
            Seen seen;
            const auto reqs = all_blocks();
            Status st = r->read(reqs, checker(seen, 7, 200));
            QCOMPARE(st.code(), ErrorCode::io_error);
            QCOMPARE(seen.running.load(), 0);
            QCOMPARE(seen.bad_bytes.load(), 0);
            int called = 0;
            for (int b = 0; b < kBlocks; ++b) {
                QVERIFY(seen.calls[b].load() <= 1);
                called += seen.calls[b].load();
            }
            QVERIFY(called < kBlocks);
            Seen again;
            QVERIFY(r->read(reqs, checker(again, 0, 0)).is_ok());
            for (int b = 0; b < kBlocks; ++b) QCOMPARE(again.calls[b].load(), 1);
            QCOMPARE(again.bad_bytes.load(), 0);
            QCOMPARE(std::string(r->kind()), std::string("io_uring"));
        }
    }

    // Readers come and go (one per StoreReader): their worker threads are joined with them.
    void readers_leave_no_threads_behind() {
        const int before = count_threads();
        for (int i = 0; i < 20; ++i) {
            auto r = uring(16, 4);
            QVERIFY(r);
            Seen seen;
            const auto reqs = all_blocks();
            QVERIFY(r->read(std::span(reqs).first(32), checker(seen, 0, 0)).is_ok());
            QVERIFY(count_threads() > before);
        }
        {
            auto r = uring(16, 4);  // destroyed without ever reading
            QVERIFY(r);
        }
        QCOMPARE(count_threads(), before);
    }
};

QTEST_GUILESS_MAIN(TestStoreBlockReader)
#include "test_store_block_reader.moc"

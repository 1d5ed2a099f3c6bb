// Fallback BlockReader: a small pool of threads doing pread, for kernels or sandboxes without io_uring.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <vector>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"
#include "util/log.h"
#include "util/thread_pool.h"

namespace docket::store {
namespace {

class PreadPoolReader final : public BlockReader {
public:
    // The threads start once, here, not per batch. ThreadPool degrades to the threads it could start (down to
    // the caller's alone, logged) when thread creation fails, so a starved process reads slower instead of
    // dying. It also caps the count at 4x the cores.
    explicit PreadPoolReader(int threads)
        : pool_(std::make_unique<ThreadPool>(threads)), bufs_(static_cast<size_t>(pool_->size())) {}
    const char* kind() const override { return "pread-pool"; }
    int queue_depth() const override { return pool_->size(); }

    Status read(std::span<const ReadRequest> reqs, const ReadDone& on_done) override {
        if (reqs.empty()) return Status::ok();
        uint32_t max_len = 0;
        for (const auto& r : reqs) max_len = std::max(max_len, r.length);
        std::atomic<size_t> next{0};
        std::mutex mu;
        Status error;
        auto work = [&](int thread) {
            AlignedBuffer& buf = bufs_[static_cast<size_t>(thread)];
            if (!buf.resize(max_len)) {
                // The other threads take this thread's share; when none can, read() reports it.
                std::lock_guard lock(mu);
                if (error.is_ok())
                    error = make_error(ErrorCode::out_of_memory, "read buffer of {} bytes", max_len);
                return;
            }
            for (size_t i; (i = next.fetch_add(1)) < reqs.size();) {
                const ReadRequest& r = reqs[i];
                uint64_t got = 0;
                int64_t res = 0;
                while (got < r.length) {
                    ssize_t k =
                        ::pread(r.fd, buf.data() + got, r.length - got, static_cast<off_t>(r.offset + got));
                    if (k < 0 && errno == EINTR) continue;
                    if (k < 0) {
                        res = -errno;
                        break;
                    }
                    if (k == 0) break;
                    got += static_cast<uint64_t>(k);
                }
                on_done(i, buf.data(), res < 0 ? res : static_cast<int64_t>(got));
            }
        };
        const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(pool_->size()), reqs.size()));
        // One range element per thread: each element runs work() on the thread that claimed it, with that
        // thread's buffer; the shared `next` hands out the requests.
        pool_->parallel_for(n, [&](int64_t b, int64_t e, int thread) {
            for (int64_t k = b; k < e; ++k) work(thread);
        });
        if (next.load() < reqs.size()) {
            // Every thread failed its buffer: nothing more can be read.
            return error.is_ok() ? make_error(ErrorCode::internal, "pread pool left requests unread") : error;
        }
        return Status::ok();
    }

private:
    std::unique_ptr<ThreadPool> pool_;
    std::vector<AlignedBuffer> bufs_;  // one per pool thread, indexed by ThreadPool's thread index
};

}  // namespace

std::unique_ptr<BlockReader> make_pread_pool_reader(int threads) {
    return std::make_unique<PreadPoolReader>(std::max(1, threads));
}

Result<std::unique_ptr<BlockReader>> make_block_reader(const BlockReaderOptions& opt) {
    const int qd = std::clamp(opt.queue_depth, 1, 4096);
    if (opt.allow_io_uring) {
        auto r = make_uring_reader(qd, opt.faults, opt.callback_threads);
        if (r) return r;
        static std::once_flag logged;
        std::call_once(logged, [&] {
            DK_LOG_WARN("io_uring unavailable ({}); reading through a pread thread pool",
                        r.status().to_string());
        });
    }
    // A pool as deep as the queue would oversubscribe small machines; 16 threads keep an NVMe busy with
    // pread.
    return make_pread_pool_reader(std::min(qd, 16));
}

}  // namespace docket::store

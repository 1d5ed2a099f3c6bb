// Fallback BlockReader: a small pool of threads doing pread, for kernels or sandboxes without io_uring.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <vector>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"
#include "util/log.h"

namespace docket::store {
namespace {

class PreadPoolReader final : public BlockReader {
public:
    explicit PreadPoolReader(int threads) : threads_(threads), bufs_(static_cast<size_t>(threads)) {}
    const char* kind() const override { return "pread-pool"; }
    int queue_depth() const override { return threads_; }

    Status read(std::span<const ReadRequest> reqs, const ReadDone& on_done) override {
        uint32_t max_len = 0;
        for (const auto& r : reqs) max_len = std::max(max_len, r.length);
        const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads_), reqs.size()));
        for (int t = 0; t < n; ++t)
            if (!bufs_[static_cast<size_t>(t)].resize(max_len))
                return make_error(ErrorCode::out_of_memory, "read buffer of {} bytes", max_len);
        std::atomic<size_t> next{0};
        auto work = [&](AlignedBuffer& buf) {
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
        std::vector<std::thread> pool;
        for (int t = 1; t < n; ++t) pool.emplace_back(work, std::ref(bufs_[static_cast<size_t>(t)]));
        if (n > 0) work(bufs_[0]);
        for (auto& t : pool) t.join();
        return Status::ok();
    }

private:
    int threads_;
    std::vector<AlignedBuffer> bufs_;
};

}  // namespace

std::unique_ptr<BlockReader> make_pread_pool_reader(int threads) {
    return std::make_unique<PreadPoolReader>(std::max(1, threads));
}

Result<std::unique_ptr<BlockReader>> make_block_reader(const BlockReaderOptions& opt) {
    const int qd = std::clamp(opt.queue_depth, 1, 4096);
    if (opt.allow_io_uring) {
        auto r = make_uring_reader(qd);
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

// io_uring implementation of BlockReader: a sliding window of queue_depth reads over a fixed set of aligned
// slot buffers, submitted in batches (one io_uring_submit per completion sweep).
#include <liburing.h>

#include <cstring>
#include <vector>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"

namespace docket::store {
namespace {

class UringReader final : public BlockReader {
public:
    explicit UringReader(int qd) : qd_(qd) {}
    ~UringReader() override {
        if (ok_) io_uring_queue_exit(&ring_);
    }
    Status init() {
        int e = io_uring_queue_init(static_cast<unsigned>(qd_), &ring_, 0);
        if (e < 0)
            return make_error(ErrorCode::unsupported, "io_uring_queue_init({}): {}", qd_, std::strerror(-e));
        ok_ = true;
        slots_.resize(static_cast<size_t>(qd_));
        return Status::ok();
    }
    const char* kind() const override { return "io_uring"; }
    int queue_depth() const override { return qd_; }

    Status read(std::span<const ReadRequest> reqs, const ReadDone& on_done) override {
        uint32_t max_len = 0;
        for (const auto& r : reqs) max_len = std::max(max_len, r.length);
        for (auto& s : slots_)
            if (!s.buf.resize(max_len))
                return make_error(ErrorCode::out_of_memory, "read slot of {} bytes", max_len);
        std::vector<int> free_slots;
        for (int i = qd_ - 1; i >= 0; --i) free_slots.push_back(i);

        size_t next = 0, finished = 0;
        int inflight = 0;
        auto queue = [&](int slot) {
            Slot& s = slots_[static_cast<size_t>(slot)];
            const ReadRequest& r = reqs[s.req];
            io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
            io_uring_prep_read(sqe, r.fd, s.buf.data() + s.done, r.length - s.done, r.offset + s.done);
            io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(slot));
            ++inflight;
        };
        while (finished < reqs.size()) {
            while (!free_slots.empty() && next < reqs.size()) {
                int slot = free_slots.back();
                free_slots.pop_back();
                slots_[static_cast<size_t>(slot)].req = next++;
                slots_[static_cast<size_t>(slot)].done = 0;
                queue(slot);
            }
            int e = io_uring_submit_and_wait(&ring_, 1);
            if (e < 0 && e != -EINTR)
                return make_error(ErrorCode::io_error, "io_uring_submit: {}", std::strerror(-e));
            io_uring_cqe* cqe = nullptr;
            unsigned head, seen = 0;
            std::vector<int> resubmit;
            io_uring_for_each_cqe(&ring_, head, cqe) {
                ++seen;
                const int slot = static_cast<int>(io_uring_cqe_get_data64(cqe));
                Slot& s = slots_[static_cast<size_t>(slot)];
                const ReadRequest& r = reqs[s.req];
                --inflight;
                int64_t result;
                if (cqe->res < 0) {
                    result = cqe->res;
                } else if (cqe->res == 0) {
                    result = s.done;  // end of file: a short read, reported as such
                } else {
                    s.done += static_cast<uint32_t>(cqe->res);
                    if (s.done < r.length) {  // short read: ask for the rest
                        resubmit.push_back(slot);
                        continue;
                    }
                    result = s.done;
                }
                ++finished;
                on_done(s.req, s.buf.data(), result);
                free_slots.push_back(slot);
            }
            io_uring_cq_advance(&ring_, seen);
            for (int slot : resubmit) queue(slot);
        }
        return Status::ok();
    }

private:
    struct Slot {
        AlignedBuffer buf;
        size_t req = 0;
        uint32_t done = 0;
    };
    int qd_;
    bool ok_ = false;
    io_uring ring_{};
    std::vector<Slot> slots_;
};

}  // namespace

Result<std::unique_ptr<BlockReader>> make_uring_reader(int queue_depth) {
    auto r = std::make_unique<UringReader>(queue_depth);
    DK_TRY(r->init());
    return std::unique_ptr<BlockReader>(std::move(r));
}

}  // namespace docket::store

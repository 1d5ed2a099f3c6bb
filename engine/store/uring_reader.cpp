// io_uring implementation of BlockReader: a sliding window of queue_depth reads over a fixed set of aligned
// slot buffers (queue_depth plus spares), submitted in batches. This thread only submits and reaps: each
// completed read goes to CallbackWorkers, which run its callback (checksum + copy) on their own threads and
// hand the slot back when it returns, so the queue is refilled at once and the device never waits on the
// checking of earlier reads. The spares hold completed reads while they are being checked.
//
// Failure: when a submit fails mid-batch, reads the kernel already accepted still write into the slot
// buffers. read() lets the callbacks of completed reads finish, waits for every read in flight, then rebuilds
// the ring (dropping entries prepared but never submitted), so the next batch starts with nothing in flight.
// Each SQE carries (batch generation, slot) in user_data and a completion that does not match a busy slot of
// the current batch is ignored, so even a stale completion can never be taken for a current read. If the
// drain itself fails, the buffers are abandoned (never freed: the kernel may still write them) and the reader
// falls back to the pread pool.
#include <liburing.h>

#include <cstring>
#include <vector>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"
#include "store/callback_workers.h"
#include "store/fault_injection.h"
#include "util/log.h"

namespace docket::store {
namespace {

// Slots beyond the queue depth: they hold completed reads while their callbacks run (queued or running on a
// worker), so the queue can be refilled at once. When all are taken the ring waits for a worker: the check
// is then the bottleneck, and more memory would not help.
int spare_slots(int qd, int workers) {
    return std::max(4, qd / 4) + 2 * workers;
}

class UringReader final : public BlockReader {
public:
    UringReader(int qd, IoFaults* faults, int callback_threads)
        : qd_(qd), faults_(faults), workers_(callback_threads) {}
    ~UringReader() override {
        if (ok_) io_uring_queue_exit(&ring_);
    }
    Status init() {
        int e = io_uring_queue_init(static_cast<unsigned>(qd_), &ring_, 0);
        if (e < 0)
            return make_error(ErrorCode::unsupported, "io_uring_queue_init({}): {}", qd_, std::strerror(-e));
        ok_ = true;
        slots_.resize(static_cast<size_t>(qd_ + spare_slots(qd_, workers_.size())));
        return Status::ok();
    }
    const char* kind() const override { return fallback_ ? "pread-pool (io_uring failed)" : "io_uring"; }
    int queue_depth() const override { return fallback_ ? fallback_->queue_depth() : qd_; }

    Status read(std::span<const ReadRequest> reqs, const ReadDone& on_done) override {
        if (fallback_) return fallback_->read(reqs, on_done);
        if (reqs.empty()) return Status::ok();
        uint32_t max_len = 0;
        for (const auto& r : reqs) max_len = std::max(max_len, r.length);
        // One huge-page arena for all slots (nothing is in flight between batches, so it may move).
        const size_t stride = io_align_up(max_len);
        if (!arena_.resize_huge(stride * slots_.size()))
            return make_error(ErrorCode::out_of_memory, "{} read slots of {} bytes", slots_.size(), stride);
        for (size_t i = 0; i < slots_.size(); ++i) slots_[i].buf = arena_.data() + i * stride;
        std::vector<int> free_slots;
        for (int i = static_cast<int>(slots_.size()) - 1; i >= 0; --i) free_slots.push_back(i);
        const uint32_t gen = ++generation_;
        // A worker reads its slot's fields, written by this thread before post() (the workers' mutex orders
        // them); the slot is not touched again until take_finished() returns it.
        const std::function<void(int)> run_callback = [&](int slot) {
            const Slot& s = slots_[static_cast<size_t>(slot)];
            on_done(s.req, s.buf, s.result);
        };
        workers_.set_handler(&run_callback);

        size_t next = 0, reaped = 0;  // reads prepared / completed and handed to the workers
        int inflight = 0;             // prepared (submitted or not) and not yet completed
        auto queue = [&](int slot) -> bool {
            Slot& s = slots_[static_cast<size_t>(slot)];
            const ReadRequest& r = reqs[s.req];
            io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
            if (!sqe) {  // the submission queue is full: flush it and try once more
                io_uring_submit(&ring_);
                sqe = io_uring_get_sqe(&ring_);
            }
            if (!sqe) return false;
            io_uring_prep_read(sqe, r.fd, s.buf + s.done, r.length - s.done, r.offset + s.done);
            io_uring_sqe_set_data64(sqe, uint64_t{gen} << 32 | static_cast<uint32_t>(slot));
            s.busy = true;
            ++inflight;
            return true;
        };
        // Prepares reads into free slots, at most qd_ in flight.
        auto fill = [&] {
            while (!free_slots.empty() && next < reqs.size() && inflight < qd_) {
                int slot = free_slots.back();
                slots_[static_cast<size_t>(slot)].req = next;
                slots_[static_cast<size_t>(slot)].done = 0;
                if (!queue(slot)) break;
                free_slots.pop_back();
                ++next;
            }
        };
        auto submit = [&](unsigned wait_nr) -> Status {
            int e = 0;
            if (int fe = faults_ ? faults_->on_submit() : 0)
                e = -fe;
            else
                e = wait_nr ? io_uring_submit_and_wait(&ring_, wait_nr) : io_uring_submit(&ring_);
            if (e < 0 && e != -EINTR)
                return make_error(ErrorCode::io_error, "io_uring_submit: {}", std::strerror(-e));
            return Status::ok();
        };
        Status failure;
        std::vector<int> resubmit;
        while (reaped < reqs.size() && failure.is_ok()) {
            workers_.take_finished(free_slots, false);
            fill();
            if (inflight == 0) {
                // Every slot holds a completed read the workers have not finished: wait for one.
                if (free_slots.empty() && next < reqs.size()) {
                    workers_.take_finished(free_slots, true);
                    if (!free_slots.empty()) continue;
                }
                failure = make_error(ErrorCode::io_error, "io_uring: no submission queue entry available");
                break;
            }
            if (failure = submit(1); !failure.is_ok()) break;
            io_uring_cqe* cqe = nullptr;
            unsigned head, seen = 0;
            resubmit.clear();
            io_uring_for_each_cqe(&ring_, head, cqe) {
                ++seen;
                const uint64_t tag = io_uring_cqe_get_data64(cqe);
                const uint32_t slot_u = static_cast<uint32_t>(tag);
                if (static_cast<uint32_t>(tag >> 32) != gen || slot_u >= slots_.size() ||
                    !slots_[slot_u].busy) {
                    DK_LOG_WARN("io_uring: ignoring a completion that belongs to no read in flight ({:x})",
                                tag);
                    continue;
                }
                const int slot = static_cast<int>(slot_u);
                Slot& s = slots_[slot_u];
                const ReadRequest& r = reqs[s.req];
                --inflight;
                if (cqe->res < 0) {
                    s.result = cqe->res;
                } else if (cqe->res == 0) {
                    s.result = s.done;  // end of file: a short read, reported as such
                } else {
                    s.done += static_cast<uint32_t>(cqe->res);
                    if (s.done < r.length) {  // short read: ask for the rest
                        resubmit.push_back(slot);
                        continue;
                    }
                    s.result = s.done;
                }
                s.busy = false;
                ++reaped;
                workers_.post(slot);  // its data is complete whatever happens to later submits
            }
            io_uring_cq_advance(&ring_, seen);
            for (int slot : resubmit) {
                if (!queue(slot)) {
                    slots_[static_cast<size_t>(slot)].busy = false;
                    failure = make_error(ErrorCode::io_error,
                                         "io_uring: no submission queue entry for a short read");
                    break;
                }
            }
            if (workers_.size() == 0) {
                // No callback threads: refill the queue before running this sweep's callbacks here, so the
                // device keeps qd_ reads while this thread checks and copies.
                if (failure.is_ok() && next < reqs.size()) {
                    fill();
                    failure = submit(0);
                }
                workers_.run_inline();  // their data is complete whatever happened to the submit
            }
        }
        // Every callback handed out runs before read() returns: on_done and its captures live in the caller.
        workers_.drain();  // also forgets the finished slots: the next batch starts with all of them free
        workers_.set_handler(nullptr);
        if (!failure.is_ok()) settle_after_failure(inflight, failure);
        return failure;
    }

private:
    // After a failed batch: wait for the reads the kernel accepted, then start over with a fresh ring.
    void settle_after_failure(int inflight, const Status& why) {
        int pending = inflight - static_cast<int>(io_uring_sq_ready(&ring_));  // submitted, not completed
        while (pending > 0) {
            io_uring_cqe* cqe = nullptr;
            int e = io_uring_wait_cqe(&ring_, &cqe);
            if (e == -EINTR) continue;
            if (e < 0) {
                abandon(fmt::format("waiting for reads in flight: {}", std::strerror(-e)));
                return;
            }
            io_uring_cqe_seen(&ring_, cqe);
            --pending;
        }
        for (auto& s : slots_) s.busy = false;
        io_uring_queue_exit(&ring_);  // drops entries prepared but never submitted
        ok_ = false;
        if (Status st = init(); !st) {
            abandon(st.to_string());
            return;
        }
        DK_LOG_WARN("io_uring batch failed ({}); reads in flight drained, ring rebuilt", why.to_string());
    }

    // The slot buffers may still be written by the kernel: keep them alive for good and read with pread.
    void abandon(const std::string& why) {
        DK_LOG_ERROR("io_uring reader unusable ({}); falling back to pread", why);
        new AlignedBuffer(std::move(arena_));  // deliberately leaked, see above
        slots_.clear();
        if (ok_) io_uring_queue_exit(&ring_);
        ok_ = false;
        fallback_ = make_pread_pool_reader(std::min(qd_, 16));
    }

    struct Slot {
        uint8_t* buf = nullptr;  // into arena_
        size_t req = 0;
        uint32_t done = 0;
        int64_t result = 0;  // of a completed read, until its callback runs
        bool busy = false;   // a read of the current batch is in flight into buf
    };
    int qd_;
    IoFaults* faults_;
    AlignedBuffer arena_;  // every slot's buffer, stride io_align_up(longest read of the batch)
    bool ok_ = false;
    io_uring ring_{};
    std::vector<Slot> slots_;
    uint32_t generation_ = 0;  // batch number, the high half of each SQE's user_data
    std::unique_ptr<BlockReader> fallback_;
    CallbackWorkers workers_;  // last: its threads are joined before the slots they read go away
};

}  // namespace

Result<std::unique_ptr<BlockReader>> make_uring_reader(int queue_depth, IoFaults* faults,
                                                       int callback_threads) {
    auto r = std::make_unique<UringReader>(queue_depth, faults, callback_threads);
    DK_TRY(r->init());
    return std::unique_ptr<BlockReader>(std::move(r));
}

}  // namespace docket::store

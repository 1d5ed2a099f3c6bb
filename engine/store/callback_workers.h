#pragma once
// A few threads that run a reader's per-read callbacks (XXH3 check + copy into page buffers) off the io_uring
// thread, so that thread only submits and reaps and the device queue stays full while earlier reads are
// checked. Items are slot numbers; a slot comes back through take_finished() only after its callback
// returned, so the ring never reuses a buffer a callback is still reading.
//
// With zero threads (asked for, or none could start) posted items wait for run_inline(), which the owner
// calls once it has refilled its queue: the same contract, on the owner's thread.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace docket::store {

// The default worker count: min(4, hardware threads). Four verify at ~4 GB/s each, well past one NVMe.
int default_callback_threads();

class CallbackWorkers {
public:
    // n < 0: default_callback_threads(); n == 0: inline. A thread that fails to start is logged and the
    // workers run with those that did.
    explicit CallbackWorkers(int n);
    ~CallbackWorkers();  // stops and joins the threads; the owner drains first
    CallbackWorkers(const CallbackWorkers&) = delete;
    CallbackWorkers& operator=(const CallbackWorkers&) = delete;

    int size() const { return static_cast<int>(threads_.size()); }

    // The handler for the items posted from now on; it must outlive them (drain() before it goes away).
    // Called only while nothing is outstanding.
    void set_handler(const std::function<void(int)>* fn);
    // Runs the handler on `item` on some worker (with no threads: at the next run_inline()).
    void post(int item);
    // With no threads, runs the handler of every item posted since; with threads, nothing.
    void run_inline();
    // Moves the items whose handler has returned into `out`. wait: block until there is at least one (only
    // when some are outstanding, else returns at once).
    void take_finished(std::vector<int>& out, bool wait);
    // Blocks until every posted item's handler has returned, then forgets the finished items (the batch is
    // over; the owner takes all its slots back).
    void drain();

private:
    void worker_main();

    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable work_cv_, done_cv_;
    const std::function<void(int)>* fn_ = nullptr;
    std::vector<int> queue_;     // posted, not yet started (taken LIFO: order does not matter)
    std::vector<int> finished_;  // handler returned, not yet taken
    size_t outstanding_ = 0;     // posted and handler not yet returned
    bool stop_ = false;
};

}  // namespace docket::store

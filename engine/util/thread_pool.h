#pragma once
// A fixed pool of compute threads for data-parallel loops (matmul rows, attention heads). The calling thread
// takes part as thread 0, so a pool of 1 runs everything inline. Workers spin briefly between jobs (a decode
// step issues a few hundred short loops) and then sleep on a futex, so an idle pool costs no CPU.
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace docket {

class ThreadPool {
public:
    // n_threads <= 0 picks the hardware concurrency.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // fn(begin, end, thread) over [0, n) split into one contiguous range per thread (some may be empty).
    // Blocks until every range is done. Not reentrant: fn must not call parallel_for on the same pool.
    using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
    void parallel_for(int64_t n, const RangeFn& fn);

    // The range thread `t` of `n_threads` gets when [0, n) is split evenly.
    static void split(int64_t n, int n_threads, int t, int64_t* begin, int64_t* end);

private:
    void worker_main(int index);

    int n_threads_ = 1;
    std::vector<std::thread> workers_;
    const RangeFn* job_ = nullptr;
    int64_t job_n_ = 0;
    std::atomic<uint32_t> generation_{0};  // bumped for each job; workers wait for it to change
    std::atomic<int> pending_{0};          // workers still running the current job
    std::atomic<bool> stop_{false};
};

}  // namespace docket

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

// The most threads a pool (or any engine loop) starts: min(1024, 4 x hardware concurrency). More only adds
// scheduling overhead, and an absurd request (--threads 100000) would exhaust the process's thread limit.
int max_threads();
// n <= 0 -> hardware concurrency; then clamped to [1, max_threads()].
int clamp_thread_count(int n);

class ThreadPool {
public:
    // n_threads <= 0 picks the hardware concurrency; the count is clamped by clamp_thread_count(). If the OS
    // refuses to start a thread, the pool keeps the ones that started (size() says how many) and logs a
    // warning.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // fn(begin, end, thread) over [0, n) split into contiguous chunks (a few per thread); `thread` (< size())
    // names the thread running the chunk, for per-thread scratch. Blocks until every chunk is done.
    // Not reentrant: fn must not call parallel_for on the same pool.
    using RangeFn = std::function<void(int64_t begin, int64_t end, int thread)>;
    void parallel_for(int64_t n, const RangeFn& fn);

    // The range thread `t` of `n_threads` gets when [0, n) is split evenly.
    static void split(int64_t n, int n_threads, int t, int64_t* begin, int64_t* end);

private:
    void worker_main(int index);
    // Takes and runs chunks of job `gen` until none is left.
    void run_chunks(uint32_t gen, int thread);

    int n_threads_ = 1;
    std::vector<std::thread> workers_;
    // The current job. Written before generation_ is bumped; a worker only runs a chunk after claiming it
    // from ticket_, whose high half must equal the job's generation, so stale reads are never acted on.
    std::atomic<const RangeFn*> job_{nullptr};
    std::atomic<int64_t> job_n_{0};
    std::atomic<int64_t> chunk_{1};
    std::atomic<uint64_t> ticket_{0};      // (generation << 32) | (chunk count << 16) | next chunk index
    std::atomic<uint32_t> done_{0};        // chunks finished in the current job
    std::atomic<uint32_t> generation_{0};  // bumped for each job; idle workers wait for it to change
    std::atomic<bool> stop_{false};
};

}  // namespace docket

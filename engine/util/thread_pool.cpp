#include "util/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DK_CPU_RELAX() _mm_pause()
#else
#define DK_CPU_RELAX() ((void)0)
#endif

namespace docket {
namespace {
// Spin iterations before sleeping: long enough to bridge the gap between the loops of one forward pass
// (a few microseconds), short enough not to burn a shared core while idle.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
    if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n_threads_ = n_threads;
    workers_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::split(int64_t n, int n_threads, int t, int64_t* begin, int64_t* end) {
    const int64_t base = n / n_threads, rem = n % n_threads;
    *begin = t * base + std::min<int64_t>(t, rem);
    *end = *begin + base + (t < rem ? 1 : 0);
}

void ThreadPool::parallel_for(int64_t n, const RangeFn& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
        fn(0, n, 0);
        return;
    }
    job_ = &fn;
    job_n_ = n;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes job_ / job_n_
    generation_.notify_all();

    int64_t b, e;
    split(n, n_threads_, 0, &b, &e);
    if (b < e) fn(b, e, 0);

    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < kSpinIterations) {
            DK_CPU_RELAX();
        } else {
            int p = pending_.load(std::memory_order_acquire);
            if (p != 0) pending_.wait(p, std::memory_order_acquire);
        }
    }
    job_ = nullptr;
}

void ThreadPool::worker_main(int index) {
    uint32_t seen = 0;
    for (;;) {
        uint32_t g;
        for (int spin = 0;; ++spin) {
            g = generation_.load(std::memory_order_acquire);
            if (g != seen) break;
            if (spin < kSpinIterations) {
                DK_CPU_RELAX();
            } else {
                generation_.wait(seen, std::memory_order_acquire);
            }
        }
        seen = g;
        if (stop_.load(std::memory_order_acquire)) return;
        int64_t b, e;
        split(job_n_, n_threads_, index, &b, &e);
        if (b < e) (*job_)(b, e, index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
}

}  // namespace docket

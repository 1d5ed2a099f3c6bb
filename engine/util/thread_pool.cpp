#include "util/thread_pool.h"

#include <algorithm>
#include <system_error>

#include "util/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DK_CPU_RELAX() _mm_pause()
#else
#define DK_CPU_RELAX() ((void)0)
#endif

namespace docket {
namespace {
// Spin iterations before sleeping (a pause is ~40-140 cycles): long enough to bridge the gap between the
// loops of one forward pass, short enough not to burn a shared core while idle.
constexpr int kSpinIterations = 4000;
// Chunks per thread: enough to balance uneven progress, few enough to keep the claim traffic low.
constexpr int64_t kChunksPerThread = 4;
}  // namespace

int max_threads() {
    const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::min(1024, 4 * hw);
}

int clamp_thread_count(int n) {
    if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::clamp(n, 1, max_threads());
}

ThreadPool::ThreadPool(int n_threads) {
    const int want = clamp_thread_count(n_threads);
    try {
        workers_.reserve(want - 1);
        // Worker i runs as thread index i, so the indices stay dense even when a later start fails.
        for (int i = 1; i < want; ++i) workers_.emplace_back([this, i] { worker_main(i); });
    } catch (const std::system_error& e) {
        DK_LOG_WARN("started {} of {} compute threads ({}); running with those", workers_.size() + 1, want,
                    e.what());
    } catch (const std::bad_alloc&) {
        DK_LOG_WARN("out of memory starting compute threads; running with {} of {}", workers_.size() + 1,
                    want);
    }
    n_threads_ = static_cast<int>(workers_.size()) + 1;
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

// The ticket packs (generation << 32) | (chunk count << 16) | next chunk. A claim checks all three in one
// atomic word, so a worker that read the parameters of an older job can never claim a chunk of a newer one:
// by the time a newer job's parameters are written, every chunk of the older job has been claimed.
void ThreadPool::run_chunks(uint32_t gen, int thread) {
    const RangeFn* fn = job_.load(std::memory_order_acquire);
    const int64_t n = job_n_.load(std::memory_order_acquire);
    const int64_t chunk = chunk_.load(std::memory_order_acquire);
    uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
        if (static_cast<uint32_t>(t >> 32) != gen) return;
        const uint32_t n_chunks = static_cast<uint32_t>(t >> 16) & 0xFFFF,
                       idx = static_cast<uint32_t>(t) & 0xFFFF;
        if (idx >= n_chunks) return;
        if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire))
            continue;
        const int64_t b = idx * chunk, e = std::min(n, b + chunk);
        (*fn)(b, e, thread);
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_chunks) done_.notify_all();
        t = ticket_.load(std::memory_order_acquire);
    }
}

void ThreadPool::parallel_for(int64_t n, const RangeFn& fn) {
    if (n <= 0) return;
    if (n_threads_ == 1 || n == 1) {
        fn(0, n, 0);
        return;
    }
    const int64_t max_chunks = std::min<int64_t>({n, kChunksPerThread * n_threads_, 0xFFFF});
    const int64_t chunk = (n + max_chunks - 1) / max_chunks;
    const uint32_t n_chunks = static_cast<uint32_t>((n + chunk - 1) / chunk);
    const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
    job_.store(&fn, std::memory_order_relaxed);
    job_n_.store(n, std::memory_order_relaxed);
    chunk_.store(chunk, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    ticket_.store(static_cast<uint64_t>(gen) << 32 | static_cast<uint64_t>(n_chunks) << 16,
                  std::memory_order_release);
    generation_.store(gen, std::memory_order_release);
    generation_.notify_all();

    run_chunks(gen, 0);
    for (int spin = 0;; ++spin) {
        const uint32_t d = done_.load(std::memory_order_acquire);
        if (d >= n_chunks) break;
        if (spin < kSpinIterations) {
            DK_CPU_RELAX();
        } else {
            done_.wait(d, std::memory_order_acquire);
        }
    }
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
        run_chunks(g, index);
    }
}

}  // namespace docket

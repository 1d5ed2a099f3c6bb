#include "store/callback_workers.h"

#include <algorithm>
#include <system_error>

#include "util/log.h"

namespace docket::store {

int default_callback_threads() {
    return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}

CallbackWorkers::CallbackWorkers(int n) {
    if (n < 0) n = default_callback_threads();
    n = std::min(n, 64);
    try {
        threads_.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) threads_.emplace_back([this] { worker_main(); });
    } catch (const std::system_error& e) {
        DK_LOG_WARN("started {} of {} read-check threads ({}); running with those", threads_.size(), n,
                    e.what());
    } catch (const std::bad_alloc&) {
        DK_LOG_WARN("out of memory starting read-check threads; running with {} of {}", threads_.size(), n);
    }
}

CallbackWorkers::~CallbackWorkers() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void CallbackWorkers::set_handler(const std::function<void(int)>* fn) {
    std::lock_guard lock(mu_);
    fn_ = fn;
}

void CallbackWorkers::post(int item) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(item);
        ++outstanding_;
    }
    if (!threads_.empty()) work_cv_.notify_one();
}

void CallbackWorkers::run_inline() {
    if (!threads_.empty()) return;
    // Only this thread touches the lists when there are no workers; the lock keeps the invariants uniform.
    std::unique_lock lock(mu_);
    while (!queue_.empty()) {
        const int item = queue_.front();
        queue_.erase(queue_.begin());
        lock.unlock();
        (*fn_)(item);
        lock.lock();
        finished_.push_back(item);
        --outstanding_;
    }
}

void CallbackWorkers::take_finished(std::vector<int>& out, bool wait) {
    std::unique_lock lock(mu_);
    if (wait) done_cv_.wait(lock, [&] { return !finished_.empty() || outstanding_ == 0; });
    out.insert(out.end(), finished_.begin(), finished_.end());
    finished_.clear();
}

void CallbackWorkers::drain() {
    run_inline();
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return outstanding_ == 0; });
    finished_.clear();
}

void CallbackWorkers::worker_main() {
    std::unique_lock lock(mu_);
    for (;;) {
        work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        // Outstanding items are finished even when stopping: the owner drains before destruction, so this
        // only matters if it did not, and then a half-run batch would leave its caller waiting.
        if (queue_.empty()) return;
        const int item = queue_.back();
        queue_.pop_back();
        const auto* fn = fn_;
        lock.unlock();
        (*fn)(item);
        lock.lock();
        finished_.push_back(item);
        --outstanding_;
        done_cv_.notify_one();  // only the ring's thread waits on it
    }
}

}  // namespace docket::store

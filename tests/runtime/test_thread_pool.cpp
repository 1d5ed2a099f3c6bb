// The compute thread pool under oversubscription (more threads than cores, so workers are descheduled
// mid-job): every index of every job runs exactly once, jobs never overlap, and thread ids stay in range.
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

using namespace docket;

class TestThreadPool : public QObject {
    Q_OBJECT
private slots:
    void every_index_runs_exactly_once_across_many_jobs() {
        for (int threads : {1, 2, 3, 8}) {
            ThreadPool pool(threads);
            QCOMPARE(pool.size(), threads);
            std::vector<std::atomic<int>> hits(5000);
            std::atomic<int> in_job{0};
            for (int job = 0; job < 3000; ++job) {
                const int64_t n = 1 + (job * 37) % 300;
                for (int64_t i = 0; i < n; ++i) hits[i].store(0, std::memory_order_relaxed);
                bool overlap = false, bad_thread = false;
                pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
                    if (in_job.fetch_add(1) < 0) overlap = true;
                    if (t < 0 || t >= threads) bad_thread = true;
                    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
                    in_job.fetch_sub(1);
                });
                QCOMPARE(in_job.load(), 0);  // nothing of this job still runs after parallel_for returned
                QVERIFY(!overlap && !bad_thread);
                for (int64_t i = 0; i < n; ++i)
                    QVERIFY2(hits[i].load() == 1,
                             qPrintable(QString("threads %1 job %2 index %3 ran %4 times")
                                            .arg(threads)
                                            .arg(job)
                                            .arg(i)
                                            .arg(hits[i].load())));
            }
        }
    }

    // Many tiny jobs back to back: the hand-over between jobs is where a late worker could act on a stale
    // job.
    void back_to_back_tiny_jobs_do_not_lose_or_repeat_work() {
        for (int threads : {3, 6}) {
            ThreadPool pool(threads);
            std::atomic<int64_t> total{0};
            int64_t want = 0;
            for (int job = 0; job < 100000; ++job) {
                const int64_t n = 2 + job % 5;
                want += n;
                pool.parallel_for(n, [&](int64_t b, int64_t e, int) { total.fetch_add(e - b); });
                if (total.load() != want)
                    QFAIL(qPrintable(QString("job %1: %2 of %3").arg(job).arg(total.load()).arg(want)));
            }
        }
    }

    // `--threads 100000` used to abort the process (std::system_error from std::thread): counts are clamped
    // to max_threads() = min(1024, 4 x cores), and a pool of the clamped size still runs every index once.
    void absurd_thread_counts_are_clamped() {
        const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        QCOMPARE(max_threads(), std::min(1024, 4 * hw));
        QCOMPARE(clamp_thread_count(0), std::min(hw, max_threads()));
        QCOMPARE(clamp_thread_count(-5), std::min(hw, max_threads()));
        QCOMPARE(clamp_thread_count(1), 1);
        QCOMPARE(clamp_thread_count(100000), max_threads());
        ThreadPool pool(100000);
        QVERIFY(pool.size() >= 1 && pool.size() <= max_threads());
        std::vector<std::atomic<int>> hits(10000);
        std::atomic<bool> bad_thread{false};
        pool.parallel_for(10000, [&](int64_t b, int64_t e, int t) {
            if (t < 0 || t >= pool.size()) bad_thread = true;
            for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        QVERIFY(!bad_thread);
        for (auto& h : hits) QCOMPARE(h.load(), 1);
    }

    void split_covers_the_range() {
        for (int n : {0, 1, 7, 100})
            for (int t = 1; t <= 5; ++t) {
                int64_t next = 0;
                for (int i = 0; i < t; ++i) {
                    int64_t b, e;
                    ThreadPool::split(n, t, i, &b, &e);
                    QCOMPARE(b, next);
                    next = e;
                }
                QCOMPARE(next, int64_t(n));
            }
    }
};

QTEST_APPLESS_MAIN(TestThreadPool)
#include "test_thread_pool.moc"

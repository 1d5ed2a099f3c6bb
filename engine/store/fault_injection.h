#pragma once
// Fault injection for the store, on from day one (DuckDB debug_checkpoint_abort / SQLite test6.c style).
//
// Crash points: named places in the write path where a test can make the process die as if the power went
// (SIGKILL, no cleanup). Armed from a test with arm_crash_point() or, for a child process, with the
// environment variable DOCKET_CRASH_POINT="name" or "name:N" (die at the N-th time the point is reached,
// 1-based), which is honoured only together with DOCKET_FAULT_INJECTION=1 (a lone DOCKET_CRASH_POINT is
// ignored with a warning). Unarmed, a crash point costs one relaxed atomic load.
//
// I/O faults: an IoFaults object passed in StoreOptions makes the N-th data write (pwrite) or sync from now
// fail with the given errno (ENOSPC by default), to test disk-full handling, or the N-th io_uring submit of a
// reader (to test that a failed batch leaves nothing in flight), or the N-th read of compaction.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>

namespace docket::store {

// The crash points the store defines (see store.cpp / store_compact.cpp for where they sit).
namespace crash {
inline constexpr const char* kAfterSnapshotRow = "after_snapshot_row";  // `writing` row committed
inline constexpr const char* kMidPayload = "mid_payload";               // some extents written, no sync
inline constexpr const char* kAfterPayloadSync = "after_payload_sync";  // payload synced, rows not committed
inline constexpr const char* kAfterCommit = "after_commit";             // rows committed
inline constexpr const char* kCompactAfterCopy = "compact_after_copy";  // live extents copied and synced
inline constexpr const char* kCompactAfterCommit =
    "compact_after_commit";  // rows moved, old file not deleted
}  // namespace crash

void arm_crash_point(const std::string& name, int64_t nth = 1);
void disarm_crash_points();
// Dies with SIGKILL when `name` is armed and this is its N-th hit. Test-only: nothing arms a point in
// production, and the process is killed rather than exit()ed so that no destructor or flush runs.
void crash_point(const char* name);

struct IoFaults {
    std::atomic<int64_t> fail_write_in{-1};   // >= 1: the N-th pwrite from now fails (then disarms)
    std::atomic<int64_t> fail_sync_in{-1};    // >= 1: the N-th fdatasync from now fails (then disarms)
    std::atomic<int64_t> fail_submit_in{-1};  // >= 1: the N-th io_uring submit from now fails (then disarms)
    std::atomic<int64_t> fail_read_in{-1};    // >= 1: the N-th compaction read from now fails (then disarms)
    std::atomic<int> error{ENOSPC};
    std::atomic<int64_t> writes{0}, syncs{0}, submits{0}, reads{0};  // counters, for tests

    // Returns 0, or the errno to fail this operation with.
    int on_write() { return tick(fail_write_in, writes); }
    int on_sync() { return tick(fail_sync_in, syncs); }
    int on_submit() { return tick(fail_submit_in, submits); }
    int on_read() { return tick(fail_read_in, reads); }

private:
    int tick(std::atomic<int64_t>& in, std::atomic<int64_t>& count) {
        count.fetch_add(1, std::memory_order_relaxed);
        int64_t v = in.load();
        while (v > 0) {
            if (in.compare_exchange_weak(v, v - 1)) return v == 1 ? error.load() : 0;
        }
        return 0;
    }
};

}  // namespace docket::store

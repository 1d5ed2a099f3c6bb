#pragma once
// Maintenance of a KV snapshot store directory (`docket-cli inspect | verify | compact --store DIR`), through
// the public seam: plain structs, Result<T>. None of these needs a model. inspect and the plain verify open
// the store read-only and write nothing (they work on a read-only copy); verify --mark-bad, --rebuild-index
// and compact take the store's lock like a writer (refused while another process has it open).
#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace docket {

struct StoreSummary {
    int64_t snapshots_ready = 0, snapshots_bad = 0, extents = 0, files = 0;
    uint64_t file_bytes = 0, live_bytes = 0, dead_bytes = 0, raw_bytes = 0;
};

struct StoreSnapshot {
    int64_t id = 0;
    std::string state, codec, document;
    int n_layers = 0, n_kv_heads = 0, head_dim = 0;
    int64_t n_tokens = 0;
    uint64_t bytes = 0;
};

struct StoreProblem {
    int64_t snapshot_id = 0;  // 0: not tied to a snapshot (a file or index problem)
    std::string document, message;
};

struct StoreVerifyReport {
    int64_t snapshots = 0, extents = 0, bad_snapshots = 0;
    uint64_t bytes_checked = 0;
    std::vector<StoreProblem> problems;
    bool ok() const { return problems.empty(); }
};

// What --rebuild-index found in the segment files and did to the index (it never deletes anything).
struct StoreRebuildReport {
    int files = 0, files_added = 0;
    int64_t extents_valid = 0, blocks_unreadable = 0;
    int64_t snapshots_kept = 0, snapshots_repaired = 0, snapshots_recovered = 0, snapshots_marked_bad = 0,
            snapshots_incomplete = 0;
    std::string moved_index;  // where an unreadable index.db was moved ("" when it was reused)
};

struct StoreCompactReport {
    int64_t evicted = 0;  // snapshots evicted to fit the budget
    int files_compacted = 0;
    int64_t extents_moved = 0;
    uint64_t bytes_moved = 0, file_bytes_before = 0, file_bytes_after = 0, live_bytes_after = 0;
};

enum class StoreVerifyMode {
    check,          // read and check everything, write nothing
    mark_bad,       // also mark failing snapshots bad (recomputed on next use)
    rebuild_index,  // first rebuild the index from the extent headers, then check
};

// The store's totals; with `snapshots`, one row per snapshot too.
Result<StoreSummary> inspect_store(const std::string& dir, std::vector<StoreSnapshot>* snapshots = nullptr);
// Checks every extent (checksum, header, zstd), the segment files against the index and the index itself.
// `rebuilt` receives the rebuild's report in rebuild_index mode.
Result<StoreVerifyReport> verify_store(const std::string& dir, StoreVerifyMode mode,
                                       StoreRebuildReport* rebuilt = nullptr);
// Evicts least-recently-used snapshots down to `budget_bytes` (0: no eviction), then moves the live extents
// out of sealed files at least `min_dead` dead and deletes those files (crash-safe at every step).
Result<StoreCompactReport> compact_store(const std::string& dir, double min_dead, uint64_t budget_bytes);

}  // namespace docket

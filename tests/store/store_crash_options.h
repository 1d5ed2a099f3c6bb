#pragma once
// Store options shared by the crash writer and the crash test's checker: tiny files, extents and batches so
// that a few hundred milliseconds of writing cross every boundary (file rotation, multi-batch snapshots,
// eviction, compaction).
#include "store/store.h"

namespace docket::test {
inline store::StoreOptions crash_test_options() {
    store::StoreOptions o;
    o.segment_file_bytes = 512 << 10;
    o.byte_budget = 3 << 20;
    o.extent_target_bytes = 64 << 10;
    o.write_batch_bytes = 128 << 10;
    o.compact_dead_fraction = 0.3;
    return o;
}
}  // namespace docket::test

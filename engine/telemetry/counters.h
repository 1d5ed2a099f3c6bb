#pragma once
// Counters the engine's rooms bump and the UI / CLI read. Passed by reference to whoever counts (no
// singleton); snapshot() is a plain copy of relaxed atomic loads, cheap enough to poll at 10 Hz from any thread.
#include <atomic>
#include <cstdint>

namespace docket::telemetry {

struct CounterValues {
    uint64_t documents_ingested = 0;    // documents whose every segment has a snapshot
    uint64_t documents_skipped = 0;     // unchanged on a re-run
    uint64_t documents_failed = 0;      // unreadable, with a reason in the catalog
    uint64_t segments_prefilled = 0;    // segments run through the model at ingest
    uint64_t segments_reused = 0;       // ingest found the segment's snapshot already stored
    uint64_t segments_recomputed = 0;   // at ask time: snapshot missing, from another model, or corrupt
    uint64_t snapshots_loaded = 0;      // snapshots read from the store into a composed context
    uint64_t snapshot_bytes_loaded = 0;
    uint64_t tokens_prefilled = 0;      // every token the model was run over (ingest, recompute, questions)
    uint64_t tokens_composed = 0;       // context tokens placed from snapshots instead of prefilled
    uint64_t tokens_generated = 0;
    uint64_t questions_answered = 0;
};

class Counters {
public:
    std::atomic<uint64_t> documents_ingested{0}, documents_skipped{0}, documents_failed{0};
    std::atomic<uint64_t> segments_prefilled{0}, segments_reused{0}, segments_recomputed{0};
    std::atomic<uint64_t> snapshots_loaded{0}, snapshot_bytes_loaded{0};
    std::atomic<uint64_t> tokens_prefilled{0}, tokens_composed{0}, tokens_generated{0};
    std::atomic<uint64_t> questions_answered{0};

    CounterValues snapshot() const;
    static void add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace docket::telemetry

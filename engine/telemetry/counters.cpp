#include "telemetry/counters.h"

namespace docket::telemetry {

CounterValues Counters::snapshot() const {
    auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    CounterValues v;
    v.documents_ingested = ld(documents_ingested);
    v.documents_skipped = ld(documents_skipped);
    v.documents_failed = ld(documents_failed);
    v.segments_prefilled = ld(segments_prefilled);
    v.segments_reused = ld(segments_reused);
    v.segments_recomputed = ld(segments_recomputed);
    v.snapshots_loaded = ld(snapshots_loaded);
    v.snapshot_bytes_loaded = ld(snapshot_bytes_loaded);
    v.tokens_prefilled = ld(tokens_prefilled);
    v.tokens_composed = ld(tokens_composed);
    v.tokens_generated = ld(tokens_generated);
    v.questions_answered = ld(questions_answered);
    return v;
}

}  // namespace docket::telemetry

#include "api/store_admin.h"

#include "store/store.h"

namespace docket {
namespace {

// A mistyped path must fail, not create (and then inspect) a new empty store.
store::StoreOptions existing_store(bool read_only) {
    store::StoreOptions opt;
    opt.create_if_missing = false;
    opt.read_only = read_only;
    return opt;
}

StoreSummary summary_of(const store::StoreStats& s) {
    return {s.snapshots_ready, s.snapshots_bad, s.extents,      s.files,
            s.file_bytes,      s.live_bytes,    s.dead_bytes(), s.raw_bytes};
}

StoreSnapshot snapshot_of(const store::SnapshotInfo& x) {
    StoreSnapshot r;
    r.id = x.id;
    r.state = store::snapshot_state_name(x.state);
    r.codec = kv_page::codec_name(x.key.codec.codec);
    r.document = x.document;
    r.n_layers = x.shape.n_layers;
    r.n_kv_heads = x.shape.n_kv_heads;
    r.head_dim = x.shape.head_dim;
    r.n_tokens = x.n_tokens;
    r.bytes = x.bytes;
    return r;
}

StoreRebuildReport rebuild_of(const store::RebuildReport& r) {
    StoreRebuildReport o;
    o.files = r.files;
    o.files_added = r.files_added;
    o.extents_valid = r.extents_valid;
    o.blocks_unreadable = r.blocks_unreadable;
    o.snapshots_kept = r.snapshots_kept;
    o.snapshots_repaired = r.snapshots_repaired;
    o.snapshots_recovered = r.snapshots_recovered;
    o.snapshots_marked_bad = r.snapshots_marked_bad;
    o.snapshots_incomplete = r.snapshots_incomplete;
    o.moved_index = r.moved_index;
    return o;
}

}  // namespace

Result<StoreSummary> inspect_store(const std::string& dir, std::vector<StoreSnapshot>* snapshots) {
    DK_ASSIGN_OR_RETURN(auto st, store::Store::open(dir, existing_store(/*read_only=*/true)));
    DK_ASSIGN_OR_RETURN(store::StoreStats stats, st->stats());
    if (snapshots) {
        DK_ASSIGN_OR_RETURN(auto reader, st->reader());
        DK_ASSIGN_OR_RETURN(auto list, reader->list());
        snapshots->clear();
        for (const store::SnapshotInfo& x : list) snapshots->push_back(snapshot_of(x));
    }
    return summary_of(stats);
}

Result<StoreVerifyReport> verify_store(const std::string& dir, StoreVerifyMode mode,
                                       StoreRebuildReport* rebuilt) {
    if (mode == StoreVerifyMode::rebuild_index) {
        DK_ASSIGN_OR_RETURN(store::RebuildReport r, store::Store::rebuild_index(dir, existing_store(false)));
        if (rebuilt) *rebuilt = rebuild_of(r);
    }
    const bool mark_bad = mode == StoreVerifyMode::mark_bad;
    DK_ASSIGN_OR_RETURN(auto st, store::Store::open(dir, existing_store(/*read_only=*/!mark_bad)));
    DK_ASSIGN_OR_RETURN(store::VerifyReport rep, st->verify(mark_bad));
    StoreVerifyReport out;
    out.snapshots = rep.snapshots;
    out.extents = rep.extents;
    out.bad_snapshots = rep.bad_snapshots;
    out.bytes_checked = rep.bytes_checked;
    for (const store::VerifyProblem& p : rep.problems)
        out.problems.push_back({p.snapshot_id, p.document, p.message});
    return out;
}

Result<StoreCompactReport> compact_store(const std::string& dir, double min_dead, uint64_t budget_bytes) {
    if (!(min_dead >= 0.0 && min_dead <= 1.0))
        return make_error(ErrorCode::invalid_argument, "dead fraction {} is outside [0, 1]", min_dead);
    store::StoreOptions opt = existing_store(/*read_only=*/false);
    opt.byte_budget = budget_bytes;
    opt.compact_dead_fraction = min_dead;
    DK_ASSIGN_OR_RETURN(auto st, store::Store::open(dir, opt));
    StoreCompactReport out;
    DK_ASSIGN_OR_RETURN(store::StoreStats before, st->stats());
    out.file_bytes_before = before.file_bytes;
    if (budget_bytes > 0) {
        DK_ASSIGN_OR_RETURN(out.evicted, st->enforce_budget());
    }
    DK_ASSIGN_OR_RETURN(store::CompactStats cs, st->compact(min_dead));
    out.files_compacted = cs.files_compacted;
    out.extents_moved = cs.extents_moved;
    out.bytes_moved = cs.bytes_moved;
    DK_ASSIGN_OR_RETURN(store::StoreStats after, st->stats());
    out.file_bytes_after = after.file_bytes;
    out.live_bytes_after = after.live_bytes;
    return out;
}

}  // namespace docket

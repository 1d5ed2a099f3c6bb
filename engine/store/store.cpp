#include "store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "model/fingerprint.h"
#include "store/block_reader.h"
#include "store/extent_format.h"
#include "store/fault_injection.h"
#include "store/segment_file.h"
#include "store/store_rows.h"
#include "store/store_schema.h"
#include "util/fd_guard.h"
#include "util/log.h"

namespace docket::store {

int default_zstd_level(Codec c) {
    // Measured on SmolLM2 KV of a CUAD contract (tests/bench/RESULTS.md, "KV snapshot store"): zstd level 1
    // saves 3-16% of the pages (fp16 8.7%, int8 3.4%, int4 6.4%, int2 15.7%; levels 3 and 9 add < 1%) and
    // decompresses at 0.4-0.9 GB/s per core, slower than the disk reads it would save (1-2 GB/s here, more
    // on NVMe). Off by default for every codec; StoreOptions::zstd_level = 1 trades read speed for capacity.
    (void)c;
    return 0;
}

namespace {

Status check_put_args(const SnapshotKey& key, const KvShape& s, int64_t n_tokens) {
    if (!kv_page::codec_valid(static_cast<uint32_t>(key.codec.codec)))
        return make_error(ErrorCode::invalid_argument, "unknown codec {}", static_cast<int>(key.codec.codec));
    if (s.n_layers <= 0 || s.n_layers > 4096 || s.n_kv_heads <= 0 || s.n_kv_heads > 1024 || s.head_dim <= 0 ||
        s.head_dim > 1024 || s.head_dim % 4 != 0)
        return make_error(ErrorCode::invalid_argument, "bad KV shape {} layers x {} kv heads x {}",
                          s.n_layers, s.n_kv_heads, s.head_dim);
    if (n_tokens <= 0 || n_tokens > (int64_t{1} << 30))
        return make_error(ErrorCode::invalid_argument, "snapshot token count {} out of range", n_tokens);
    if (key.codec.k_group != kv_page::kTokens || key.codec.v_group != s.head_dim)
        return make_error(ErrorCode::invalid_argument,
                          "codec groups k={} v={} differ from the page format (64, {})", key.codec.k_group,
                          key.codec.v_group, s.head_dim);
    return Status::ok();
}

}  // namespace

Store::~Store() {
    {
        std::lock_guard lock(mu_);
        if (db_ && !read_only_) {
            if (Status st = flush_used_locked(); !st) DK_LOG_WARN("{}: {}", dir_, st.to_string());
        }
        files_.reset();
        db_.reset();
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Status Store::recover() {
    std::lock_guard lock(mu_);
    Db& db = *db_;
    // 1. Snapshots a crash left half-written: invisible already; drop them (their extents become dead bytes).
    // A put flips its row to ready in the transaction of its last extents, so a 'writing' row whose extent
    // rows cover it whole was not left by a crash (a damaged or crafted row): it is kept, marked bad.
    constexpr const char* kWhole =
        "(SELECT coalesce(sum((e.layer_end - e.layer_begin) * (e.page_end - e.page_begin)), 0) "
        "FROM extents e WHERE e.snapshot_id = snapshots.id) >= n_layers * ((n_tokens + 63) / 64)";
    DK_TRY(
        db.exec(fmt::format("UPDATE snapshots SET state = 'bad', error = 'found writing with all its "
                            "extents committed' WHERE state = 'writing' AND {}",
                            kWhole)));
    if (int n = db.changes())
        DK_LOG_ERROR("{}: {} snapshot(s) marked writing hold all their extents; marked bad", dir_, n);
    DK_TRY(db.exec("DELETE FROM snapshots WHERE state = 'writing'"));
    if (int n = db.changes()) DK_LOG_WARN("{}: dropped {} snapshot(s) left half-written by a crash", dir_, n);

    // 2. Files: retired ones finish their deletion; the rest are cut back to their committed end.
    struct FileRow {
        int64_t id;
        uint64_t committed;
        std::string state;
    };
    std::vector<FileRow> rows;
    {
        DK_ASSIGN_OR_RETURN(auto st, db.prepare("SELECT id, committed_bytes, state FROM files ORDER BY id"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, st.step());
            if (!row) break;
            rows.push_back({st.col_int(0), static_cast<uint64_t>(st.col_int(1)), st.col_text(2)});
        }
    }
    for (FileRow& f : rows) {
        if (f.state == "retired") {
            DK_TRY(finish_retirement_locked(f.id));
            if (!files_->exists(f.id)) continue;
            f.state = "sealed";  // not proven dead: kept, and treated as the sealed file it is
        }
        if (!files_->exists(f.id)) {
            if (f.committed == 0) {
                DK_TRY(files_->create(f.id));  // crash between the row and the file's creation
            } else {
                DK_LOG_ERROR("{}: segment file {} is missing; its snapshots are marked bad", dir_,
                             files_->path(f.id));
                DK_ASSIGN_OR_RETURN(auto bad,
                                    db.prepare("UPDATE snapshots SET state = 'bad', error = 'segment file "
                                               "missing' WHERE id IN (SELECT snapshot_id FROM extents "
                                               "WHERE file_id = ?)"));
                DK_TRY(bad.bind(1, f.id).exec());
                continue;
            }
        }
        DK_ASSIGN_OR_RETURN(uint64_t size, files_->size(f.id));
        if (size > f.committed && f.committed % kIoAlign == 0) {
            DK_LOG_INFO("{}: truncating {} uncommitted bytes of {}", dir_, size - f.committed,
                        files_->path(f.id));
            DK_TRY(files_->truncate(f.id, f.committed));
            size = f.committed;
        } else if (size != f.committed || f.committed % kIoAlign != 0) {
            // The file lost its tail (or the index holds an unaligned end). Appends continue from the last
            // 4 KiB boundary the file still has (O_DIRECT writes need it), so the snapshots with bytes past
            // it are dropped: they are gone, and their rows must not describe bytes that new extents
            // overwrite.
            const uint64_t end = std::min(size, f.committed) / kIoAlign * kIoAlign;
            DK_LOG_ERROR("{}: {} is {} bytes, the index says {}; cutting it to {}", dir_, files_->path(f.id),
                         size, f.committed, end);
            DK_TRY(drop_lost_past_locked(f.id, end));
            if (size != end) DK_TRY(files_->truncate(f.id, end));
            DK_ASSIGN_OR_RETURN(auto up, db.prepare("UPDATE files SET committed_bytes = ? WHERE id = ?"));
            DK_TRY(up.bind(1, end).bind(2, f.id).exec());
            size = end;
        }
        if (f.state == "active") {
            active_file_ = f.id;
            active_committed_ = active_append_ = size;
        }
    }
    // Files on disk the index does not know were refused before recovery (check_index_covers_files): the
    // index must have lost them, and only an explicit rebuild may decide what they hold.
    return Status::ok();
}

Status Store::finish_retirement_locked(int64_t file_id) {
    const std::string path = files_->path(file_id);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT (SELECT count(*) FROM compactions WHERE file_id = ?1), "
                                             "(SELECT count(*) FROM extents WHERE file_id = ?1)"));
    q.bind(1, file_id);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    const bool recorded = row && q.col_int(0) > 0;
    const int64_t pointing = row ? q.col_int(1) : 0;
    if (!recorded || pointing > 0) {
        DK_LOG_ERROR("{}: {} is marked retired, but {}; keeping it", dir_, path,
                     !recorded ? "no compaction record of this store retired it"
                               : fmt::format("{} extent(s) still point into it", pointing));
        Transaction tx(*db_);
        DK_TRY(tx.begin());
        DK_ASSIGN_OR_RETURN(auto seal, db_->prepare("UPDATE files SET state = 'sealed' WHERE id = ?"));
        DK_TRY(seal.bind(1, file_id).exec());
        DK_ASSIGN_OR_RETURN(auto forget, db_->prepare("DELETE FROM compactions WHERE file_id = ?"));
        DK_TRY(forget.bind(1, file_id).exec());
        return tx.commit();
    }
    // Proven dead: unlink first, then the rows (a crash in between finds the record again).
    DK_TRY(files_->remove(file_id));
    file_generation_.fetch_add(1, std::memory_order_release);  // readers drop their cached fds
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    DK_ASSIGN_OR_RETURN(auto journal, db_->prepare("DELETE FROM compactions WHERE file_id = ?"));
    DK_TRY(journal.bind(1, file_id).exec());
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM files WHERE id = ?"));
    DK_TRY(del.bind(1, file_id).exec());
    return tx.commit();
}

Status Store::drop_lost_past_locked(int64_t file_id, uint64_t end) {
    // Name the documents first: the log is how a user learns which ones will be recomputed.
    const std::string lost = "SELECT snapshot_id FROM extents WHERE file_id = ? AND offset + length > ?";
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kSnapshotSelect) + "WHERE s.id IN (" + lost + ")"));
    q.bind(1, file_id).bind(2, end);
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        DK_LOG_ERROR("{}: {} lost extents past {} of {}; dropped (it will be recomputed)", dir_,
                     snapshot_from_row(q).describe(), end, files_->path(file_id));
    }
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM snapshots WHERE id IN (" + lost + ")"));
    return del.bind(1, file_id).bind(2, end).exec();
}

Result<int64_t> Store::ensure_collection(const std::string& name) {
    DK_TRY(writable("ensure_collection"));
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto ins, db_->prepare("INSERT INTO collections(name, created_at) VALUES(?, ?) "
                                               "ON CONFLICT(name) DO NOTHING"));
    DK_TRY(ins.bind(1, name).bind(2, now_ms() / 1000).exec());
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT id FROM collections WHERE name = ?"));
    q.bind(1, name);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::internal, "collection '{}' vanished after insert", name);
    return q.col_int(0);
}

Result<int64_t> Store::ensure_document(int64_t collection_id, const std::string& path,
                                       const Hash128& content_hash) {
    DK_TRY(writable("ensure_document"));
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto ins,
                        db_->prepare("INSERT INTO documents(collection_id, path, content_hash) "
                                     "VALUES(?, ?, ?) ON CONFLICT(collection_id, path) DO UPDATE SET "
                                     "content_hash = excluded.content_hash"));
    DK_TRY(ins.bind(1, collection_id).bind(2, path).bind(3, content_hash).exec());
    DK_ASSIGN_OR_RETURN(auto q,
                        db_->prepare("SELECT id FROM documents WHERE collection_id = ? AND path = ?"));
    q.bind(1, collection_id).bind(2, path);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::internal, "document '{}' vanished after insert", path);
    return q.col_int(0);
}

Result<int64_t> Store::ensure_segment(int64_t document_id, int ordinal, const Hash128& content_hash) {
    DK_TRY(writable("ensure_segment"));
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto ins,
                        db_->prepare("INSERT INTO segments(document_id, ordinal, content_hash) "
                                     "VALUES(?, ?, ?) ON CONFLICT(document_id, ordinal) DO UPDATE SET "
                                     "content_hash = excluded.content_hash"));
    DK_TRY(ins.bind(1, document_id).bind(2, ordinal).bind(3, content_hash).exec());
    DK_ASSIGN_OR_RETURN(auto q,
                        db_->prepare("SELECT id FROM segments WHERE document_id = ? AND ordinal = ?"));
    q.bind(1, document_id).bind(2, ordinal);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row)
        return make_error(ErrorCode::internal, "segment {} of document {} vanished", ordinal, document_id);
    return q.col_int(0);
}

Result<int64_t> Store::put(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens,
                           const LayerKvFn& kv, int64_t segment_id) {
    DK_TRY(check_put_args(key, shape, n_tokens));
    // Encode page by page as the writer asks for them. kv(layer) is called once per layer: the writer visits
    // each layer's pages consecutively (an extent spanning several page blocks holds one layer, see
    // plan_extents), so holding the current layer's pointers is enough.
    const size_t pb = kv_page::page_bytes(key.codec.codec, shape.n_kv_heads, shape.head_dim);
    const size_t token_floats = static_cast<size_t>(shape.n_kv_heads) * shape.head_dim;
    AlignedBuffer page(pb);
    Status encode_error;
    int cur_layer = -1;
    LayerKv l;
    PageFn pages = [&](int layer, int p) -> const uint8_t* {
        if (layer != cur_layer) {  // the writer asks for pages layer by layer (see put_locked)
            l = kv(layer);
            cur_layer = layer;
        }
        const int64_t t0 = int64_t{p} * kv_page::kTokens;
        const int valid = static_cast<int>(std::min<int64_t>(kv_page::kTokens, n_tokens - t0));
        if (!l.k || !l.v) {
            encode_error = make_error(ErrorCode::invalid_argument, "layer {} has no K/V data", layer);
            return nullptr;
        }
        Status st = encode_page(key.codec.codec, shape.n_kv_heads, shape.head_dim, l.k + t0 * token_floats,
                                l.v + t0 * token_floats, valid, page.data());
        if (!st) {
            encode_error = st;
            return nullptr;
        }
        return page.data();
    };
    auto r = put_pages(key, shape, n_tokens, pages, segment_id);
    if (!r && !encode_error.is_ok()) return encode_error;
    return r;
}

Result<int64_t> Store::put_pages(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens,
                                 const PageFn& pages, int64_t segment_id) {
    DK_TRY(writable("put"));
    DK_TRY(check_put_args(key, shape, n_tokens));
    Result<int64_t> r = [&]() -> Result<int64_t> {
        std::lock_guard lock(mu_);
        return put_locked(key, shape, n_tokens, pages, segment_id);
    }();
    if (r && opt_.byte_budget > 0) {
        auto ev = enforce_budget();
        if (!ev) DK_LOG_WARN("{}: enforcing the byte budget: {}", dir_, ev.status().to_string());
    }
    return r;
}

Status Store::ensure_active_file_locked(uint64_t need) {
    if (active_file_ != 0 && (active_append_ == 0 || active_append_ + need <= opt_.segment_file_bytes))
        return Status::ok();
    // Seal the full file and start a new one: row first, then the file (recovery recreates a missing empty
    // one). Bytes appended to the old file but not yet committed (compaction copies) must be durable first.
    if (active_file_ != 0 && active_append_ > active_committed_) DK_TRY(files_->sync(active_file_));
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    if (active_file_ != 0) {
        DK_ASSIGN_OR_RETURN(auto seal, db_->prepare("UPDATE files SET state = 'sealed' WHERE id = ?"));
        DK_TRY(seal.bind(1, active_file_).exec());
    }
    DK_ASSIGN_OR_RETURN(
        auto ins, db_->prepare("INSERT INTO files(name, committed_bytes, state) VALUES('', 0, 'active')"));
    DK_TRY(ins.exec());
    const int64_t id = db_->last_insert_id();
    DK_ASSIGN_OR_RETURN(auto name, db_->prepare("UPDATE files SET name = ? WHERE id = ?"));
    DK_TRY(name.bind(1, segment_file_name(id)).bind(2, id).exec());
    DK_TRY(tx.commit());
    if (active_file_ != 0) files_->close(active_file_);
    active_file_ = id;
    active_committed_ = active_append_ = 0;
    return files_->create(id);
}

Status Store::rollback_tail_locked() {
    // Uncommitted bytes past the committed end are garbage; cut them now (recovery would do it on next open).
    if (active_file_ != 0 && active_append_ != active_committed_) {
        active_append_ = active_committed_;
        return files_->truncate(active_file_, active_committed_);
    }
    return Status::ok();
}

Result<int64_t> Store::put_locked(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens,
                                  const PageFn& pages, int64_t segment_id) {
    DK_TRY(flush_used_locked());
    Db& db = *db_;
    // Same key: keep a ready snapshot, replace a bad one.
    {
        DK_ASSIGN_OR_RETURN(auto q,
                            db.prepare("SELECT id, state FROM snapshots WHERE model_fp = ? AND codec = ? AND "
                                       "codec_params = ? AND prefix_hash = ? AND content_hash = ?"));
        DK_TRY(bind_key(q, 1, key));
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (row) {
            const int64_t id = q.col_int(0);
            if (q.col_text(1) == "ready") return id;
            DK_TRY(remove_locked(id));
        }
    }
    const int64_t now = now_ms();
    int64_t snap_id = 0;
    {
        DK_ASSIGN_OR_RETURN(auto ins,
                            db.prepare("INSERT INTO snapshots(model_fp, codec, codec_params, prefix_hash, "
                                       "content_hash, segment_id, n_layers, n_kv_heads, head_dim, n_tokens, "
                                       "state, created_at, last_used) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                       "'writing', ?, ?)"));
        DK_TRY(bind_key(ins, 1, key));
        if (segment_id > 0)
            ins.bind(6, segment_id);
        else
            ins.bind_null(6);
        ins.bind(7, shape.n_layers).bind(8, shape.n_kv_heads).bind(9, shape.head_dim).bind(10, n_tokens);
        ins.bind(11, now).bind(12, now);
        DK_TRY(ins.exec());  // autocommit: the `writing` row is its own transaction
        snap_id = db.last_insert_id();
    }
    crash_point(crash::kAfterSnapshotRow);

    const int n_pages = kv_page::pages_for_tokens(n_tokens);
    const size_t pb = kv_page::page_bytes(key.codec.codec, shape.n_kv_heads, shape.head_dim);
    const ExtentPlan plan = plan_extents(shape, n_pages, pb, opt_.extent_target_bytes);
    const int level = opt_.zstd_level < 0 ? default_zstd_level(key.codec.codec) : opt_.zstd_level;

    struct Pending {
        ExtentLoc loc;
    };
    std::vector<Pending> batch;
    uint64_t batch_bytes = 0, total_bytes = 0, total_raw = 0;
    AlignedBuffer raw, ext;

    auto commit_batch = [&](bool final) -> Status {
        if (!batch.empty()) {
            DK_TRY(files_->sync(active_file_));
            crash_point(crash::kAfterPayloadSync);
        }
        Transaction tx(db);
        DK_TRY(tx.begin());
        DK_ASSIGN_OR_RETURN(auto ins, db.prepare(kExtentInsert));
        for (const Pending& p : batch) {
            ins.reset();
            DK_TRY(bind_extent(ins, snap_id, p.loc).exec());
        }
        if (!batch.empty()) {
            DK_ASSIGN_OR_RETURN(auto f, db.prepare("UPDATE files SET committed_bytes = ? WHERE id = ?"));
            DK_TRY(f.bind(1, active_append_).bind(2, active_file_).exec());
        }
        if (final) {
            DK_ASSIGN_OR_RETURN(auto s,
                                db.prepare("UPDATE snapshots SET state = 'ready', bytes = ?, raw_bytes = ?, "
                                           "last_used = ? WHERE id = ?"));
            DK_TRY(s.bind(1, total_bytes).bind(2, total_raw).bind(3, now_ms()).bind(4, snap_id).exec());
        }
        DK_TRY(tx.commit());
        active_committed_ = active_append_;
        batch.clear();
        batch_bytes = 0;
        return Status::ok();
    };

    Status st = [&]() -> Status {
        for (int lb = 0; lb < shape.n_layers; lb += plan.layers) {
            const int le = std::min(shape.n_layers, lb + plan.layers);
            for (int p0 = 0; p0 < n_pages; p0 += plan.pages) {
                const int p1 = std::min(n_pages, p0 + plan.pages);
                const size_t raw_len = static_cast<size_t>(le - lb) * (p1 - p0) * pb;
                if (!raw.resize(raw_len))
                    return make_error(ErrorCode::out_of_memory, "{} bytes for an extent", raw_len);
                for (int l = lb; l < le; ++l)
                    for (int p = p0; p < p1; ++p) {
                        const uint8_t* src = pages(l, p);
                        if (!src)
                            return make_error(ErrorCode::invalid_argument, "no page for layer {} page {}", l,
                                              p);
                        std::memcpy(raw.data() + (static_cast<size_t>(l - lb) * (p1 - p0) + (p - p0)) * pb,
                                    src, pb);
                    }
                ExtentHeader h;
                h.codec = static_cast<uint8_t>(key.codec.codec);
                h.n_kv_heads = static_cast<uint16_t>(shape.n_kv_heads);
                h.head_dim = static_cast<uint16_t>(shape.head_dim);
                h.layer_begin = static_cast<uint16_t>(lb);
                h.layer_count = static_cast<uint16_t>(le - lb);
                h.page_begin = static_cast<uint32_t>(p0);
                h.page_count = static_cast<uint32_t>(p1 - p0);
                h.n_tokens = static_cast<uint32_t>(n_tokens);
                h.page_bytes = static_cast<uint32_t>(pb);
                h.snapshot_id = static_cast<uint64_t>(snap_id);
                h.n_layers = static_cast<uint16_t>(shape.n_layers);  // with the key: what a rebuild needs
                key.model.to_bytes(h.model_fp);
                key.prefix.to_bytes(h.prefix_hash);
                key.content.to_bytes(h.content_hash);
                DK_TRY(build_extent(h, raw.data(), level, ext));

                // A full batch commits before the next extent is written, never after the last one: the
                // transaction that flips the row to ready then always holds extents (recover() relies on it).
                const bool spans_files = active_file_ != 0 && active_append_ > 0 &&
                                         active_append_ + h.extent_length > opt_.segment_file_bytes;
                if (!batch.empty() && (spans_files || batch_bytes >= opt_.write_batch_bytes))
                    DK_TRY(commit_batch(false));
                DK_TRY(ensure_active_file_locked(h.extent_length));
                DK_TRY(files_->write(active_file_, active_append_, ext.data(), h.extent_length));
                ExtentLoc e{
                    0,         lb, le, p0, p1, active_file_, active_append_, h.extent_length, h.raw_length,
                    h.checksum};
                batch.push_back({e});
                active_append_ += h.extent_length;
                batch_bytes += h.extent_length;
                total_bytes += h.extent_length;
                total_raw += h.raw_length;
                crash_point(crash::kMidPayload);
            }
        }
        return commit_batch(true);
    }();
    if (!st) {
        DK_LOG_WARN("{}: put of snapshot {} failed: {}", dir_, snap_id, st.to_string());
        if (Status t = rollback_tail_locked(); !t) DK_LOG_WARN("{}: {}", dir_, t.to_string());
        if (Status d = remove_locked(snap_id); !d)
            DK_LOG_WARN("{}: dropping the half-written snapshot {} failed ({}); the next open drops it", dir_,
                        snap_id, d.to_string());
        return st;
    }
    crash_point(crash::kAfterCommit);
    return snap_id;
}

Status Store::remove(int64_t snapshot_id) {
    DK_TRY(writable("remove"));
    std::lock_guard lock(mu_);
    return remove_locked(snapshot_id);
}

Status Store::remove_locked(int64_t snapshot_id) {
    // Extents go with the row (ON DELETE CASCADE); their bytes are dead until compaction.
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM snapshots WHERE id = ?"));
    return del.bind(1, snapshot_id).exec();
}

Status Store::mark_bad(int64_t snapshot_id, const std::string& error) {
    DK_TRY(writable("mark_bad"));
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto up, db_->prepare("UPDATE snapshots SET state = 'bad', error = ? WHERE id = ?"));
    return up.bind(1, error).bind(2, snapshot_id).exec();
}

void Store::note_used(int64_t snapshot_id) {
    if (read_only_) return;  // LRU order is the writer's concern
    std::lock_guard lock(used_mu_);
    used_[snapshot_id] = now_ms();
}

Status Store::flush_used_locked() {
    std::unordered_map<int64_t, int64_t> used;
    {
        std::lock_guard lock(used_mu_);
        used.swap(used_);
    }
    if (used.empty()) return Status::ok();
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    DK_ASSIGN_OR_RETURN(auto up,
                        db_->prepare("UPDATE snapshots SET last_used = max(last_used, ?) WHERE id = ?"));
    for (auto [id, t] : used) {
        up.reset();
        DK_TRY(up.bind(1, t).bind(2, id).exec());
    }
    return tx.commit();
}

Result<StoreStats> Store::stats() {
    std::lock_guard lock(mu_);
    StoreStats s;
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT (SELECT count(*) FROM snapshots WHERE state = 'ready'), "
                                             "(SELECT count(*) FROM snapshots WHERE state = "
                                             "'bad'), (SELECT count(*) FROM extents), (SELECT count(*) FROM "
                                             "files), (SELECT coalesce(sum(committed_bytes), "
                                             "0) FROM files), (SELECT coalesce(sum(length), 0) FROM "
                                             "extents), (SELECT coalesce(sum(raw_bytes), 0) FROM "
                                             "snapshots WHERE state = 'ready')"));
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (row) {
        s.snapshots_ready = q.col_int(0);
        s.snapshots_bad = q.col_int(1);
        s.extents = q.col_int(2);
        s.files = q.col_int(3);
        s.file_bytes = static_cast<uint64_t>(q.col_int(4));
        s.live_bytes = static_cast<uint64_t>(q.col_int(5));
        s.raw_bytes = static_cast<uint64_t>(q.col_int(6));
    }
    return s;
}

Result<Hash128> Store::model_fingerprint(const std::string& gguf_path) {
    // The file is identified by the descriptor we hash through, so a replacement between the check and the
    // hashing cannot pair one file's identity with another's fingerprint.
    const int fd = ::open(gguf_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return make_error(errno == ENOENT ? ErrorCode::not_found : ErrorCode::io_error, "model {}: {}",
                          gguf_path, std::strerror(errno));
    FdGuard closer(fd);
    struct stat st;
    if (::fstat(fd, &st) != 0)
        return make_error(ErrorCode::io_error, "stat model {}: {}", gguf_path, std::strerror(errno));
    const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    const int64_t ctime = int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec;
    auto bind_identity = [&](Stmt& q) -> Stmt& {
        return q.bind(1, gguf_path)
            .bind(2, static_cast<int64_t>(st.st_dev))
            .bind(3, static_cast<int64_t>(st.st_ino))
            .bind(4, static_cast<int64_t>(st.st_size))
            .bind(5, mtime)
            .bind(6, ctime);
    };
    {
        std::lock_guard lock(mu_);
        DK_ASSIGN_OR_RETURN(auto q,
                            db_->prepare("SELECT fingerprint FROM model_fingerprints WHERE path = ? AND "
                                         "dev = ? AND ino = ? AND size = ? AND mtime_ns = ? AND "
                                         "ctime_ns = ?"));
        bind_identity(q);
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (row) return q.col_hash(0);
    }
    auto fp = model_fingerprint_file("/proc/self/fd/" + std::to_string(fd));
    if (!fp) return fp.status().with_context("fingerprinting model " + gguf_path);
    if (read_only_) return *fp;  // not cached: a read-only store is not written
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(
        auto up, db_->prepare("INSERT OR REPLACE INTO model_fingerprints(path, dev, ino, size, mtime_ns, "
                              "ctime_ns, fingerprint) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    DK_TRY(bind_identity(up).bind(7, *fp).exec());
    return *fp;
}

Result<std::unique_ptr<StoreReader>> Store::reader() {
    std::unique_ptr<StoreReader> r(new StoreReader(*this));
    DK_ASSIGN_OR_RETURN(r->db_, open_connection());
    DK_ASSIGN_OR_RETURN(r->io_, make_block_reader({opt_.queue_depth, opt_.allow_io_uring, opt_.faults,
                                                   opt_.read_check_threads}));
    return r;
}

}  // namespace docket::store

#pragma once
// The KV snapshot store: SQLite index + append-only segment files of checksummed, zstd'd extents.
//
// Commit protocol (crash-safe): a put inserts its snapshot row as `writing`, appends extents at 4 KiB-aligned
// offsets past the active file's committed end, fdatasyncs them, then commits their rows and the file's new
// committed end in one transaction; the transaction holding the last extent also flips the snapshot to
// `ready`. Readers see only `ready` snapshots. On open, `writing` snapshots are dropped and every file is
// truncated to its committed end, so nothing half-written is ever visible.
//
// Threads: one writer (puts, eviction, compaction, marking bad) serialized on one connection inside Store;
// readers each get a StoreReader with their own connection and I/O queue (one per thread). One process opens
// a store directory for writing at a time (an exclusive flock on <dir>/LOCK); read-only opens take it shared.
//
// Nothing is deleted unless the index proves it dead: a segment file goes only with the store's own
// compaction record (table `compactions`), and a store whose index does not cover its segment files (lost,
// emptied, rolled back) is refused untouched; `rebuild_index` is the explicit way back.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

#include "store/aligned_buffer.h"
#include "store/block_reader.h"
#include "store/catalog_types.h"
#include "store/sqlite_db.h"
#include "store/store_schema.h"
#include "store/store_types.h"

namespace docket::store {

class SegmentFiles;
class StoreReader;

class Store {
public:
    // Opens the store in `dir` and recovers from any crash (see above). A missing store is created (its
    // directories mode 0700, index.db and its -wal/-shm 0600) when opt.create_if_missing, else not_found;
    // an existing directory's mode is left as it is. opt.read_only opens without writing anything and runs
    // no recovery. Refused untouched: an index.db of another program (invalid_argument), and a damaged
    // store (corrupt_data naming what is wrong): an index that is unreadable, empty or missing while
    // segment files exist, or that does not know a segment file or the snapshots past a file's committed
    // end (a lost or rolled-back index).
    static Result<std::unique_ptr<Store>> open(const std::string& dir, const StoreOptions& opt = {});
    // Rebuilds the index rows of every intact snapshot from the extent headers in the segment files
    // (`verify --rebuild-index`), without deleting anything: an index SQLite can read is repaired in place
    // (its catalog kept), an unreadable one is renamed aside (index.db.damaged-<time>, with its -wal/-shm)
    // and replaced. Takes the store's lock exclusively. Refuses another program's index.
    static Result<RebuildReport> rebuild_index(const std::string& dir, const StoreOptions& opt = {});
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& dir() const { return dir_; }
    const StoreOptions& options() const { return opt_; }

    // Catalog rows that snapshots hang from (so that errors can name the document).
    Result<int64_t> ensure_collection(const std::string& name);
    Result<int64_t> ensure_document(int64_t collection_id, const std::string& path,
                                    const Hash128& content_hash);
    Result<int64_t> ensure_segment(int64_t document_id, int ordinal, const Hash128& content_hash);

    // Catalog (store_catalog.cpp): what ingest wrote and query reads. Collections are created on first use.
    Result<std::optional<int64_t>> find_collection(const std::string& name);
    Result<std::vector<CollectionRow>> list_collections();
    Result<std::vector<DocumentRow>> list_documents(int64_t collection_id);
    Result<std::optional<DocumentRow>> find_document(int64_t collection_id, const std::string& path);
    Result<DocumentRow> document(int64_t document_id);
    // Starts (or restarts) a document's ingest: upserts the row as `ingesting` with this content hash; when the
    // hash changed, the old segments (their text and routing keys) go. Segments of an unchanged document are
    // kept, so a resumed ingest reuses the snapshots it finished.
    Result<int64_t> begin_document(int64_t collection_id, const std::string& path, const Hash128& content_hash,
                                   const DocumentMeta& meta);
    // Replaces a document's segments (text into FTS5 with the document title) in one transaction.
    Status put_segments(int64_t document_id, const std::vector<SegmentRow>& segments);
    Result<std::vector<SegmentRow>> segments_of(int64_t document_id);
    Result<SegmentRow> segment(int64_t segment_id);
    Status finish_document(int64_t document_id, const std::string& status, const std::string& error,
                           int64_t tokens);
    // A file that could not be read: recorded with its reason (no segments).
    Status record_document_error(int64_t collection_id, const std::string& path, const std::string& error);
    // Removes documents (and collections) with their segments, then every snapshot no segment uses any more.
    Status remove_document(int64_t document_id);
    Status remove_collection(int64_t collection_id);
    // BM25 over the collection's segments; `match` is an FTS5 MATCH expression. first_segments: only each
    // document's first segment (where a contract names itself and its parties), for ranking documents.
    Result<std::vector<TextHit>> search_text(int64_t collection_id, const std::string& match, int limit,
                                             bool first_segments = false);
    // Routing keys of a segment's content, keyed like its snapshot (model, prefix, content).
    Status put_routing(const Hash128& model, const Hash128& prefix, const Hash128& content,
                       const std::vector<uint8_t>& data);
    Result<std::vector<RoutingRow>> routing_keys(int64_t collection_id, const Hash128& model,
                                                 const Hash128& prefix);

    // Encodes and stores a snapshot of `n_tokens` tokens: kv(layer) gives each layer's K (before RoPE) and V
    // as [n_tokens, n_kv_heads, head_dim] f32. Returns the snapshot id. A ready snapshot with the same key is
    // kept (its id returned); a bad one is replaced. On failure (disk_full, io_error) nothing of it is
    // visible.
    Result<int64_t> put(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens, const LayerKvFn& kv,
                        int64_t segment_id = 0);
    // Same with pages already encoded in key.codec.codec (the GPU path hands over pages as they are).
    Result<int64_t> put_pages(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens,
                              const PageFn& pages, int64_t segment_id = 0);

    Status remove(int64_t snapshot_id);
    // Marks a snapshot bad (a checksum failed); it stays invisible until a put with its key replaces it.
    Status mark_bad(int64_t snapshot_id, const std::string& error);
    // Records a use for LRU eviction (cheap: batched into the writer's next transaction).
    void note_used(int64_t snapshot_id);

    // Evicts least-recently-used snapshots (bad ones first) until their on-disk bytes fit byte_budget, then
    // compacts files that are at least compact_dead_fraction dead. Runs after each put when a budget is set.
    Result<int64_t> enforce_budget();
    // Moves the live extents out of files at least `min_dead_fraction` dead, then deletes those files.
    // Crash-safe: copies are synced before the rows move; a file is unlinked only after its rows left it.
    Result<CompactStats> compact(double min_dead_fraction);
    // Reads and checks every extent of every snapshot (and the files and the index). mark_bad: set the state
    // of failing snapshots to bad.
    Result<VerifyReport> verify(bool mark_bad);
    Result<StoreStats> stats();

    // Model fingerprint of a GGUF, cached in the index by (path, device, inode, size, mtime, ctime): a file
    // replaced or rewritten in place is fingerprinted again even when its size and mtime were kept.
    Result<Hash128> model_fingerprint(const std::string& gguf_path);

    // A reader on its own connection; use one per thread. The Store must outlive it.
    Result<std::unique_ptr<StoreReader>> reader();

    bool read_only() const { return read_only_; }

private:
    friend class StoreReader;
    Store() = default;
    // store_open.cpp: the lock, the index connection, and the checks that run before anything is written.
    Status lock_store();
    Result<IndexKind> open_index(bool index_exists);
    Status check_index_covers_files();
    Result<std::unique_ptr<Db>> open_connection() const;
    Status writable(const char* what) const;
    Status recover();
    // Unlinks a retired file only when its compaction record is there and no extent row points into it;
    // otherwise the file is kept (state back to 'sealed') and the inconsistency logged.
    Status finish_retirement_locked(int64_t file_id);
    // store_rebuild.cpp: the lock, and the index to rebuild into (the old one, or a new one in its place).
    static Result<std::unique_ptr<Store>> open_for_rebuild(const std::string& dir, const StoreOptions& opt,
                                                           RebuildReport& rep);
    // Drops the snapshots with an extent past `end` of file `file_id` (the file lost them), logging each.
    Status drop_lost_past_locked(int64_t file_id, uint64_t end);
    Status flush_used_locked();
    Result<int64_t> put_locked(const SnapshotKey& key, const KvShape& shape, int64_t n_tokens,
                               const PageFn& pages, int64_t segment_id);
    Status ensure_active_file_locked(uint64_t need_bytes);
    Status rollback_tail_locked();
    Status remove_locked(int64_t snapshot_id);
    Result<int64_t> evict_locked();
    Result<CompactStats> compact_locked(double min_dead_fraction);
    Status remove_unused_snapshots_locked(const std::set<Hash128>& content_hashes);
    // Deletes catalog rows (cascading to segments) and then the snapshots their segments alone used.
    Status remove_catalog_rows(const char* segments_where, const char* delete_sql, int64_t id);

    std::string dir_, seg_dir_;
    StoreOptions opt_;
    bool read_only_ = false;
    bool index_has_wal_ = false;  // read-only: the index's -wal held changes at open (read via readonly_shm)
    int lock_fd_ = -1;
    std::mutex mu_;  // the writer: db_, files_, active file state
    std::unique_ptr<Db> db_;
    std::unique_ptr<SegmentFiles> files_;
    int64_t active_file_ = 0;                   // 0: none yet
    uint64_t active_committed_ = 0;             // committed end of the active file
    uint64_t active_append_ = 0;                // next write offset (>= committed while a put is in flight)
    std::atomic<uint64_t> file_generation_{0};  // bumped when a segment file is deleted
    std::mutex used_mu_;
    std::unordered_map<int64_t, int64_t> used_;  // snapshot id -> last use (ms), not yet in the index
};

class StoreReader {
public:
    ~StoreReader();
    // The ready snapshot with this key, or nullopt.
    Result<std::optional<SnapshotInfo>> find(const SnapshotKey& key);
    Result<SnapshotInfo> get(int64_t snapshot_id);  // any state
    Result<std::vector<SnapshotInfo>> list();       // every snapshot, any state
    Result<std::vector<ExtentLoc>> extents(int64_t snapshot_id);

    // Reads layers [layer_begin, layer_end) of a ready snapshot into `out` as pages [layer][page], each
    // page_bytes() long (n_pages() pages per layer). Every extent's checksum is checked; on a mismatch the
    // snapshot is marked bad and corrupt_data names it and its document: the caller recomputes.
    // not_found when the snapshot was evicted meanwhile.
    Status read_pages(const SnapshotInfo& s, int layer_begin, int layer_end, AlignedBuffer& out);
    // Whole snapshots at once, so the queue depth spans them: out[i] receives all layers of snaps[i].
    Status read_pages_many(std::span<const SnapshotInfo> snaps, std::span<AlignedBuffer> out);
    // Reads and decodes a whole snapshot to f32.
    Result<DecodedKv> read_kv(const SnapshotInfo& s);

    // Checks one snapshot's extents (read, checksum, decompress) without marking anything; for verify.
    Status check_snapshot(const SnapshotInfo& s, uint64_t* bytes_checked);
    const char* io_kind() const;

private:
    friend class Store;
    StoreReader(Store& store) : store_(store) {}
    struct Job;
    Status run_jobs(std::span<Job> jobs, bool mark_bad);
    Result<int> fd(int64_t file_id);

    Store& store_;
    std::unique_ptr<Db> db_;
    std::unique_ptr<BlockReader> io_;
    // Open segment files. Dropped when a file was deleted since they were opened (so an unlinked file's space
    // is not held) and capped at kMaxFds.
    std::unordered_map<int64_t, int> fds_;
    uint64_t fds_generation_ = 0;
    void close_fds();
};

}  // namespace docket::store

#pragma once
// Plain structs of the snapshot store's API (keys, shapes, rows, options, reports).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "format/kv_codec.h"
#include "util/hash128.h"

namespace docket::store {

// The page vocabulary is format/'s (kv_page.h, kv_codec.h); the store names its two types as they are.
using kv_page::Codec;
using kv_page::CodecParams;

struct IoFaults;

// Model shape as far as the KV is concerned.
struct KvShape {
    int n_layers = 0, n_kv_heads = 0, head_dim = 0;
    bool operator==(const KvShape&) const = default;
};

// A snapshot's identity. A key that differs in any field never matches another.
struct SnapshotKey {
    Hash128 model;  // model_fingerprint() of the GGUF
    CodecParams codec;
    Hash128 prefix;   // hash of the shared prefix (BOS + system prompt) the segment was prefilled after
    Hash128 content;  // hash of the segment's token ids (or text)
};

enum class SnapshotState { writing, ready, bad };
const char* snapshot_state_name(SnapshotState s);

struct ExtentLoc {
    int64_t id = 0;
    int layer_begin = 0, layer_end = 0;  // [begin, end)
    int page_begin = 0, page_end = 0;
    int64_t file_id = 0;
    uint64_t offset = 0, length = 0, raw_length = 0, checksum = 0;
};

struct SnapshotInfo {
    int64_t id = 0;
    SnapshotKey key;
    KvShape shape;
    int64_t n_tokens = 0;
    SnapshotState state = SnapshotState::writing;
    uint64_t bytes = 0;      // on disk (extent lengths)
    uint64_t raw_bytes = 0;  // pages before zstd
    int64_t segment_id = 0;  // 0 when not attached to a document segment
    std::string document;    // the document's path, for messages ("" when unknown)
    int n_pages() const { return kv_page::pages_for_tokens(n_tokens); }
    size_t page_bytes() const {
        return kv_page::page_bytes(key.codec.codec, shape.n_kv_heads, shape.head_dim);
    }
    // "snapshot 7 (document contracts/a.pdf)"
    std::string describe() const;
};

struct StoreOptions {
    uint64_t segment_file_bytes = 1ull << 30;  // a segment file is sealed once it reaches this size
    uint64_t byte_budget = 0;                  // on-disk bytes of ready snapshots; 0 = unlimited
    size_t extent_target_bytes = 1 << 20;      // raw bytes per extent (>= 256 KiB reads)
    size_t write_batch_bytes = 64 << 20;       // payload synced and committed per transaction
    int zstd_level = -1;                       // -1: default_zstd_level(codec) (off); 0: off; 1: zstd 1
    int queue_depth = 64;                      // reads in flight per reader
    int read_check_threads = -1;               // per reader: checksum + copy; <0: min(4, cores)
    bool allow_io_uring = true;                // false: pread pool (tests)
    bool o_direct = true;                      // false, or when the filesystem refuses it: buffered I/O
    double compact_dead_fraction = 0.5;        // enforce_budget() compacts files at least this dead
    IoFaults* faults = nullptr;                // test hook: fail the N-th write/sync
    // false: open only an existing store (index.db present), never create one: not_found otherwise.
    // Commands that inspect a store use false so that a mistyped path is reported, not turned into a store.
    bool create_if_missing = true;
    // true: nothing in the store directory is written, created or locked for writing (inspect, verify):
    // the index is opened read-only, LOCK is taken shared (or not at all when it is missing), no crash
    // recovery runs, and every writing call fails with invalid_argument. Works on a read-only store.
    bool read_only = false;
};

// zstd level per codec, chosen by measurement (tests/bench/RESULTS.md, "KV snapshot store").
int default_zstd_level(Codec c);

// Per layer, keys before RoPE and values: each [n_tokens, n_kv_heads, head_dim] f32, contiguous.
struct LayerKv {
    const float* k = nullptr;
    const float* v = nullptr;
};
using LayerKvFn = std::function<LayerKv(int layer)>;
// Already-encoded pages: the page_bytes() bytes of (layer, page).
using PageFn = std::function<const uint8_t*(int layer, int page)>;

// Decoded KV of a snapshot: per layer k, v as [n_tokens, n_kv_heads, head_dim] f32.
struct DecodedKv {
    KvShape shape;
    int64_t n_tokens = 0;
    std::vector<std::vector<float>> k, v;
};

struct VerifyProblem {
    int64_t snapshot_id = 0;  // 0: not tied to a snapshot (a file problem)
    std::string document;
    std::string message;
};
struct VerifyReport {
    int64_t snapshots = 0, extents = 0, bad_snapshots = 0;
    uint64_t bytes_checked = 0;
    std::vector<VerifyProblem> problems;
    bool ok() const { return problems.empty(); }
};

struct CompactStats {
    int files_compacted = 0, files_deleted = 0;
    int64_t extents_moved = 0;
    uint64_t bytes_moved = 0, bytes_reclaimed = 0;
};

// What `verify --rebuild-index` found in the segment files and did to the index (never deleting anything).
struct RebuildReport {
    int files = 0, files_added = 0;
    int64_t extents_valid = 0, blocks_unreadable = 0;  // 4 KiB blocks that start no intact extent
    int64_t snapshots_kept = 0;                        // already in the index and whole on disk
    int64_t snapshots_repaired = 0;    // in the index, re-pointed at intact extents or made ready again
    int64_t snapshots_recovered = 0;   // rows rebuilt from extent headers
    int64_t snapshots_marked_bad = 0;  // in the index as ready, but not whole on disk
    int64_t snapshots_incomplete = 0;  // some extents intact, not all (left in place as dead bytes)
    std::string moved_index;           // where an unreadable index.db was moved ("" when reused)
};

struct StoreStats {
    int64_t snapshots_ready = 0, snapshots_bad = 0, extents = 0, files = 0;
    uint64_t file_bytes = 0, live_bytes = 0, raw_bytes = 0;
    uint64_t dead_bytes() const { return file_bytes - live_bytes; }
};

}  // namespace docket::store

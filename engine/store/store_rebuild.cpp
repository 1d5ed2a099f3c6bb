// `verify --rebuild-index`: the index rows of every intact snapshot, rebuilt from the extent headers in the
// segment files. Nothing is deleted: a readable index is repaired in place, an unreadable one renamed aside.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <vector>

#include "store/extent_format.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "store/store_damage.h"
#include "store/store_rows.h"
#include "store/store_schema.h"
#include "util/log.h"

namespace docket::store {

namespace {

// One intact extent found on disk (checksum and header consistent).
struct Found {
    ExtentLoc loc;
    ExtentHeader h;
};

// What the index said about a snapshot before the rebuild.
struct OldSnapshot {
    SnapshotInfo info;
    std::set<std::tuple<int64_t, uint64_t, uint64_t>> extents;  // (file, offset, checksum)
};

struct Scan {
    std::map<int64_t, uint64_t> file_size;               // every segment file on disk
    std::map<uint64_t, std::vector<Found>> by_snapshot;  // snapshot id (from the headers) -> extents
    uint64_t max_snapshot_id = 0;
};

// Every 4 KiB boundary of the file that starts an intact extent; extents are skipped whole, anything else
// one block at a time (so a damaged extent costs only itself).
Status scan_file(const std::string& path, int64_t file_id, Scan& scan, RebuildReport& rep) {
    const int fd = open_segment_for_read(path, false);
    if (fd < 0) return make_error(ErrorCode::io_error, "open {}: {}", path, std::strerror(-fd));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0)
        return make_error(ErrorCode::io_error, "stat {}: {}", path, std::strerror(errno));
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    scan.file_size[file_id] = size;
    AlignedBuffer buf;
    for (uint64_t off = 0; off + kIoAlign <= size;) {
        DK_ASSIGN_OR_RETURN(auto h, read_extent_header(fd, off, path));
        if (h && h->extent_length <= size - off && h->extent_length <= (uint64_t{1} << 31) &&
            buf.resize(h->extent_length)) {
            uint64_t got = 0;
            while (got < h->extent_length) {
                ssize_t n =
                    ::pread(fd, buf.data() + got, h->extent_length - got, static_cast<off_t>(off + got));
                if (n < 0 && errno == EINTR) continue;
                if (n < 0)
                    return make_error(ErrorCode::io_error, "read {} at {}: {}", path, off + got,
                                      std::strerror(errno));
                if (n == 0) break;
                got += static_cast<uint64_t>(n);
            }
            const std::string where = fmt::format("{} offset {}", path, off);
            if (got == h->extent_length && check_extent(buf.data(), got, expect_from_header(*h), where)) {
                ExtentLoc e{0,
                            h->layer_begin,
                            h->layer_begin + h->layer_count,
                            static_cast<int>(h->page_begin),
                            static_cast<int>(h->page_begin + h->page_count),
                            file_id,
                            off,
                            h->extent_length,
                            h->raw_length,
                            h->checksum};
                scan.by_snapshot[h->snapshot_id].push_back({e, *h});
                scan.max_snapshot_id = std::max(scan.max_snapshot_id, h->snapshot_id);
                ++rep.extents_valid;
                off += h->extent_length;
                continue;
            }
        }
        ++rep.blocks_unreadable;
        off += kIoAlign;
    }
    return Status::ok();
}

bool all_zero(const uint8_t* b, size_t n) {
    return std::all_of(b, b + n, [](uint8_t x) { return x == 0; });
}

// The snapshot a set of found extents makes, when they agree on it and tile it exactly; nullopt otherwise.
// `old` supplies what headers written before the key was recorded lack (n_layers, the key).
std::optional<std::pair<SnapshotInfo, std::vector<ExtentLoc>>> assemble(uint64_t id, std::vector<Found> found,
                                                                        const OldSnapshot* old) {
    const ExtentHeader& h0 = found[0].h;
    SnapshotInfo s;
    s.id = static_cast<int64_t>(id);
    s.state = SnapshotState::ready;
    s.n_tokens = h0.n_tokens;
    s.shape = {h0.n_layers, h0.n_kv_heads, h0.head_dim};
    const bool key_recorded = !all_zero(h0.model_fp, 48);
    if (key_recorded) {
        s.key.model = Hash128::from_bytes(h0.model_fp);
        s.key.prefix = Hash128::from_bytes(h0.prefix_hash);
        s.key.content = Hash128::from_bytes(h0.content_hash);
    }
    s.key.codec = default_codec_params(static_cast<Codec>(h0.codec), h0.head_dim);
    if (old) {  // the index's key and layer count where the header has none
        if (!key_recorded) s.key = old->info.key;
        if (s.shape.n_layers == 0) s.shape.n_layers = old->info.shape.n_layers;
        s.segment_id = old->info.segment_id;
    }
    if (s.shape.n_layers <= 0 || (!key_recorded && !old) || s.n_tokens == 0) return std::nullopt;
    for (const Found& f : found) {
        const ExtentHeader& h = f.h;
        if (h.codec != h0.codec || h.n_kv_heads != h0.n_kv_heads || h.head_dim != h0.head_dim ||
            h.n_tokens != h0.n_tokens || h.n_layers != h0.n_layers ||
            std::memcmp(h.model_fp, h0.model_fp, 48) != 0)
            return std::nullopt;
    }
    // One copy per extent (compaction leaves copies): the one the index points at, else the newest.
    std::map<std::tuple<int, int, int, int>, ExtentLoc> pick;
    for (const Found& f : found) {
        const ExtentLoc& e = f.loc;
        auto k = std::make_tuple(e.layer_begin, e.layer_end, e.page_begin, e.page_end);
        const bool indexed = old && old->extents.count({e.file_id, e.offset, e.checksum});
        auto it = pick.find(k);
        if (it == pick.end() || indexed) {
            pick[k] = e;
        } else if (!(old &&
                     old->extents.count({it->second.file_id, it->second.offset, it->second.checksum})) &&
                   std::tie(e.file_id, e.offset) > std::tie(it->second.file_id, it->second.offset)) {
            it->second = e;
        }
    }
    const int n_pages = s.n_pages();
    const uint64_t cells = uint64_t(s.shape.n_layers) * n_pages;
    if (cells > (uint64_t{1} << 26)) return std::nullopt;
    std::vector<bool> covered(cells);
    std::vector<ExtentLoc> ext;
    for (const auto& [k, e] : pick) {
        if (e.layer_end > s.shape.n_layers || e.page_end > n_pages) return std::nullopt;
        for (int l = e.layer_begin; l < e.layer_end; ++l)
            for (int p = e.page_begin; p < e.page_end; ++p) {
                if (covered[uint64_t(l) * n_pages + p]) return std::nullopt;  // overlapping tilings
                covered[uint64_t(l) * n_pages + p] = true;
            }
        s.bytes += e.length;
        s.raw_bytes += e.raw_length;
        ext.push_back(e);
    }
    if (!std::all_of(covered.begin(), covered.end(), [](bool b) { return b; })) return std::nullopt;
    return std::make_pair(s, ext);
}

bool same_snapshot(const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.key.model == b.key.model && a.key.prefix == b.key.prefix && a.key.content == b.key.content &&
           a.key.codec.codec == b.key.codec.codec && a.shape == b.shape && a.n_tokens == b.n_tokens;
}

Result<std::map<int64_t, OldSnapshot>> load_old_snapshots(Db& db) {
    std::map<int64_t, OldSnapshot> old;
    DK_ASSIGN_OR_RETURN(auto q, db.prepare(std::string(kSnapshotSelect) + "ORDER BY s.id"));
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        OldSnapshot o;
        o.info = snapshot_from_row(q);
        old[o.info.id] = std::move(o);
    }
    DK_ASSIGN_OR_RETURN(auto e, db.prepare("SELECT snapshot_id, file_id, offset, checksum FROM extents"));
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, e.step());
        if (!row) break;
        if (auto it = old.find(e.col_int(0)); it != old.end())
            it->second.extents.insert(
                {e.col_int(1), static_cast<uint64_t>(e.col_int(2)), static_cast<uint64_t>(e.col_int(3))});
    }
    return old;
}

// Renames index.db and its -wal/-shm aside (a stale log must never be applied to the new index).
Result<std::string> move_index_aside(const std::string& index) {
    std::string base = fmt::format("{}.damaged-{}", index, static_cast<long long>(std::time(nullptr)));
    std::string target = base;
    struct stat st;
    for (int n = 1; ::lstat(target.c_str(), &st) == 0; ++n) target = fmt::format("{}.{}", base, n);
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string from = index + suffix, to = target + suffix;
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
            return make_error(ErrorCode::io_error, "rename {} to {}: {}", from, to, std::strerror(errno));
    }
    return target;
}

// The index as it is, when SQLite reads it whole and it is ours; nullptr when it must be replaced.
Result<std::unique_ptr<Db>> usable_index(const std::string& index) {
    auto db = Db::open(index, false);
    if (!db) return std::unique_ptr<Db>();
    auto kind = classify_index(**db);
    if (!kind) return std::unique_ptr<Db>();
    if (*kind == IndexKind::foreign) return foreign_index_error(index);
    if (*kind == IndexKind::empty) return std::unique_ptr<Db>();
    auto check = (*db)->prepare("PRAGMA quick_check");
    if (!check) return std::unique_ptr<Db>();
    auto row = check->step();
    if (!row || !*row || check->col_text(0) != "ok") return std::unique_ptr<Db>();
    if (!load_old_snapshots(**db)) return std::unique_ptr<Db>();
    return std::move(*db);
}

}  // namespace

Result<RebuildReport> Store::rebuild_index(const std::string& dir, const StoreOptions& opt) {
    std::unique_ptr<Store> s(new Store());
    s->dir_ = dir;
    s->seg_dir_ = dir + "/segments";
    s->opt_ = opt;
    s->opt_.read_only = false;
    struct stat st;
    const std::string index = dir + "/index.db";
    const bool index_exists = ::lstat(index.c_str(), &st) == 0;
    if (index_exists) DK_TRY(refuse_foreign_index(index));
    if (::stat(s->seg_dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(ErrorCode::not_found, "no Docket store at {} (no segments/ directory)", dir);
    DK_TRY(s->lock_store());
    RebuildReport rep;
    if (index_exists) {
        DK_ASSIGN_OR_RETURN(s->db_, usable_index(index));
        if (!s->db_) {
            DK_ASSIGN_OR_RETURN(rep.moved_index, move_index_aside(index));
            DK_LOG_WARN("{}: the index is unreadable; moved it to {} and building a new one", dir,
                        rep.moved_index);
        }
    }
    if (!s->db_) {
        DK_TRY(create_index_file(index));
        DK_ASSIGN_OR_RETURN(s->db_, Db::open(index, false));
    }
    Db& db = *s->db_;
    DK_TRY(db.use_wal());
    DK_TRY(migrate(db));
    DK_TRY(make_owner_only(index));
    s->files_ = std::make_unique<SegmentFiles>(s->seg_dir_, opt.o_direct, opt.faults);

    DK_ASSIGN_OR_RETURN(const int64_t snap_seq, sequence_of(db, "snapshots"));
    DK_ASSIGN_OR_RETURN(auto old, load_old_snapshots(db));
    Scan scan;
    DK_ASSIGN_OR_RETURN(auto on_disk, list_segment_files(s->seg_dir_));
    for (int64_t id : on_disk) DK_TRY(scan_file(s->files_->path(id), id, scan, rep));
    rep.files = static_cast<int>(on_disk.size());

    Transaction tx(db);
    DK_TRY(tx.begin());
    DK_TRY(db.exec("PRAGMA defer_foreign_keys = ON"));       // extent rows go in before their files' rows
    std::set<int64_t> whole;                                 // snapshots ready after the rebuild
    std::set<std::tuple<int64_t, uint64_t>> used_locations;  // (file, offset) of their extents
    DK_ASSIGN_OR_RETURN(auto del_ext, db.prepare("DELETE FROM extents WHERE snapshot_id = ?"));
    DK_ASSIGN_OR_RETURN(auto ins_ext, db.prepare(kExtentInsert));
    // The headers' key and shape win over the row's: they are checksummed, the row may be what was damaged.
    DK_ASSIGN_OR_RETURN(auto fix,
                        db.prepare("UPDATE snapshots SET state = 'ready', error = NULL, model_fp = ?1, "
                                   "codec = ?2, codec_params = ?3, prefix_hash = ?4, content_hash = ?5, "
                                   "n_layers = ?6, n_kv_heads = ?7, head_dim = ?8, n_tokens = ?9, "
                                   "bytes = ?10, raw_bytes = ?11 WHERE id = ?12"));
    DK_ASSIGN_OR_RETURN(auto same_key,
                        db.prepare("SELECT id FROM snapshots WHERE model_fp = ? AND codec = ? AND "
                                   "codec_params = ? AND prefix_hash = ? AND content_hash = ?"));
    DK_ASSIGN_OR_RETURN(auto ins_snap,
                        db.prepare("INSERT INTO snapshots(model_fp, codec, codec_params, "
                                   "prefix_hash, content_hash, n_layers, n_kv_heads, head_dim, "
                                   "n_tokens, bytes, raw_bytes, id, created_at, last_used, state) "
                                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                   "?13, 'ready')"));
    // Newest first: when two snapshots on disk share a key (a bad one replaced), the newer one is kept.
    for (auto it = scan.by_snapshot.rbegin(); it != scan.by_snapshot.rend(); ++it) {
        const int64_t id = static_cast<int64_t>(it->first);
        auto o = old.find(id);
        const OldSnapshot* prev = o == old.end() ? nullptr : &o->second;
        // A snapshot the index deleted itself (evicted, replaced, dropped) stays dead: only ids newer than
        // the index's own counter were lost with it.
        if (!prev && id <= snap_seq) continue;
        auto made = assemble(it->first, it->second, prev);
        if (!made) {
            ++rep.snapshots_incomplete;
            continue;
        }
        const auto& [info, ext] = *made;
        // A key names one snapshot: a newer whole snapshot with it wins, an older row with it gives way.
        same_key.reset();
        DK_TRY(bind_key(same_key, 1, info.key));
        DK_ASSIGN_OR_RETURN(bool taken, same_key.step());
        if (taken && same_key.col_int(0) != id) {
            const int64_t other = same_key.col_int(0);
            if (whole.count(other)) continue;
            DK_TRY(s->remove_locked(other));
            old.erase(other);
        }
        if (prev && prev->info.state == SnapshotState::ready && same_snapshot(prev->info, info) &&
            prev->extents.size() == ext.size() &&
            std::all_of(ext.begin(), ext.end(), [&](const ExtentLoc& e) {
                return prev->extents.count({e.file_id, e.offset, e.checksum}) > 0;
            })) {
            ++rep.snapshots_kept;
            whole.insert(id);
            continue;
        }
        Stmt& row = prev ? fix : ins_snap;
        row.reset();
        DK_TRY(bind_key(row, 1, info.key));
        row.bind(6, info.shape.n_layers)
            .bind(7, info.shape.n_kv_heads)
            .bind(8, info.shape.head_dim)
            .bind(9, info.n_tokens)
            .bind(10, info.bytes)
            .bind(11, info.raw_bytes)
            .bind(12, id);
        if (!prev) row.bind(13, now_ms());
        DK_TRY(row.exec());
        ++(prev ? rep.snapshots_repaired : rep.snapshots_recovered);
        del_ext.reset();
        DK_TRY(del_ext.bind(1, id).exec());
        for (const ExtentLoc& e : ext) {
            ins_ext.reset();
            DK_TRY(bind_extent(ins_ext, id, e).exec());
            used_locations.insert({e.file_id, e.offset});
        }
        whole.insert(id);
    }
    // Ready in the index but not whole on disk: not served any more, recomputed on next use.
    DK_ASSIGN_OR_RETURN(auto bad, db.prepare("UPDATE snapshots SET state = 'bad', error = 'rebuild-index: "
                                             "extents missing or damaged' WHERE id = ?"));
    for (const auto& [id, o] : old) {
        if (o.info.state != SnapshotState::ready || whole.count(id)) continue;
        bad.reset();
        DK_TRY(bad.bind(1, id).exec());
        ++rep.snapshots_marked_bad;
    }
    DK_TRY(s->rebuild_file_rows_locked(scan.file_size, used_locations, rep));
    // Ids on disk are never handed out again, whatever the old counters said.
    DK_TRY(
        db.exec("INSERT INTO sqlite_sequence(name, seq) SELECT 'snapshots', 0 WHERE NOT EXISTS "
                "(SELECT 1 FROM sqlite_sequence WHERE name = 'snapshots')"));
    DK_ASSIGN_OR_RETURN(auto seq,
                        db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'snapshots'"));
    DK_TRY(seq.bind(1, static_cast<int64_t>(scan.max_snapshot_id)).exec());
    DK_TRY(tx.commit());
    DK_LOG_INFO("{}: rebuilt the index: {} kept, {} repaired, {} recovered, {} marked bad, {} incomplete",
                dir, rep.snapshots_kept, rep.snapshots_repaired, rep.snapshots_recovered,
                rep.snapshots_marked_bad, rep.snapshots_incomplete);
    return rep;
}

Status Store::rebuild_file_rows_locked(const std::map<int64_t, uint64_t>& file_size,
                                       const std::set<std::tuple<int64_t, uint64_t>>& used,
                                       RebuildReport& rep) {
    Db& db = *db_;
    // Every byte up to the last 4 KiB boundary is committed (live or dead): recovery truncates nothing of it.
    DK_ASSIGN_OR_RETURN(auto add, db.prepare("INSERT INTO files(id, name, committed_bytes, state) "
                                             "VALUES(?, ?, ?, 'sealed') ON CONFLICT(id) DO UPDATE SET "
                                             "committed_bytes = excluded.committed_bytes"));
    DK_ASSIGN_OR_RETURN(auto known,
                        db.prepare("SELECT state, (SELECT count(*) FROM compactions WHERE file_id = "
                                   "?1) FROM files WHERE id = ?1"));
    DK_ASSIGN_OR_RETURN(auto unretire, db.prepare("UPDATE files SET state = 'sealed' WHERE id = ?"));
    DK_ASSIGN_OR_RETURN(auto forget, db.prepare("DELETE FROM compactions WHERE file_id = ?"));
    for (const auto& [id, size] : file_size) {
        known.reset();
        known.bind(1, id);
        DK_ASSIGN_OR_RETURN(bool row, known.step());
        const std::string state = row ? known.col_text(0) : "";
        const bool recorded = row && known.col_int(1) > 0;
        if (!row) ++rep.files_added;
        add.reset();
        DK_TRY(add.bind(1, id).bind(2, segment_file_name(id)).bind(3, size / kIoAlign * kIoAlign).exec());
        // A retired file stays retired only on its compaction record and when no rebuilt extent is in it.
        const auto first = used.lower_bound({id, 0});
        const bool holds = first != used.end() && std::get<0>(*first) == id;
        if (state == "retired" && (!recorded || holds)) {
            unretire.reset();
            DK_TRY(unretire.bind(1, id).exec());
            forget.reset();
            DK_TRY(forget.bind(1, id).exec());
        }
    }
    return Status::ok();
}

}  // namespace docket::store

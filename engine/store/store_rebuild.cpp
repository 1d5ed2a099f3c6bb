// `verify --rebuild-index`: the index rows of every intact snapshot, rebuilt from the extent headers in the
// segment files. Nothing is deleted: a readable index is repaired in place, an unreadable one renamed aside.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
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
#include "util/fd_guard.h"

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
    FdGuard closer(fd);
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

// The row changes of one rebuild, in the caller's transaction.
class Rebuilder {
public:
    Rebuilder(Db& db, std::map<int64_t, OldSnapshot> old, int64_t snap_seq, RebuildReport& rep,
              std::function<Status(int64_t)> remove_snapshot)
        : db_(db),
          old_(std::move(old)),
          snap_seq_(snap_seq),
          rep_(rep),
          remove_(std::move(remove_snapshot)) {}

    Status run(const Scan& scan) {
        DK_TRY(prepare());
        // Newest first: when two snapshots on disk share a key (a bad one replaced), the newer one is kept.
        for (auto it = scan.by_snapshot.rbegin(); it != scan.by_snapshot.rend(); ++it)
            DK_TRY(place(static_cast<int64_t>(it->first), it->second));
        DK_TRY(mark_unwhole_bad());
        DK_TRY(file_rows(scan.file_size));
        return raise_counter(scan.max_snapshot_id);
    }

private:
    Status prepare() {
        DK_ASSIGN_OR_RETURN(del_ext_, db_.prepare("DELETE FROM extents WHERE snapshot_id = ?"));
        DK_ASSIGN_OR_RETURN(ins_ext_, db_.prepare(kExtentInsert));
        // The headers' key and shape win over the row's: they are checksummed, the row may be what was
        // damaged.
        DK_ASSIGN_OR_RETURN(fix_,
                            db_.prepare("UPDATE snapshots SET state = 'ready', error = NULL, model_fp = ?1, "
                                        "codec = ?2, codec_params = ?3, prefix_hash = ?4, content_hash = ?5, "
                                        "n_layers = ?6, n_kv_heads = ?7, head_dim = ?8, n_tokens = ?9, "
                                        "bytes = ?10, raw_bytes = ?11 WHERE id = ?12"));
        DK_ASSIGN_OR_RETURN(same_key_,
                            db_.prepare("SELECT id FROM snapshots WHERE model_fp = ? AND codec = ? AND "
                                        "codec_params = ? AND prefix_hash = ? AND content_hash = ?"));
        DK_ASSIGN_OR_RETURN(ins_snap_,
                            db_.prepare("INSERT INTO snapshots(model_fp, codec, codec_params, prefix_hash, "
                                        "content_hash, n_layers, n_kv_heads, head_dim, n_tokens, bytes, "
                                        "raw_bytes, id, created_at, last_used, state) VALUES(?1, ?2, ?3, ?4, "
                                        "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 'ready')"));
        return Status::ok();
    }

    // Makes snapshot `id` ready on the extents found for it, when they make it whole.
    Status place(int64_t id, const std::vector<Found>& found) {
        auto o = old_.find(id);
        const OldSnapshot* prev = o == old_.end() ? nullptr : &o->second;
        // A snapshot the index deleted itself (evicted, replaced, dropped) stays dead: only ids newer than
        // the index's own counter were lost with it.
        if (!prev && id <= snap_seq_) return Status::ok();
        auto made = assemble(static_cast<uint64_t>(id), found, prev);
        if (!made) {
            ++rep_.snapshots_incomplete;
            return Status::ok();
        }
        const auto& [info, ext] = *made;
        // A key names one snapshot: a newer whole snapshot with it wins, an older row with it gives way.
        same_key_.reset();
        DK_TRY(bind_key(same_key_, 1, info.key));
        DK_ASSIGN_OR_RETURN(bool taken, same_key_.step());
        if (taken && same_key_.col_int(0) != id) {
            const int64_t other = same_key_.col_int(0);
            if (whole_.count(other)) return Status::ok();
            DK_TRY(remove_(other));
            old_.erase(other);
        }
        whole_.insert(id);
        for (const ExtentLoc& e : ext) used_.insert({e.file_id, e.offset});
        if (prev && prev->info.state == SnapshotState::ready && same_snapshot(prev->info, info) &&
            prev->extents.size() == ext.size() &&
            std::all_of(ext.begin(), ext.end(), [&](const ExtentLoc& e) {
                return prev->extents.count({e.file_id, e.offset, e.checksum}) > 0;
            })) {
            ++rep_.snapshots_kept;
            return Status::ok();
        }
        Stmt& row = prev ? fix_ : ins_snap_;
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
        ++(prev ? rep_.snapshots_repaired : rep_.snapshots_recovered);
        del_ext_.reset();
        DK_TRY(del_ext_.bind(1, id).exec());
        for (const ExtentLoc& e : ext) {
            ins_ext_.reset();
            DK_TRY(bind_extent(ins_ext_, id, e).exec());
        }
        return Status::ok();
    }

    // Ready in the index but not whole on disk: not served any more, recomputed on next use.
    Status mark_unwhole_bad() {
        DK_ASSIGN_OR_RETURN(auto bad,
                            db_.prepare("UPDATE snapshots SET state = 'bad', error = 'rebuild-index: "
                                        "extents missing or damaged' WHERE id = ?"));
        for (const auto& [id, o] : old_) {
            if (o.info.state != SnapshotState::ready || whole_.count(id)) continue;
            bad.reset();
            DK_TRY(bad.bind(1, id).exec());
            ++rep_.snapshots_marked_bad;
        }
        return Status::ok();
    }

    // A row for every segment file on disk, committed up to its last 4 KiB boundary (live or dead bytes:
    // recovery truncates nothing of it). A retired file stays retired only on its compaction record and
    // when no rebuilt extent is in it.
    Status file_rows(const std::map<int64_t, uint64_t>& file_size) {
        DK_ASSIGN_OR_RETURN(auto add, db_.prepare("INSERT INTO files(id, name, committed_bytes, state) "
                                                  "VALUES(?, ?, ?, 'sealed') ON CONFLICT(id) DO UPDATE SET "
                                                  "committed_bytes = excluded.committed_bytes"));
        DK_ASSIGN_OR_RETURN(auto known, db_.prepare("SELECT state, (SELECT count(*) FROM compactions WHERE "
                                                    "file_id = ?1) FROM files WHERE id = ?1"));
        DK_ASSIGN_OR_RETURN(auto unretire, db_.prepare("UPDATE files SET state = 'sealed' WHERE id = ?"));
        DK_ASSIGN_OR_RETURN(auto forget, db_.prepare("DELETE FROM compactions WHERE file_id = ?"));
        for (const auto& [id, size] : file_size) {
            known.reset();
            known.bind(1, id);
            DK_ASSIGN_OR_RETURN(bool row, known.step());
            const std::string state = row ? known.col_text(0) : "";
            const bool recorded = row && known.col_int(1) > 0;
            if (!row) ++rep_.files_added;
            add.reset();
            DK_TRY(add.bind(1, id).bind(2, segment_file_name(id)).bind(3, size / kIoAlign * kIoAlign).exec());
            const auto first = used_.lower_bound({id, 0});
            const bool holds = first != used_.end() && std::get<0>(*first) == id;
            if (state == "retired" && (!recorded || holds)) {
                unretire.reset();
                DK_TRY(unretire.bind(1, id).exec());
                forget.reset();
                DK_TRY(forget.bind(1, id).exec());
            }
        }
        return Status::ok();
    }

    // Ids on disk are never handed out again, whatever the old counter said (file ids follow the inserted
    // rows already).
    Status raise_counter(uint64_t max_snapshot_id) {
        DK_TRY(
            db_.exec("INSERT INTO sqlite_sequence(name, seq) SELECT 'snapshots', 0 WHERE NOT EXISTS "
                     "(SELECT 1 FROM sqlite_sequence WHERE name = 'snapshots')"));
        DK_ASSIGN_OR_RETURN(
            auto seq, db_.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'snapshots'"));
        return seq.bind(1, static_cast<int64_t>(max_snapshot_id)).exec();
    }

    Db& db_;
    std::map<int64_t, OldSnapshot> old_;
    const int64_t snap_seq_;
    RebuildReport& rep_;
    std::function<Status(int64_t)> remove_;
    Stmt del_ext_, ins_ext_, fix_, same_key_, ins_snap_;
    std::set<int64_t> whole_;                       // snapshots ready after the rebuild
    std::set<std::tuple<int64_t, uint64_t>> used_;  // (file, offset) of their extents
};

}  // namespace

Result<RebuildReport> Store::rebuild_index(const std::string& dir, const StoreOptions& opt) {
    RebuildReport rep;
    DK_ASSIGN_OR_RETURN(auto s, open_for_rebuild(dir, opt, rep));
    Db& db = *s->db_;
    DK_ASSIGN_OR_RETURN(const int64_t snap_seq, sequence_of(db, "snapshots"));
    DK_ASSIGN_OR_RETURN(auto old, load_old_snapshots(db));
    Scan scan;
    DK_ASSIGN_OR_RETURN(auto on_disk, list_segment_files(s->seg_dir_));
    for (int64_t id : on_disk) DK_TRY(scan_file(s->files_->path(id), id, scan, rep));
    rep.files = static_cast<int>(on_disk.size());

    Transaction tx(db);
    DK_TRY(tx.begin());
    DK_TRY(db.exec("PRAGMA defer_foreign_keys = ON"));  // extent rows go in before their files' rows
    Rebuilder rebuilder(db, std::move(old), snap_seq, rep, [&](int64_t id) { return s->remove_locked(id); });
    DK_TRY(rebuilder.run(scan));
    DK_TRY(tx.commit());
    DK_LOG_INFO("{}: rebuilt the index: {} kept, {} repaired, {} recovered, {} marked bad, {} incomplete",
                dir, rep.snapshots_kept, rep.snapshots_repaired, rep.snapshots_recovered,
                rep.snapshots_marked_bad, rep.snapshots_incomplete);
    return rep;
}

Result<std::unique_ptr<Store>> Store::open_for_rebuild(const std::string& dir, const StoreOptions& opt,
                                                       RebuildReport& rep) {
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
    DK_TRY(s->db_->use_wal());
    DK_TRY(migrate(*s->db_));
    DK_TRY(make_owner_only(index));
    s->files_ = std::make_unique<SegmentFiles>(s->seg_dir_, opt.o_direct, opt.faults);
    return s;
}

}  // namespace docket::store

// Store maintenance: LRU eviction under the byte budget, crash-safe compaction of dead extents, verify.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "store/extent_format.h"
#include "store/fault_injection.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "store/store_rows.h"
#include "util/log.h"
#include "util/fd_guard.h"

namespace docket::store {

Result<int64_t> Store::enforce_budget() {
    DK_TRY(writable("enforce_budget"));
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(int64_t evicted, evict_locked());
    if (evicted > 0) {
        DK_ASSIGN_OR_RETURN(auto cs, compact_locked(opt_.compact_dead_fraction));
        (void)cs;
    }
    return evicted;
}

Result<int64_t> Store::evict_locked() {
    if (opt_.byte_budget == 0) return int64_t{0};
    DK_TRY(flush_used_locked());
    DK_ASSIGN_OR_RETURN(auto total_q, db_->prepare("SELECT coalesce(sum(bytes), 0) FROM snapshots"));
    DK_ASSIGN_OR_RETURN(bool row, total_q.step());
    uint64_t total = row ? static_cast<uint64_t>(total_q.col_int(0)) : 0;
    if (total <= opt_.byte_budget) return int64_t{0};
    // Bad snapshots first (useless), then least recently used; snapshots are recomputable, so eviction is
    // only a cost. One transaction: the rows go together.
    DK_ASSIGN_OR_RETURN(auto q,
                        db_->prepare("SELECT id, bytes FROM snapshots WHERE state IN ('ready', 'bad') "
                                     "ORDER BY state = 'ready', last_used, id"));
    std::vector<int64_t> victims;
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool r, q.step());
        if (!r || total <= opt_.byte_budget) break;
        victims.push_back(q.col_int(0));
        total -= std::min<uint64_t>(total, static_cast<uint64_t>(q.col_int(1)));
    }
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    for (int64_t id : victims) DK_TRY(remove_locked(id));
    DK_TRY(tx.commit());
    DK_LOG_INFO("{}: evicted {} snapshot(s) to fit the budget of {} bytes", dir_, victims.size(),
                opt_.byte_budget);
    return static_cast<int64_t>(victims.size());
}

Result<CompactStats> Store::compact(double min_dead_fraction) {
    DK_TRY(writable("compact"));
    std::lock_guard lock(mu_);
    return compact_locked(min_dead_fraction);
}

Result<CompactStats> Store::compact_locked(double min_dead_fraction) {
    CompactStats stats;
    struct Candidate {
        int64_t id;
        uint64_t committed, live;
    };
    std::vector<Candidate> cands;
    {
        // The active file is left alone: its dead space is reclaimed once it is sealed.
        DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT f.id, f.committed_bytes, coalesce((SELECT "
                                                 "sum(length) FROM extents e WHERE e.file_id = f.id), 0) "
                                                 "FROM files f WHERE f.state = 'sealed' ORDER BY f.id"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, q.step());
            if (!row) break;
            Candidate c{q.col_int(0), static_cast<uint64_t>(q.col_int(1)),
                        static_cast<uint64_t>(q.col_int(2))};
            const uint64_t dead = c.committed - std::min(c.committed, c.live);
            if (c.live == 0 || (c.committed > 0 && double(dead) / double(c.committed) >= min_dead_fraction))
                cands.push_back(c);
        }
    }
    AlignedBuffer buf;
    for (const Candidate& c : cands) {
        struct Move {
            int64_t extent_id, snapshot_id;
            uint64_t offset, length, checksum;
            int64_t new_file = 0;
            uint64_t new_offset = 0;
        };
        std::vector<Move> moves;
        {
            DK_ASSIGN_OR_RETURN(auto q,
                                db_->prepare("SELECT id, snapshot_id, offset, length, checksum FROM extents "
                                             "WHERE file_id = ? ORDER BY offset"));
            q.bind(1, c.id);
            for (;;) {
                DK_ASSIGN_OR_RETURN(bool row, q.step());
                if (!row) break;
                moves.push_back({q.col_int(0), q.col_int(1), static_cast<uint64_t>(q.col_int(2)),
                                 static_cast<uint64_t>(q.col_int(3)), static_cast<uint64_t>(q.col_int(4))});
            }
        }
        // Copy live extents verbatim (their headers name the snapshot, not the file) past the active file's
        // committed end. Corruption (a checksum mismatch, or an extent past the end of the file) drops that
        // snapshot; a read error aborts the compaction with nothing deleted (it may be transient).
        std::vector<int64_t> bad_snapshots;
        Status st = [&]() -> Status {
            const std::string src = files_->path(c.id);
            int fd = open_segment_for_read(src, opt_.o_direct);
            if (fd < 0) return make_error(ErrorCode::io_error, "open {}: {}", src, std::strerror(-fd));
            FdGuard closer(fd);
            for (Move& m : moves) {
                if (!buf.resize(m.length)) return make_error(ErrorCode::out_of_memory, "{} bytes", m.length);
                uint64_t got = 0;
                while (got < m.length) {
                    ssize_t n = -1;
                    if (int fe = opt_.faults ? opt_.faults->on_read() : 0)
                        errno = fe;
                    else
                        n = ::pread(fd, buf.data() + got, m.length - got, static_cast<off_t>(m.offset + got));
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0)
                        return make_error(ErrorCode::io_error, "read {} bytes at {} of {}: {}", m.length,
                                          m.offset + got, src, std::strerror(errno));
                    if (n == 0) break;  // end of file: the extent is not all there
                    got += static_cast<uint64_t>(n);
                }
                if (got != m.length || extent_checksum(buf.data(), m.length) != m.checksum) {
                    DK_LOG_ERROR(
                        "{}: extent {} of snapshot {} at {} of {} is corrupt ({}); dropping the snapshot",
                        dir_, m.extent_id, m.snapshot_id, m.offset, src,
                        got != m.length ? "past the end of the file" : "checksum mismatch");
                    bad_snapshots.push_back(m.snapshot_id);
                    m.new_file = -1;
                    continue;
                }
                DK_TRY(ensure_active_file_locked(m.length));
                DK_TRY(files_->write(active_file_, active_append_, buf.data(), m.length));
                m.new_file = active_file_;
                m.new_offset = active_append_;
                active_append_ += m.length;
            }
            if (active_file_ != 0) DK_TRY(files_->sync(active_file_));
            crash_point(crash::kCompactAfterCopy);
            Transaction tx(*db_);
            DK_TRY(tx.begin());
            DK_ASSIGN_OR_RETURN(auto up,
                                db_->prepare("UPDATE extents SET file_id = ?, offset = ? WHERE id = ?"));
            DK_ASSIGN_OR_RETURN(auto fend,
                                db_->prepare("UPDATE files SET committed_bytes = max(committed_bytes, ?) "
                                             "WHERE id = ?"));
            for (const Move& m : moves) {
                if (m.new_file <= 0) continue;
                up.reset();
                DK_TRY(up.bind(1, m.new_file).bind(2, m.new_offset).bind(3, m.extent_id).exec());
                fend.reset();
                DK_TRY(fend.bind(1, m.new_offset + m.length).bind(2, m.new_file).exec());
            }
            for (int64_t id : bad_snapshots) DK_TRY(remove_locked(id));
            DK_ASSIGN_OR_RETURN(auto retire, db_->prepare("UPDATE files SET state = 'retired' WHERE id = ?"));
            DK_TRY(retire.bind(1, c.id).exec());
            // The record that lets the file be deleted, committed with the moves it stands for.
            DK_ASSIGN_OR_RETURN(auto journal, db_->prepare("INSERT OR REPLACE INTO compactions(file_id, "
                                                           "committed_bytes, extents_moved, finished_at) "
                                                           "VALUES(?, ?, ?, ?)"));
            int64_t moved = 0;
            for (const Move& m : moves) moved += m.new_file > 0;
            DK_TRY(journal.bind(1, c.id).bind(2, c.committed).bind(3, moved).bind(4, now_ms()).exec());
            DK_TRY(tx.commit());
            active_committed_ = active_append_;
            return Status::ok();
        }();
        if (!st) {
            if (Status t = rollback_tail_locked(); !t) DK_LOG_WARN("{}: {}", dir_, t.to_string());
            return st.with_context("compacting " + files_->path(c.id));
        }
        crash_point(crash::kCompactAfterCommit);
        // Rows have left the file; now it can go (recovery finishes this if we die here).
        DK_TRY(finish_retirement_locked(c.id));
        for (const Move& m : moves)
            if (m.new_file > 0) {
                ++stats.extents_moved;
                stats.bytes_moved += m.length;
            }
        if (!bad_snapshots.empty())
            DK_LOG_ERROR("{}: compaction dropped {} snapshot(s) whose extents failed their checksum", dir_,
                         bad_snapshots.size());
        ++stats.files_compacted;
        ++stats.files_deleted;
        stats.bytes_reclaimed += c.committed - std::min(c.committed, c.live);
    }
    if (!cands.empty())
        DK_LOG_INFO("{}: compacted {} file(s), moved {} extents ({} bytes), reclaimed {} bytes", dir_,
                    stats.files_compacted, stats.extents_moved, stats.bytes_moved, stats.bytes_reclaimed);
    return stats;
}

Result<VerifyReport> Store::verify(bool mark_bad) {
    if (mark_bad) DK_TRY(writable("verify --mark-bad"));
    VerifyReport rep;
    DK_ASSIGN_OR_RETURN(auto reader, this->reader());
    // Index integrity first: a damaged index makes everything below meaningless.
    {
        DK_ASSIGN_OR_RETURN(auto q, reader->db_->prepare("PRAGMA integrity_check"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, q.step());
            if (!row) break;
            if (std::string msg = q.col_text(0); msg != "ok")
                rep.problems.push_back({0, "", "index: " + msg});
        }
        DK_ASSIGN_OR_RETURN(auto fk, reader->db_->prepare("PRAGMA foreign_key_check"));
        DK_ASSIGN_OR_RETURN(bool row, fk.step());
        if (row) rep.problems.push_back({0, "", "index: foreign key violations in table " + fk.col_text(0)});
    }
    // Files: present, and exactly as long as their committed end.
    {
        std::lock_guard lock(mu_);
        DK_ASSIGN_OR_RETURN(auto q,
                            db_->prepare("SELECT id, committed_bytes FROM files WHERE state != 'retired'"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, q.step());
            if (!row) break;
            const int64_t id = q.col_int(0);
            const uint64_t committed = static_cast<uint64_t>(q.col_int(1));
            auto size = files_->size(id);
            if (!size) {
                rep.problems.push_back({0, "", size.status().message()});
            } else if (*size < committed) {
                rep.problems.push_back({0, "",
                                        fmt::format("{} is {} bytes, shorter than its committed {}",
                                                    files_->path(id), *size, committed)});
            }
        }
        // A retired file must hold nothing the index still reads (a writer keeps such a file, see recover).
        DK_ASSIGN_OR_RETURN(auto retired, db_->prepare("SELECT f.id, (SELECT count(*) FROM extents e WHERE "
                                                       "e.file_id = f.id) FROM files f WHERE f.state = "
                                                       "'retired'"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, retired.step());
            if (!row) break;
            if (const int64_t n = retired.col_int(1); n > 0)
                rep.problems.push_back({0, "",
                                        fmt::format("{} is marked retired but {} extent(s) point into it",
                                                    files_->path(retired.col_int(0)), n)});
        }
    }
    DK_ASSIGN_OR_RETURN(auto snaps, reader->list());
    for (const SnapshotInfo& s : snaps) {
        if (s.state == SnapshotState::writing) continue;  // a put in flight
        ++rep.snapshots;
        if (s.state == SnapshotState::bad) {
            ++rep.bad_snapshots;
            continue;  // already known bad: waiting to be recomputed
        }
        DK_ASSIGN_OR_RETURN(auto ext, reader->extents(s.id));
        rep.extents += static_cast<int64_t>(ext.size());
        Status st = reader->check_snapshot(s, &rep.bytes_checked);
        if (st.code() == ErrorCode::not_found) continue;  // evicted while we looked
        if (!st) {
            ++rep.bad_snapshots;
            rep.problems.push_back({s.id, s.document, st.message()});
            if (mark_bad && st.code() == ErrorCode::corrupt_data) DK_TRY(this->mark_bad(s.id, st.message()));
        }
    }
    return rep;
}

}  // namespace docket::store

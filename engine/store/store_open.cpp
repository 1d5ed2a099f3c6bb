// Opening a store: the directory lock, the index connection, whose index it is, and whether the index covers
// the segment files. Everything here runs before the first write, so that a refused store is left untouched.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "store/extent_format.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "store/store_damage.h"
#include "store/store_schema.h"
#include "util/log.h"
#include "util/fd_guard.h"

namespace docket::store {

namespace {

// Creates `path` owner-only (the store holds what the documents say). A directory that already exists is
// left alone: it is someone else's to set up, and chmod-ing it would be a surprise.
Status make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0) {
        if (errno != EEXIST)
            return make_error(ErrorCode::io_error, "mkdir {}: {}", path, std::strerror(errno));
        struct stat st;
        if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            return make_error(ErrorCode::io_error, "{} exists and is not a directory", path);
        if (st.st_mode & 0077)
            DK_LOG_WARN("{} is accessible to other users (mode {:o}); the store keeps document contents",
                        path, st.st_mode & 0777);
        return Status::ok();
    }
    // mkdir honours the umask; make it exactly 0700 whatever the umask was.
    if (::chmod(path.c_str(), 0700) != 0)
        return make_error(ErrorCode::io_error, "chmod 0700 {}: {}", path, std::strerror(errno));
    return Status::ok();
}

Result<uint64_t> file_size_or_zero(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return uint64_t{0};
        return make_error(ErrorCode::io_error, "stat {}: {}", path, std::strerror(errno));
    }
    return static_cast<uint64_t>(st.st_size);
}

bool exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Status foreign_index_error(const std::string& index) {
    return make_error(ErrorCode::invalid_argument,
                      "{} is not a Docket index (another program's SQLite database: no Docket application_id "
                      "or schema); refusing to touch it",
                      index);
}

// Some other program's database is refused having been read only, never opened for writing (a read-write
// connection would create its -wal/-shm, and could checkpoint its log into it). Other verdicts are left to
// the checks after the lock; so is a log this read cannot see without its -shm.
Status refuse_foreign_index(const std::string& index) {
    auto wal = file_size_or_zero(index + "-wal");
    auto db = Db::open_read_only(index, wal && *wal > 0 && exists(index + "-shm"));
    if (!db) return Status::ok();
    auto kind = classify_index(**db);
    if (kind && *kind == IndexKind::foreign) return foreign_index_error(index);
    return Status::ok();
}

// The index and its -wal/-shm owner-only. SQLite gives the -wal and -shm the mode of the database file, so
// creating index.db 0600 ourselves (an empty file is an empty database) covers all three; an index made
// before that (0644) is tightened when a writer opens it.
Status create_index_file(const std::string& index) {
    int fd = ::open(index.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error(ErrorCode::io_error, "create {}: {}", index, std::strerror(errno));
    ::close(fd);
    return Status::ok();
}

Status make_owner_only(const std::string& index) {
    for (const std::string& p : {index, index + "-wal", index + "-shm"}) {
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077) == 0) continue;
        if (::chmod(p.c_str(), 0600) != 0)
            return make_error(ErrorCode::io_error, "chmod 0600 {}: {}", p, std::strerror(errno));
    }
    return Status::ok();
}

std::string rebuild_hint(const std::string& dir) {
    return fmt::format(
        "nothing was changed; `docket-cli verify --store {} --rebuild-index` rebuilds the index "
        "from the extent headers without deleting anything",
        dir);
}

Result<std::optional<ExtentHeader>> read_extent_header(int fd, uint64_t offset, const std::string& path) {
    ExtentHeader h;
    for (;;) {
        ssize_t n = ::pread(fd, &h, sizeof(h), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return make_error(ErrorCode::io_error, "read header at {} of {}: {}", offset, path,
                              std::strerror(errno));
        if (static_cast<size_t>(n) != sizeof(h) || !extent_header_plausible(h))
            return std::optional<ExtentHeader>();
        return std::optional<ExtentHeader>(h);
    }
}

Result<int64_t> sequence_of(Db& db, const char* table) {
    DK_ASSIGN_OR_RETURN(auto q,
                        db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = ?"));
    q.bind(1, table);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    return row ? q.col_int(0) : int64_t{0};
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const StoreOptions& opt) {
    std::unique_ptr<Store> s(new Store());
    s->dir_ = dir;
    s->seg_dir_ = dir + "/segments";
    s->opt_ = opt;
    s->opt_.queue_depth = std::clamp(opt.queue_depth, 1, 4096);
    s->opt_.extent_target_bytes = std::max<size_t>(opt.extent_target_bytes, 64 << 10);
    s->read_only_ = opt.read_only;
    const std::string index = dir + "/index.db";
    struct stat st;
    const bool index_exists = ::lstat(index.c_str(), &st) == 0;
    if (!index_exists) {
        // Nothing is created or changed before we know what is there.
        DK_ASSIGN_OR_RETURN(auto segs, list_segment_files(s->seg_dir_));
        if (!segs.empty())
            return make_error(ErrorCode::corrupt_data,
                              "store {} is damaged: index.db is missing but segments/ holds {} segment "
                              "file(s); {}",
                              dir, segs.size(), rebuild_hint(dir));
        if (!opt.create_if_missing || opt.read_only)
            return make_error(ErrorCode::not_found, "no Docket store at {} (index.db missing)", dir);
    } else if (!S_ISREG(st.st_mode)) {
        return make_error(ErrorCode::invalid_argument, "{} is not a regular file", index);
    } else {
        DK_TRY(refuse_foreign_index(index));  // before LOCK or segments/ are created next to it
    }
    if (!opt.read_only) {
        if (opt.create_if_missing) DK_TRY(make_dir(dir));
        DK_TRY(make_dir(s->seg_dir_));  // part of the store's layout (an existing store has it already)
    }
    DK_TRY(s->lock_store());
    if (!index_exists) DK_TRY(create_index_file(index));
    DK_ASSIGN_OR_RETURN(const IndexKind kind, s->open_index(index_exists));
    s->files_ = std::make_unique<SegmentFiles>(s->seg_dir_, opt.o_direct, opt.faults);
    if (kind != IndexKind::empty) DK_TRY(s->check_index_covers_files());  // empty: no segment files either
    if (!opt.read_only) {
        DK_TRY(s->db_->use_wal());
        DK_TRY(migrate(*s->db_));
        DK_TRY(s->recover().with_context("recovering store " + dir));
    }
    return s;
}

Status Store::lock_store() {
    // Readers share the lock (so no writer runs while they look) and never create LOCK: a store without one
    // is read unlocked rather than written to.
    const std::string lock = dir_ + "/LOCK";
    const int flags = read_only_ ? O_RDONLY : O_RDWR | O_CREAT;
    lock_fd_ = ::open(lock.c_str(), flags | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd_ < 0 && read_only_ && errno == ENOENT) {
        DK_LOG_WARN("{}: no LOCK file; reading without excluding a writer", dir_);
        return Status::ok();
    }
    if (lock_fd_ < 0) return make_error(ErrorCode::io_error, "open {}: {}", lock, std::strerror(errno));
    if (::flock(lock_fd_, (read_only_ ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        return make_error(ErrorCode::io_error, "store {} is in use by another process ({})", dir_,
                          std::strerror(errno));
    return Status::ok();
}

Result<std::unique_ptr<Db>> Store::open_connection() const {
    const std::string index = dir_ + "/index.db";
    if (read_only_) return Db::open_read_only(index, index_has_wal_);
    return Db::open(index, false);
}

Result<IndexKind> Store::open_index(bool index_exists) {
    const std::string index = dir_ + "/index.db";
    if (read_only_) {
        // A log with changes in it is read into private memory, which SQLite can only do with its -shm
        // there; without one, reading would mean writing a new -shm.
        DK_ASSIGN_OR_RETURN(uint64_t wal, file_size_or_zero(index + "-wal"));
        DK_ASSIGN_OR_RETURN(uint64_t shm, file_size_or_zero(index + "-shm"));
        if (wal > 0 && shm == 0 && !exists(index + "-shm"))
            return make_error(
                ErrorCode::unsupported,
                "{}-wal holds changes but {}-shm is missing: reading them would write; open the "
                "store once for writing (e.g. `docket-cli verify --store {} --mark-bad`)",
                index, index, dir_);
        index_has_wal_ = wal > 0;
    }
    auto db = open_connection();  // SQLite may refuse it already (not a database)
    Result<IndexKind> kind = db ? classify_index(**db) : Result<IndexKind>(db.status());
    DK_ASSIGN_OR_RETURN(auto segs, list_segment_files(seg_dir_));
    if (!kind) {
        if (segs.empty()) return kind.status();
        return make_error(ErrorCode::corrupt_data, "store {} is damaged: {}; {}", dir_,
                          kind.status().message(), rebuild_hint(dir_));
    }
    db_ = std::move(*db);
    switch (*kind) {
        case IndexKind::foreign:
            return foreign_index_error(index);
        case IndexKind::empty:
            if (!segs.empty())
                return make_error(
                    ErrorCode::corrupt_data,
                    "store {} is damaged: index.db is empty but segments/ holds {} segment file(s); "
                    "{}",
                    dir_, segs.size(), rebuild_hint(dir_));
            if (index_exists && (read_only_ || !opt_.create_if_missing))
                return make_error(ErrorCode::not_found, "no Docket store at {} (index.db is empty)", dir_);
            break;
        case IndexKind::docket:
        case IndexKind::legacy:
            break;
    }
    DK_TRY(read_only_ ? check_schema_known(*db_) : make_owner_only(index));
    return *kind;
}

Status Store::check_index_covers_files() {
    // An index that does not know a file, or the snapshots a file holds past its committed end, has lost
    // committed transactions (deleted or truncated index/WAL): recovery would truncate or orphan their bytes.
    Db& db = *db_;
    DK_ASSIGN_OR_RETURN(const int64_t snap_seq, sequence_of(db, "snapshots"));
    DK_ASSIGN_OR_RETURN(auto on_disk, list_segment_files(seg_dir_));
    struct Row {
        uint64_t committed;
        bool retired;
    };
    std::map<int64_t, Row> rows;
    {
        DK_ASSIGN_OR_RETURN(auto q, db.prepare("SELECT id, committed_bytes, state FROM files"));
        for (;;) {
            DK_ASSIGN_OR_RETURN(bool row, q.step());
            if (!row) break;
            rows[q.col_int(0)] = {static_cast<uint64_t>(q.col_int(1)), q.col_text(2) == "retired"};
        }
    }
    // Whole extents (rows) in a file's bytes past its committed end: recovery would cut committed data off.
    // (One reaching past the end of the file has lost its bytes already.)
    DK_ASSIGN_OR_RETURN(auto past, db.prepare("SELECT snapshot_id FROM extents WHERE file_id = ? AND "
                                              "offset + length > ? AND offset + length <= ? LIMIT 1"));
    for (int64_t id : on_disk) {
        const std::string path = files_->path(id);
        auto it = rows.find(id);
        if (it == rows.end())
            return make_error(ErrorCode::corrupt_data,
                              "store {} is damaged: {} is not in the index (the index was lost or rolled "
                              "back); {}",
                              dir_, path, rebuild_hint(dir_));
        DK_ASSIGN_OR_RETURN(uint64_t size, files_->size(id));
        const uint64_t committed = it->second.committed;
        if (it->second.retired || size <= committed || committed % kIoAlign != 0) continue;
        past.reset();
        past.bind(1, id).bind(2, committed).bind(3, size);
        DK_ASSIGN_OR_RETURN(bool listed, past.step());
        if (listed)
            return make_error(
                ErrorCode::corrupt_data,
                "store {} is damaged: snapshot {} has extents past the committed end {} of {}; {}", dir_,
                past.col_int(0), committed, path, rebuild_hint(dir_));
        const int fd = open_segment_for_read(path, false);
        if (fd < 0) return make_error(ErrorCode::io_error, "open {}: {}", path, std::strerror(-fd));
        FdGuard closer(fd);
        // A put's uncommitted tail carries its own (already counted) snapshot id; a newer id means the
        // transaction that committed these bytes is missing from the index.
        for (uint64_t off = committed; off < size;) {
            DK_ASSIGN_OR_RETURN(auto h, read_extent_header(fd, off, path));
            if (!h || h->extent_length > size - off) break;
            if (h->snapshot_id > static_cast<uint64_t>(snap_seq))
                return make_error(ErrorCode::corrupt_data,
                                  "store {} is damaged: {} holds extents of snapshot {} past its committed "
                                  "end {}, newer than the index knows (the index was rolled back); {}",
                                  dir_, path, h->snapshot_id, committed, rebuild_hint(dir_));
            off += h->extent_length;
        }
    }
    return Status::ok();
}

Status Store::writable(const char* what) const {
    if (read_only_)
        return make_error(ErrorCode::invalid_argument, "{}: store {} is open read-only", what, dir_);
    return Status::ok();
}

}  // namespace docket::store

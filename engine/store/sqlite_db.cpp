#include "store/sqlite_db.h"

#include <cctype>
#include <filesystem>

#include "util/log.h"

namespace docket::store {

namespace {
Status sql_error(sqlite3* db, int rc, std::string_view what) {
    ErrorCode code = ErrorCode::io_error;
    if (rc == SQLITE_FULL) code = ErrorCode::disk_full;
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) code = ErrorCode::corrupt_data;
    if (rc == SQLITE_CONSTRAINT || rc == SQLITE_MISUSE || rc == SQLITE_RANGE) code = ErrorCode::internal;
    return make_error(code, "sqlite {} ({}): {}", what, sqlite3_errstr(rc), db ? sqlite3_errmsg(db) : "");
}
}  // namespace

Stmt& Stmt::bind(int i, int64_t v) {
    if (int rc = sqlite3_bind_int64(s_, i, v); rc != SQLITE_OK) bind_rc_ = rc;
    return *this;
}
Stmt& Stmt::bind(int i, double v) {
    if (int rc = sqlite3_bind_double(s_, i, v); rc != SQLITE_OK) bind_rc_ = rc;
    return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
    if (int rc = sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        rc != SQLITE_OK)
        bind_rc_ = rc;
    return *this;
}
Stmt& Stmt::bind(int i, const Hash128& v) {
    uint8_t b[16];
    v.to_bytes(b);
    if (int rc = sqlite3_bind_blob(s_, i, b, 16, SQLITE_TRANSIENT); rc != SQLITE_OK) bind_rc_ = rc;
    return *this;
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
    if (int rc = sqlite3_bind_blob64(s_, i, n ? data : "", n, SQLITE_TRANSIENT); rc != SQLITE_OK) bind_rc_ = rc;
    return *this;
}
Stmt& Stmt::bind_null(int i) {
    if (int rc = sqlite3_bind_null(s_, i); rc != SQLITE_OK) bind_rc_ = rc;
    return *this;
}

Result<bool> Stmt::step() {
    if (bind_rc_ != SQLITE_OK) return sql_error(db_, bind_rc_, std::string("bind in ") + sqlite3_sql(s_));
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sql_error(db_, rc, sqlite3_sql(s_));
}

Status Stmt::exec() {
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, step());
        if (!row) return Status::ok();
    }
}

void Stmt::reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    bind_rc_ = SQLITE_OK;
}

std::string Stmt::col_text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, c)) : std::string();
}

std::vector<uint8_t> Stmt::col_blob(int c) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, c));
    return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(s_, c)) : std::vector<uint8_t>();
}

Hash128 Stmt::col_hash(int c) const {
    if (sqlite3_column_type(s_, c) != SQLITE_BLOB || sqlite3_column_bytes(s_, c) != 16) return {};
    return Hash128::from_bytes(static_cast<const uint8_t*>(sqlite3_column_blob(s_, c)));
}

namespace {
// file: URI of an absolute path, every byte outside the unreserved set percent-encoded ('?', '#', '%' and a
// leading "//" would otherwise change its meaning).
std::string file_uri(const std::string& path) {
    std::string uri = "file://";
    for (unsigned char c : path) {
        if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~')
            uri += static_cast<char>(c);
        else
            uri += fmt::format("%{:02X}", c);
    }
    return uri;
}

// The default VFS, except that the database and its log are opened O_RDONLY (SQLite opens an existing -wal
// read-write whenever the permissions allow, even for a read-only connection). The -shm is opened read-only
// by readonly_shm; temporary files elsewhere are left as they are.
int read_only_open(sqlite3_vfs* self, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    auto* base = static_cast<sqlite3_vfs*>(self->pAppData);
    if (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))
        flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    return base->xOpen(base, name, file, flags, out_flags);
}

const char* read_only_vfs() {
    static const char* name = [] {
        static sqlite3_vfs vfs = *sqlite3_vfs_find(nullptr);
        vfs.pAppData = sqlite3_vfs_find(nullptr);
        vfs.zName = "docket-read-only";
        vfs.xOpen = read_only_open;
        return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK ? vfs.zName : nullptr;
    }();
    return name;
}
}  // namespace

Result<std::unique_ptr<Db>> Db::open_flags(const std::string& path, const std::string& name, int flags,
                                           const char* vfs) {
    std::unique_ptr<Db> db(new Db());
    db->path_ = path;
    flags |= SQLITE_OPEN_NOMUTEX;  // one thread per connection by design
    int rc = sqlite3_open_v2(name.c_str(), &db->db_, flags, vfs);
    if (rc != SQLITE_OK) return sql_error(db->db_, rc, "open " + path);
    sqlite3_extended_result_codes(db->db_, 0);
    sqlite3_busy_timeout(db->db_, 10000);
    // FULL: the commit is the point where a snapshot becomes visible and where compaction retires files;
    // it must survive power loss, not just a process crash.
    DK_TRY(db->exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"));
    return db;
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, bool create) {
    return open_flags(path, path, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0));
}

Result<std::unique_ptr<Db>> Db::open_read_only(const std::string& path, bool has_wal) {
    std::error_code ec;
    const std::string abs = std::filesystem::absolute(path, ec).string();
    if (ec) return make_error(ErrorCode::io_error, "{}: {}", path, ec.message());
    const std::string uri = file_uri(abs) + (has_wal ? "?mode=ro&readonly_shm=1" : "?immutable=1");
    const char* vfs = read_only_vfs();
    if (!vfs) return make_error(ErrorCode::internal, "could not register SQLite's read-only VFS");
    DK_ASSIGN_OR_RETURN(auto db, open_flags(path, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, vfs));
    DK_TRY(db->exec("PRAGMA query_only=1"));
    return db;
}

Status Db::use_wal() {
    DK_ASSIGN_OR_RETURN(auto st, prepare("PRAGMA journal_mode=WAL"));
    DK_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row || st.col_text(0) != "wal")
        return make_error(ErrorCode::io_error, "{}: could not switch to WAL mode", path_);
    return Status::ok();
}

Db::~Db() {
    sqlite3_close_v2(db_);
}

Status Db::exec(std::string_view sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        Status s = sql_error(db_, rc, std::string(sql.substr(0, 80)));
        sqlite3_free(err);
        return s;
    }
    return Status::ok();
}

Result<Stmt> Db::prepare(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK) return sql_error(db_, rc, "prepare " + std::string(sql.substr(0, 80)));
    return Stmt(db_, s);
}

Status Transaction::begin() {
    DK_TRY(db_.exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::ok();
}

Status Transaction::commit() {
    DK_TRY(db_.exec("COMMIT"));
    open_ = false;
    return Status::ok();
}

Transaction::~Transaction() {
    if (open_) {
        if (Status s = db_.exec("ROLLBACK"); !s) DK_LOG_WARN("rollback failed: {}", s.to_string());
    }
}

}  // namespace docket::store

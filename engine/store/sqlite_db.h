#pragma once
// Thin RAII over the SQLite C API: one connection, prepared statements, transactions. Errors come back as
// Status with the SQL and SQLite's message. A connection is used by one thread at a time.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/hash128.h"
#include "util/status.h"

namespace docket::store {

class Stmt {
public:
    Stmt() = default;
    Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)) {}
    Stmt& operator=(Stmt&& o) noexcept {
        std::swap(db_, o.db_);
        std::swap(s_, o.s_);
        return *this;
    }

    // Binders take 1-based parameter indexes and return *this for chaining.
    Stmt& bind(int i, int64_t v);
    Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
    Stmt& bind(int i, uint64_t v) { return bind(i, static_cast<int64_t>(v)); }
    Stmt& bind(int i, double v);
    Stmt& bind(int i, std::string_view v);
    Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    Stmt& bind(int i, const Hash128& v);
    Stmt& bind_blob(int i, const void* data, size_t n);
    Stmt& bind_null(int i);

    // true: a row is available; false: done. Errors (including a failed bind) come back as a Status.
    Result<bool> step();
    Status exec();  // steps until done
    void reset();

    int64_t col_int(int c) const { return sqlite3_column_int64(s_, c); }
    double col_double(int c) const { return sqlite3_column_double(s_, c); }
    bool col_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
    std::string col_text(int c) const;
    std::vector<uint8_t> col_blob(int c) const;
    Hash128 col_hash(int c) const;  // zero hash when the column is not a 16-byte blob

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* s_ = nullptr;
    int bind_rc_ = SQLITE_OK;
};

class Db {
public:
    // Opens read-write (creating the file when asked) with foreign_keys=ON, synchronous=FULL and a busy
    // timeout. Nothing is written yet: the caller checks whose database it is, then calls use_wal().
    static Result<std::unique_ptr<Db>> open(const std::string& path, bool create);
    // Opens without writing a byte of the database or its -wal/-shm files, nor creating them: immutable when
    // there is no write-ahead log to read (has_wal false); else the log is read into private memory
    // (readonly_shm), which needs the -shm file to exist. The caller excludes writers (the store's flock).
    static Result<std::unique_ptr<Db>> open_read_only(const std::string& path, bool has_wal);
    // Switches to WAL (persistent in the file); io_error when SQLite keeps another journal mode.
    Status use_wal();
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    Status exec(std::string_view sql);  // one or more statements, no results
    Result<Stmt> prepare(std::string_view sql);
    int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
    int changes() const { return sqlite3_changes(db_); }
    const std::string& path() const { return path_; }
    sqlite3* raw() { return db_; }

private:
    Db() = default;
    static Result<std::unique_ptr<Db>> open_flags(const std::string& path, const std::string& name, int flags,
                                                  const char* vfs = nullptr);
    sqlite3* db_ = nullptr;
    std::string path_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
public:
    explicit Transaction(Db& db) : db_(db) {}
    ~Transaction();
    Status begin();
    Status commit();

private:
    Db& db_;
    bool open_ = false;
};

}  // namespace docket::store

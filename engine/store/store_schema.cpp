#include "store/store_schema.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include "util/log.h"

namespace docket::store {
namespace {

struct Migration {
    int version;
    const char* description;
    const char* sql;
};

// Never edit a shipped migration: append a new one.
constexpr Migration kMigrations[] = {
    {1, "collections, documents, segments, snapshots, extents, segment files, model fingerprint cache", R"sql(
CREATE TABLE collections(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL);
CREATE TABLE documents(
    id INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    mime TEXT, bytes INTEGER, pages INTEGER,
    status TEXT NOT NULL DEFAULT 'new', error TEXT,
    UNIQUE(collection_id, path));
CREATE TABLE segments(
    id INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    token_begin INTEGER, token_end INTEGER, char_begin INTEGER, char_end INTEGER,
    page_begin INTEGER, page_end INTEGER,
    UNIQUE(document_id, ordinal));
-- Ids of files and snapshots are never reused (AUTOINCREMENT): extent headers name their snapshot, file
-- names carry the file id.
-- Segment files: append-only, extents at 4 KiB-aligned offsets below committed_bytes. Bytes past
-- committed_bytes are uncommitted garbage and are truncated on open. A 'retired' file holds no live extent
-- and is deleted (crash-safely: the row goes only after the unlink).
CREATE TABLE files(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    committed_bytes INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK(state IN ('active', 'sealed', 'retired')));
-- A snapshot is keyed by (model fingerprint, codec + params, prefix hash, content hash); it is visible to
-- readers only in state 'ready'. 'writing' rows left by a crash are removed on open; 'bad' ones failed a
-- checksum and wait to be recomputed (a put with the same key replaces them).
CREATE TABLE snapshots(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_fp BLOB NOT NULL,
    codec INTEGER NOT NULL,
    codec_params TEXT NOT NULL,
    prefix_hash BLOB NOT NULL,
    content_hash BLOB NOT NULL,
    segment_id INTEGER REFERENCES segments(id) ON DELETE SET NULL,
    n_layers INTEGER NOT NULL, n_kv_heads INTEGER NOT NULL, head_dim INTEGER NOT NULL,
    n_tokens INTEGER NOT NULL,
    state TEXT NOT NULL CHECK(state IN ('writing', 'ready', 'bad')),
    bytes INTEGER NOT NULL DEFAULT 0,
    raw_bytes INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    error TEXT,
    UNIQUE(model_fp, codec, codec_params, prefix_hash, content_hash));
CREATE INDEX snapshots_lru ON snapshots(state, last_used);
CREATE INDEX snapshots_segment ON snapshots(segment_id);
CREATE TABLE extents(
    id INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    layer_begin INTEGER NOT NULL, layer_end INTEGER NOT NULL,
    page_begin INTEGER NOT NULL, page_end INTEGER NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id),
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    raw_length INTEGER NOT NULL,
    checksum INTEGER NOT NULL);
CREATE INDEX extents_snapshot ON extents(snapshot_id, layer_begin, page_begin);
CREATE INDEX extents_file ON extents(file_id, offset);
CREATE TABLE model_fingerprints(
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    fingerprint BLOB NOT NULL);
)sql"},
    // (path, size, mtime) let a different model with the same size and a preserved mtime (cp -p, rsync -t)
    // reuse another model's fingerprint, and with it its snapshots. The file's identity now includes device,
    // inode and ctime (which no user can set). The table is a cache: the old rows are simply dropped.
    {2, "model fingerprint cache keyed by device, inode, size, mtime and ctime", R"sql(
DROP TABLE model_fingerprints;
CREATE TABLE model_fingerprints(
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    fingerprint BLOB NOT NULL);
)sql"},
    // The catalog the ask path reads: per document its format, title and sizes; per segment its text, line span
    // and token count; BM25 over segment text (FTS5, porter stemming, the document title as a second column);
    // per-segment routing keys (page key summaries of a few layers) keyed like snapshots.
    {3, "catalog: document metadata, segment text and lines, FTS5 over segments, routing keys", R"sql(
ALTER TABLE documents ADD COLUMN title TEXT;
ALTER TABLE documents ADD COLUMN format TEXT;
ALTER TABLE documents ADD COLUMN encoding TEXT;
ALTER TABLE documents ADD COLUMN chars INTEGER;
ALTER TABLE documents ADD COLUMN tokens INTEGER;
ALTER TABLE documents ADD COLUMN updated_at INTEGER;
ALTER TABLE segments ADD COLUMN line_begin INTEGER;
ALTER TABLE segments ADD COLUMN line_end INTEGER;
ALTER TABLE segments ADD COLUMN text TEXT NOT NULL DEFAULT '';
CREATE INDEX segments_content ON segments(content_hash);
CREATE VIRTUAL TABLE segment_fts USING fts5(title, body, tokenize = 'porter unicode61');
CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
    DELETE FROM segment_fts WHERE rowid = old.id;
END;
-- Keyed like the snapshot they summarize (same content may stand in several documents); they go with it.
CREATE TABLE routing_keys(
    model_fp BLOB NOT NULL,
    prefix_hash BLOB NOT NULL,
    content_hash BLOB NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY(model_fp, prefix_hash, content_hash));
)sql"},
    // Numbered from 10: the catalog's migrations (3 onwards) are kept apart. A file is deleted only when the
    // store's own compaction left this record, in the transaction that moved its extents out and retired it;
    // a 'retired' state alone (a crafted or damaged row) proves nothing.
    {10, "compaction journal: the record that makes a retired segment file deletable", R"sql(
CREATE TABLE compactions(
    file_id INTEGER PRIMARY KEY REFERENCES files(id),
    committed_bytes INTEGER NOT NULL,
    extents_moved INTEGER NOT NULL,
    finished_at INTEGER NOT NULL);
)sql"},
};

bool known_version(int64_t v) {
    for (const Migration& m : kMigrations)
        if (m.version == v) return true;
    return false;
}

Result<bool> has_table(Db& db, const char* name) {
    DK_ASSIGN_OR_RETURN(auto q, db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"));
    q.bind(1, name);
    return q.step();
}

Result<std::vector<int64_t>> applied_versions(Db& db) {
    std::vector<int64_t> v;
    DK_ASSIGN_OR_RETURN(bool present, has_table(db, "schema_migrations"));
    if (!present) return v;
    DK_ASSIGN_OR_RETURN(auto q, db.prepare("SELECT version FROM schema_migrations ORDER BY version"));
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        v.push_back(q.col_int(0));
    }
    return v;
}

}  // namespace

Result<IndexKind> classify_index(Db& db) {
    auto kind = [&]() -> Result<IndexKind> {
        DK_ASSIGN_OR_RETURN(auto app, db.prepare("PRAGMA application_id"));
        DK_ASSIGN_OR_RETURN(bool row, app.step());
        const int64_t id = row ? app.col_int(0) : 0;
        if (id == kApplicationId) return IndexKind::docket;
        if (id != 0) return IndexKind::foreign;
        DK_ASSIGN_OR_RETURN(auto n, db.prepare("SELECT count(*) FROM sqlite_master"));
        DK_ASSIGN_OR_RETURN(bool any, n.step());
        if (!any || n.col_int(0) == 0) return IndexKind::empty;
        // A store from before the marker: its first migration's own row, and the tables the store reads.
        for (const char* t : {"schema_migrations", "files", "snapshots", "extents"}) {
            DK_ASSIGN_OR_RETURN(bool present, has_table(db, t));
            if (!present) return IndexKind::foreign;
        }
        DK_ASSIGN_OR_RETURN(auto m,
                            db.prepare("SELECT description FROM schema_migrations WHERE version = 1"));
        DK_ASSIGN_OR_RETURN(bool first, m.step());
        return first && m.col_text(0) == kMigrations[0].description ? IndexKind::legacy : IndexKind::foreign;
    }();
    if (!kind)
        return make_error(ErrorCode::corrupt_data, "{} is unreadable: {}", db.path(),
                          kind.status().message());
    return kind;
}

Status check_schema_known(Db& db) {
    DK_ASSIGN_OR_RETURN(auto have, applied_versions(db));
    for (int64_t v : have)
        if (!known_version(v))
            return make_error(ErrorCode::unsupported,
                              "{}: schema migration {} is newer than this build knows; use a newer Docket",
                              db.path(), v);
    return Status::ok();
}

Status migrate(Db& db) {
    DK_TRY(check_schema_known(db));
    DK_TRY(
        db.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, description TEXT "
                "NOT NULL, "
                "applied_at INTEGER NOT NULL)"));
    // Finalized before the migrations run: an open statement would lock the tables they drop.
    DK_ASSIGN_OR_RETURN(auto have, applied_versions(db));
    for (const Migration& m : kMigrations) {
        if (std::find(have.begin(), have.end(), m.version) != have.end()) continue;
        Transaction tx(db);
        DK_TRY(tx.begin());
        DK_TRY(db.exec(m.sql).with_context(fmt::format("migration {}", m.version)));
        DK_ASSIGN_OR_RETURN(auto ins, db.prepare("INSERT INTO schema_migrations VALUES(?, ?, ?)"));
        DK_TRY(ins.bind(1, m.version)
                   .bind(2, m.description)
                   .bind(3, static_cast<int64_t>(std::time(nullptr)))
                   .exec());
        DK_TRY(tx.commit());
        DK_LOG_INFO("{}: applied schema migration {} ({})", db.path(), m.version, m.description);
    }
    // The marker goes in once the schema is ours (stores from before it are stamped here too).
    DK_ASSIGN_OR_RETURN(IndexKind kind, classify_index(db));
    if (kind == IndexKind::docket) return Status::ok();
    return db.exec(fmt::format("PRAGMA application_id = {}", kApplicationId));
}

}  // namespace docket::store

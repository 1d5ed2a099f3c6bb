#include "store/store_schema.h"

#include <ctime>

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
};

}  // namespace

Status migrate(Db& db) {
    DK_TRY(
        db.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, description TEXT "
                "NOT NULL, "
                "applied_at INTEGER NOT NULL)"));
    int have = 0;
    {
        // Finalized before the migrations run: an open statement would lock the tables they drop.
        DK_ASSIGN_OR_RETURN(auto q, db.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        have = row ? static_cast<int>(q.col_int(0)) : 0;
    }
    if (have > kSchemaVersion)
        return make_error(ErrorCode::unsupported, "{}: schema version {} is newer than this build ({})",
                          db.path(), have, kSchemaVersion);
    for (const Migration& m : kMigrations) {
        if (m.version <= have) continue;
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
    return Status::ok();
}

}  // namespace docket::store

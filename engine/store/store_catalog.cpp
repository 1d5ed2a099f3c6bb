// The store's catalog: collections, documents, segments (text + FTS5), routing keys. Writes go through the
// writer connection under the writer lock, like snapshot puts, so a document's rows and its snapshots are
// ordered by one thread.
#include <set>

#include "store/store.h"
#include "store/store_rows.h"

namespace docket::store {
namespace {

constexpr const char* kDocumentSelect =
    "SELECT d.id, d.collection_id, d.path, coalesce(d.title, ''), coalesce(d.format, ''), "
    "coalesce(d.encoding, ''), d.status, coalesce(d.error, ''), d.content_hash, coalesce(d.bytes, 0), "
    "coalesce(d.chars, 0), coalesce(d.tokens, 0), (SELECT count(*) FROM segments s WHERE s.document_id = d.id) "
    "FROM documents d ";

DocumentRow document_from_row(const Stmt& q) {
    DocumentRow d;
    d.id = q.col_int(0);
    d.collection_id = q.col_int(1);
    d.path = q.col_text(2);
    d.title = q.col_text(3);
    d.format = q.col_text(4);
    d.encoding = q.col_text(5);
    d.status = q.col_text(6);
    d.error = q.col_text(7);
    d.content_hash = q.col_hash(8);
    d.bytes = q.col_int(9);
    d.chars = q.col_int(10);
    d.tokens = q.col_int(11);
    d.segments = q.col_int(12);
    return d;
}

constexpr const char* kSegmentSelect =
    "SELECT id, document_id, ordinal, content_hash, coalesce(token_end, 0), coalesce(char_begin, 0), "
    "coalesce(char_end, 0), coalesce(line_begin, 0), coalesce(line_end, 0), text FROM segments ";

SegmentRow segment_from_row(const Stmt& q) {
    SegmentRow s;
    s.id = q.col_int(0);
    s.document_id = q.col_int(1);
    s.ordinal = static_cast<int>(q.col_int(2));
    s.content_hash = q.col_hash(3);
    s.n_tokens = q.col_int(4);
    s.char_begin = q.col_int(5);
    s.char_end = q.col_int(6);
    s.line_begin = static_cast<int>(q.col_int(7));
    s.line_end = static_cast<int>(q.col_int(8));
    s.text = q.col_text(9);
    return s;
}

template <typename Row, typename Fn>
Result<std::vector<Row>> collect(Stmt& q, Fn from_row) {
    std::vector<Row> out;
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) return out;
        out.push_back(from_row(q));
    }
}

// The content hashes of a document's segments (what its snapshots are keyed by).
Result<std::set<Hash128>> segment_hashes(Db& db, const char* where, int64_t id) {
    DK_ASSIGN_OR_RETURN(auto q, db.prepare(std::string("SELECT s.content_hash FROM segments s JOIN documents d ON "
                                                       "d.id = s.document_id WHERE ") +
                                           where));
    q.bind(1, id);
    std::set<Hash128> out;
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) return out;
        out.insert(q.col_hash(0));
    }
}

}  // namespace

Result<std::optional<int64_t>> Store::find_collection(const std::string& name) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT id FROM collections WHERE name = ?"));
    q.bind(1, name);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return std::optional<int64_t>();
    return std::optional<int64_t>(q.col_int(0));
}

Result<std::vector<CollectionRow>> Store::list_collections() {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT c.id, c.name, "
                                             "(SELECT count(*) FROM documents d WHERE d.collection_id = c.id), "
                                             "(SELECT count(*) FROM segments s JOIN documents d ON d.id = "
                                             "s.document_id WHERE d.collection_id = c.id), "
                                             "(SELECT coalesce(sum(d.tokens), 0) FROM documents d WHERE "
                                             "d.collection_id = c.id) FROM collections c ORDER BY c.name"));
    return collect<CollectionRow>(q, [](const Stmt& r) {
        return CollectionRow{r.col_int(0), r.col_text(1), r.col_int(2), r.col_int(3), r.col_int(4)};
    });
}

Result<std::vector<DocumentRow>> Store::list_documents(int64_t collection_id) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kDocumentSelect) +
                                             "WHERE d.collection_id = ? ORDER BY d.path"));
    q.bind(1, collection_id);
    return collect<DocumentRow>(q, document_from_row);
}

Result<std::optional<DocumentRow>> Store::find_document(int64_t collection_id, const std::string& path) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kDocumentSelect) +
                                             "WHERE d.collection_id = ? AND d.path = ?"));
    q.bind(1, collection_id).bind(2, path);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return std::optional<DocumentRow>();
    return std::optional<DocumentRow>(document_from_row(q));
}

Result<DocumentRow> Store::document(int64_t document_id) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kDocumentSelect) + "WHERE d.id = ?"));
    q.bind(1, document_id);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::not_found, "document {} is not in the catalog", document_id);
    return document_from_row(q);
}

Result<int64_t> Store::begin_document(int64_t collection_id, const std::string& path,
                                      const Hash128& content_hash, const DocumentMeta& meta) {
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    DK_ASSIGN_OR_RETURN(auto old, db_->prepare("SELECT id, content_hash FROM documents WHERE collection_id = ? "
                                               "AND path = ?"));
    old.bind(1, collection_id).bind(2, path);
    DK_ASSIGN_OR_RETURN(bool had, old.step());
    if (had && old.col_hash(1) != content_hash) {
        const int64_t id = old.col_int(0);
        DK_ASSIGN_OR_RETURN(std::set<Hash128> hashes, segment_hashes(*db_, "d.id = ?", id));
        DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM segments WHERE document_id = ?"));
        DK_TRY(del.bind(1, id).exec());
        DK_TRY(remove_unused_snapshots_locked(hashes));
    }
    DK_ASSIGN_OR_RETURN(auto up,
                        db_->prepare("INSERT INTO documents(collection_id, path, content_hash, title, format, "
                                     "encoding, bytes, chars, status, error, updated_at) VALUES(?, ?, ?, ?, ?, ?, "
                                     "?, ?, 'ingesting', NULL, ?) ON CONFLICT(collection_id, path) DO UPDATE SET "
                                     "content_hash = excluded.content_hash, title = excluded.title, format = "
                                     "excluded.format, encoding = excluded.encoding, bytes = excluded.bytes, "
                                     "chars = excluded.chars, status = 'ingesting', error = NULL, updated_at = "
                                     "excluded.updated_at"));
    DK_TRY(up.bind(1, collection_id)
               .bind(2, path)
               .bind(3, content_hash)
               .bind(4, meta.title)
               .bind(5, meta.format)
               .bind(6, meta.encoding)
               .bind(7, meta.bytes)
               .bind(8, meta.chars)
               .bind(9, now_ms() / 1000)
               .exec());
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT id FROM documents WHERE collection_id = ? AND path = ?"));
    q.bind(1, collection_id).bind(2, path);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::internal, "document '{}' vanished after insert", path);
    const int64_t id = q.col_int(0);
    DK_TRY(tx.commit());
    return id;
}

Status Store::put_segments(int64_t document_id, const std::vector<SegmentRow>& segments) {
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    DK_ASSIGN_OR_RETURN(auto title_q, db_->prepare("SELECT coalesce(title, path) FROM documents WHERE id = ?"));
    title_q.bind(1, document_id);
    DK_ASSIGN_OR_RETURN(bool found, title_q.step());
    if (!found) return make_error(ErrorCode::not_found, "document {} is not in the catalog", document_id);
    const std::string title = title_q.col_text(0);
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM segments WHERE document_id = ?"));
    DK_TRY(del.bind(1, document_id).exec());
    DK_ASSIGN_OR_RETURN(auto ins, db_->prepare("INSERT INTO segments(document_id, ordinal, content_hash, "
                                               "token_begin, token_end, char_begin, char_end, page_begin, "
                                               "page_end, line_begin, line_end, text) VALUES(?, ?, ?, 0, ?, ?, "
                                               "?, NULL, NULL, ?, ?, ?)"));
    DK_ASSIGN_OR_RETURN(auto fts, db_->prepare("INSERT INTO segment_fts(rowid, title, body) VALUES(?, ?, ?)"));
    for (const SegmentRow& s : segments) {
        ins.reset();
        DK_TRY(ins.bind(1, document_id)
                   .bind(2, s.ordinal)
                   .bind(3, s.content_hash)
                   .bind(4, s.n_tokens)
                   .bind(5, s.char_begin)
                   .bind(6, s.char_end)
                   .bind(7, s.line_begin)
                   .bind(8, s.line_end)
                   .bind(9, s.text)
                   .exec());
        fts.reset();
        DK_TRY(fts.bind(1, db_->last_insert_id()).bind(2, title).bind(3, s.text).exec());
    }
    return tx.commit();
}

Result<std::vector<SegmentRow>> Store::segments_of(int64_t document_id) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kSegmentSelect) + "WHERE document_id = ? ORDER BY "
                                                                           "ordinal"));
    q.bind(1, document_id);
    return collect<SegmentRow>(q, segment_from_row);
}

Result<SegmentRow> Store::segment(int64_t segment_id) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kSegmentSelect) + "WHERE id = ?"));
    q.bind(1, segment_id);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::not_found, "segment {} is not in the catalog", segment_id);
    return segment_from_row(q);
}

Status Store::finish_document(int64_t document_id, const std::string& status, const std::string& error,
                              int64_t tokens) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto up, db_->prepare("UPDATE documents SET status = ?, error = ?, tokens = ?, "
                                              "updated_at = ? WHERE id = ?"));
    if (error.empty())
        up.bind_null(2);
    else
        up.bind(2, error);
    return up.bind(1, status).bind(3, tokens).bind(4, now_ms() / 1000).bind(5, document_id).exec();
}

Status Store::record_document_error(int64_t collection_id, const std::string& path, const std::string& error) {
    DK_ASSIGN_OR_RETURN(const int64_t id, begin_document(collection_id, path, Hash128{}, DocumentMeta{}));
    {
        std::lock_guard lock(mu_);
        DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM segments WHERE document_id = ?"));
        DK_TRY(del.bind(1, id).exec());
    }
    return finish_document(id, "error", error, 0);
}

Status Store::remove_document(int64_t document_id) {
    return remove_catalog_rows("d.id = ?", "DELETE FROM documents WHERE id = ?", document_id);
}

Status Store::remove_collection(int64_t collection_id) {
    return remove_catalog_rows("d.collection_id = ?", "DELETE FROM collections WHERE id = ?", collection_id);
}

Status Store::remove_catalog_rows(const char* segments_where, const char* delete_sql, int64_t id) {
    std::lock_guard lock(mu_);
    Transaction tx(*db_);
    DK_TRY(tx.begin());
    DK_ASSIGN_OR_RETURN(std::set<Hash128> hashes, segment_hashes(*db_, segments_where, id));
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare(delete_sql));
    DK_TRY(del.bind(1, id).exec());
    DK_TRY(remove_unused_snapshots_locked(hashes));
    return tx.commit();
}

Status Store::remove_unused_snapshots_locked(const std::set<Hash128>& content_hashes) {
    // A snapshot is shared by every segment with the same content (any collection): it goes only when none
    // is left. Its extents go with the row; their bytes are dead until compaction.
    DK_ASSIGN_OR_RETURN(auto used, db_->prepare("SELECT 1 FROM segments WHERE content_hash = ? LIMIT 1"));
    DK_ASSIGN_OR_RETURN(auto del, db_->prepare("DELETE FROM snapshots WHERE content_hash = ?"));
    DK_ASSIGN_OR_RETURN(auto del_routing, db_->prepare("DELETE FROM routing_keys WHERE content_hash = ?"));
    for (const Hash128& h : content_hashes) {
        used.reset();
        used.bind(1, h);
        DK_ASSIGN_OR_RETURN(bool in_use, used.step());
        if (in_use) continue;
        del.reset();
        DK_TRY(del.bind(1, h).exec());
        del_routing.reset();
        DK_TRY(del_routing.bind(1, h).exec());
    }
    return Status::ok();
}

Result<std::vector<TextHit>> Store::search_text(int64_t collection_id, const std::string& match, int limit,
                                                bool first_segments) {
    std::lock_guard lock(mu_);
    // bm25() is lower-is-better; the title column weighs twice the body (questions name the contract).
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string("SELECT f.rowid, s.document_id, -bm25(segment_fts, 2.0, "
                                                         "1.0) AS score FROM segment_fts f JOIN segments s ON s.id "
                                                         "= f.rowid JOIN documents d ON d.id = s.document_id WHERE "
                                                         "segment_fts MATCH ? AND d.collection_id = ? AND d.status "
                                                         "= 'ready'") +
                                             (first_segments ? " AND s.ordinal = 0" : "") +
                                             " ORDER BY score DESC LIMIT ?"));
    q.bind(1, match).bind(2, collection_id).bind(3, limit);
    return collect<TextHit>(q, [](const Stmt& r) { return TextHit{r.col_int(0), r.col_int(1), r.col_double(2)}; });
}

Status Store::put_routing(const Hash128& model, const Hash128& prefix, const Hash128& content,
                          const std::vector<uint8_t>& data) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto up, db_->prepare("INSERT OR REPLACE INTO routing_keys(model_fp, prefix_hash, "
                                              "content_hash, data) VALUES(?, ?, ?, ?)"));
    return up.bind(1, model).bind(2, prefix).bind(3, content).bind_blob(4, data.data(), data.size()).exec();
}

Result<std::vector<RoutingRow>> Store::routing_keys(int64_t collection_id, const Hash128& model,
                                                    const Hash128& prefix) {
    std::lock_guard lock(mu_);
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare("SELECT s.id, s.document_id, r.data FROM segments s JOIN documents d "
                                             "ON d.id = s.document_id JOIN routing_keys r ON r.content_hash = "
                                             "s.content_hash AND r.model_fp = ? AND r.prefix_hash = ? WHERE "
                                             "d.collection_id = ? AND d.status = 'ready'"));
    q.bind(1, model).bind(2, prefix).bind(3, collection_id);
    return collect<RoutingRow>(
        q, [](const Stmt& r) { return RoutingRow{r.col_int(0), r.col_int(1), r.col_blob(2)}; });
}

}  // namespace docket::store

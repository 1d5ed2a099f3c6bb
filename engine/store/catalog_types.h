#pragma once
// Plain rows of the store's catalog: collections, their documents and the documents' segments (the text a
// snapshot was prefilled from), BM25 hits and routing keys. Written by ingest, read by query and the API.
#include <cstdint>
#include <string>
#include <vector>

#include "util/hash128.h"

namespace docket::store {

struct CollectionRow {
    int64_t id = 0;
    std::string name;
    int64_t documents = 0, segments = 0, tokens = 0;
};

// Document states: ingesting (segments being prefilled), ready, error (unreadable; `error` says why).
struct DocumentRow {
    int64_t id = 0, collection_id = 0;
    std::string path, title, format, encoding, status, error;
    Hash128 content_hash;
    int64_t bytes = 0, chars = 0, tokens = 0, segments = 0;
};

// What ingest knows of a document before its segments are written.
struct DocumentMeta {
    std::string title, format, encoding;
    int64_t bytes = 0, chars = 0;
};

struct SegmentRow {
    int64_t id = 0, document_id = 0;
    int ordinal = 0;
    Hash128 content_hash;    // the snapshot key's content field: hash of the segment's prefilled token ids
    int64_t n_tokens = 0;    // tokens of the prefilled segment (its header included)
    int64_t char_begin = 0;  // byte span of `text` in the document's text
    int64_t char_end = 0;
    int line_begin = 0, line_end = 0;  // 1-based, inclusive
    std::string text;
};

struct TextHit {
    int64_t segment_id = 0;
    int64_t document_id = 0;
    double score = 0.0;  // higher is better (negated FTS5 bm25)
};

struct RoutingRow {
    int64_t segment_id = 0;
    int64_t document_id = 0;
    std::vector<uint8_t> data;  // the query room's encoding of the segment's page key summaries
};

}  // namespace docket::store

#pragma once
// Citations by attention (ARCHITECTURE.md): the answer's tokens' attention mass per context row, summed per
// placed segment; the segments that drew a real share of it are cited, each at its most attended 64-token page,
// widened to the sentence(s) around it for the quote.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kv/workspace.h"

namespace docket::query {

struct PlacedSegment {
    kv::SegmentRef segment;
    int32_t first = 0, n = 0;  // rows in the composed cache
};

struct CitationInfo {
    int64_t segment_id = 0, document_id = 0;
    std::string document, title;  // path, title
    int ordinal = 0;
    int64_t char_begin = 0, char_end = 0;  // byte span in the document's text
    int line_begin = 0, line_end = 0;      // 1-based, inclusive
    std::string quote;
    double weight = 0.0;  // share of the answer's attention on context segments, 0..1
};

struct CitationOptions {
    double min_share = 0.15;  // a segment is cited when it draws at least this share of the segment mass
    int max_citations = 3;
    size_t max_quote_bytes = 300;
};

// mass: per cache row, as ForwardProbe::mass after the answer's decode steps.
std::vector<CitationInfo> cite(const kv::Workspace& ws, const std::vector<PlacedSegment>& placed,
                               const std::vector<double>& mass, const CitationOptions& opt = {});

// Bytes [begin, end) of `text` widened to the enclosing sentence ends while at most max_bytes long, on UTF-8
// character boundaries.
std::pair<size_t, size_t> widen_to_sentences(const std::string& text, size_t begin, size_t end,
                                             size_t max_bytes);
// Runs of whitespace become one space; leading and trailing whitespace goes.
std::string fold_whitespace(std::string_view t);

}  // namespace docket::query

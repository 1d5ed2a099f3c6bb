#pragma once
// What `docket-cli eval` computes without the engine: reading a QA file's lines, scoring an answer against
// the accepted strings (SQuAD-style normalization, containment, token F1; set F1 for list questions), finding
// the annotated evidence in a document's text, and choosing an oracle context. Kept apart so tests can reach
// it.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docket::cli::eval {

struct QaItem {
    std::string id, scope, qtype, question;
    std::vector<std::string> answers;
    std::vector<std::string> doc_ids;
    std::optional<int64_t> evidence_offset;  // Python character index into the document's text
    std::string evidence;                    // "" when the line has none
    std::string gold_doc;                    // comparisons: the document that answers them ("" when none)
};

// One line of a QA file (a JSON object). The error names the line number and what is wrong.
Result<QaItem> parse_qa_line(const std::string& line, int64_t line_no);

// Dates made canonical (api/text.h canonical_dates), then lowercase (ASCII), ASCII punctuation deleted, the
// articles a/an/the dropped, whitespace folded to one space.
std::string normalize_answer(std::string_view s);
// Whether a non-empty normalized answer occurs in the normalized prediction as whole words.
bool contains_answer(std::string_view prediction, const std::vector<std::string>& answers);
// SQuAD token F1 of one answer; both empty: 1, one empty: 0.
double token_f1(std::string_view prediction, std::string_view answer);
// The best token_f1 over the answers (0 with no answers).
double best_token_f1(std::string_view prediction, const std::vector<std::string>& answers);
// Set F1 of predicted against gold items (list questions): both empty: 1.
double set_f1(const std::set<std::string>& predicted, const std::set<std::string>& gold);

// Byte offset of the `chars`-th code point of UTF-8 text (text.size() when past the end).
int64_t utf8_byte_offset(std::string_view text, int64_t chars);

struct ByteSpan {
    int64_t begin = 0, end = 0;
};
// The evidence's byte span in the document text: at the character offset when it lies inside the text
// (length: the evidence's), else where the evidence (its part before a "<omitted>" gap) occurs; nullopt when
// neither.
std::optional<ByteSpan> locate_evidence(std::string_view text, std::optional<int64_t> char_offset,
                                        const std::string& evidence);

struct SegmentSpan {
    int ordinal = 0;
    int64_t begin = 0, end = 0;  // byte span
    int64_t tokens = 0;
};
// Ordinals of the segments overlapping the span.
std::vector<int> segments_holding(const std::vector<SegmentSpan>& segments, ByteSpan span);
// The oracle context: the segments holding the evidence, then neighbours alternately after and before, while
// they fit the token budget; returned in document order. The evidence segments are kept even over budget.
std::vector<int> oracle_context(const std::vector<SegmentSpan>& segments, ByteSpan evidence,
                                int64_t budget_tokens);

// Archive questions (scope other than single_doc): what they are scored as, from their qtype ("..._count",
// "..._compare", else a list).
enum class ArchiveScoring { list, count, compare };
ArchiveScoring archive_scoring(const QaItem& q);
const char* archive_scoring_name(ArchiveScoring s);  // list, count, compare: as `ask --scope archive` reports

// An archive question's gold on one collection. A comparison applies when both its documents are in the
// collection. A list or count question is about the QA set's whole archive; on a part of it (every
// collection document an archive document) its gold is its documents that the collection holds.
struct ArchiveGold {
    std::string skip;                 // why the question cannot be scored on this collection ("" when it can)
    std::set<std::string> documents;  // list, count: the gold document ids within the collection
    std::string gold_doc;             // compare
};
ArchiveGold archive_gold(const QaItem& q, const std::set<std::string>& collection,
                         const std::set<std::string>& archive);
// 0..1: set F1 of the predicted documents (list), exact count (count: the number predicted), the chosen
// document (compare).
double archive_score(ArchiveScoring s, const ArchiveGold& gold, const std::set<std::string>& predicted,
                     const std::string& chosen);

// A running mean (of a score over the questions it applies to).
struct Mean {
    double sum = 0;
    int64_t n = 0;
    void add(double v) {
        sum += v;
        ++n;
    }
    double value() const { return n ? sum / static_cast<double>(n) : 0.0; }
};

}  // namespace docket::cli::eval

#pragma once
// Questions about a whole archive (`ask --scope archive`): map a per-document question over the candidate
// documents, each answered from its own most relevant segments' stored KV (query::answer with the document's
// segments as context), then combine in code: a list of the documents that satisfy the question, their count,
// or which of two named documents is earlier or later (their dates parsed from the answers).
//
// Candidates: every ready document of the collection for list and count questions. Retrieval does not prune
// them: the question's words are OR'ed, so nearly every contract matches some of them ("laws", "agreement"),
// while a contract can satisfy the question in words it does not share (no stemming: "terminate" vs
// "terminated"), so a cut would save little and could drop a true match. The documents are mapped best
// match first, so the likeliest matches stream early. A comparison maps only over the documents it names,
// found by BM25 of their names over the documents' titles and passages.
#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "query/answerer.h"
#include "query/archive_question.h"

namespace docket::query {

struct DocumentVerdict {
    int64_t document_id = 0;
    std::string document, title;  // path, title
    std::string answer;           // the model's answer to the per-document question
    bool matched = false;         // list, count: the document satisfies the question
    std::optional<Date> date;     // compare: the date read from the answer (or its top citation's quote)
    std::vector<CitationInfo> citations;  // into this document (only its segments were in context)
    int64_t context_tokens = 0, recomputed = 0;
};

struct ArchiveEvents {
    std::function<void(const std::string& text)> on_text;     // the combined answer as it grows
    std::function<void(const CitationInfo&)> on_citation;     // one per document named in the answer
    std::function<void(const DocumentVerdict&)> on_document;  // each document as its map pass ends
    // Before each document (done of total, the document's title) and once at the end (done == total).
    std::function<void(int64_t done, int64_t total, const std::string& current)> on_progress;
};

struct ArchiveResult {
    ArchiveQuestion question;
    std::string text;
    std::vector<DocumentVerdict> documents;  // every document mapped, in map order
    std::vector<size_t> matched;             // list, count: indices into documents
    int chosen = -1;  // compare: index of the earlier (or later) document; -1 undecided
    int64_t documents_total = 0;
    double ttft_s = 0.0, total_s = 0.0;
};

// Per-document passes share `opt` (mode docket or rag, retrieval, recompute); budget_tokens is each
// document's budget, and answers are capped at kMapAnswerTokens.
inline constexpr int kMapAnswerTokens = 48;

Result<ArchiveResult> answer_archive(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                     const AskOptions& opt, const ArchiveEvents& events,
                                     const std::atomic<bool>* cancel);

}  // namespace docket::query

#pragma once
// Answering one question over a collection, in three modes that share prompt, retrieval and decoding:
//   docket  retrieval (BM25 + KV routing), the chosen segments' stored KV composed at their new offsets
//           (no re-prefill of the documents), the question prefilled on top;
//   rag     BM25's top segments as plain text, the whole prompt prefilled (what other local apps do);
//   oracle  given segments (the gold evidence, for evaluation) as plain text, full prefill.
// Tokens stream as text; citations come from the answer's attention mass (query/citations.h).
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "query/citations.h"
#include "query/retriever.h"

namespace docket::query {

enum class Mode { docket, rag, oracle };

// The default context budget when the model's context allows more. On the sample archive SmolLM2-135M answered
// the governing-law question right with 700-1,200 tokens of retrieved context and drifted into invented law with
// 2,000 or more (tests/bench/RESULTS.md, "Ask path"); to be re-chosen from the eval tables per model.
inline constexpr int64_t kDefaultBudget = 1200;
const char* mode_name(Mode m);

struct AskOptions {
    Mode mode = Mode::docket;
    Retrieval retrieval = Retrieval::bm25;  // docket mode; rag always uses BM25
    int64_t budget_tokens = 0;              // segment tokens in context; 0: kDefaultBudget or what the context allows
    int max_answer_tokens = 64;
    double recompute = 0.0;                   // docket mode: share of context tokens recomputed (kv/blend.h)
    std::vector<int64_t> oracle_segments;     // oracle mode: the segments to put in context, in order
    // docket and rag modes: these segments (in order) instead of retrieval's choice; an archive question's
    // map passes give each document's own (query/archive.h).
    std::vector<int64_t> context_segments;
};

struct AnswerEvents {
    std::function<void(const std::string& text)> on_text;  // streamed pieces of the answer (valid UTF-8)
    std::function<void(const CitationInfo&)> on_citation;
};

struct AnswerResult {
    std::string text;
    std::vector<CitationInfo> citations;
    std::vector<Candidate> context;  // the segments placed, in composition order
    int64_t context_tokens = 0, answer_tokens = 0, recomputed = 0;  // recomputed: segments without a usable snapshot
    int64_t blended_tokens = 0;                                       // tokens refreshed by selective recompute
    double ttft_s = 0.0, total_s = 0.0;
    std::string stop;  // eog, max_tokens, context_full, cancelled
};

// The budget `opt` asks for, checked against the model's context: an error names both when the prefix, the
// question and the answer leave less than one segment's room.
Result<int64_t> context_budget(const kv::Workspace& ws, const std::string& question, const AskOptions& opt);

Result<AnswerResult> answer(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                            const AskOptions& opt, const AnswerEvents& events, const std::atomic<bool>* cancel);

}  // namespace docket::query

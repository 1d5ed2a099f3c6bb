#pragma once
// Retrieval over a whole collection: BM25 over segment text (FTS5), KV routing (the question's queries against
// per-page key summaries, kv/routing_keys.h), and their fusion by reciprocal rank. The chosen segments fit a
// token budget and are returned in composition order.
#include <atomic>
#include <string>
#include <vector>

#include "kv/workspace.h"

namespace docket::query {

enum class Retrieval { bm25, routing, fusion };
const char* retrieval_name(Retrieval r);

struct Candidate {
    kv::SegmentRef segment;
    double bm25 = 0.0, routing = 0.0, fused = 0.0;  // raw scores (higher is better); fused: RRF
    int bm25_rank = -1, routing_rank = -1;          // 0-based; -1: not ranked by that method
};

struct RetrievalOptions {
    Retrieval method = Retrieval::fusion;
    int64_t budget_tokens = 2048;  // segment tokens (headers included) the context may hold
    int bm25_limit = 100;          // BM25 hits considered
};

// The FTS5 MATCH expression for a question: its content words (lowercased, stop words dropped), OR'ed and
// quoted so no word is read as FTS syntax. Empty when the question has no content word.
std::string fts_query(const std::string& question);

// Ranks the collection's segments for `question` and picks the best under the budget. Composition order:
// documents by ascending best score (the most relevant nearest the question), segments by ordinal.
Result<std::vector<Candidate>> retrieve(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                        const RetrievalOptions& opt, const std::atomic<bool>* cancel);

// The segments ranked by one method, best first, without a budget (for measurements).
Result<std::vector<Candidate>> rank(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                    const RetrievalOptions& opt, const std::atomic<bool>* cancel);

// Picks candidates (best first) under the budget and puts them in composition order.
std::vector<Candidate> select_under_budget(std::vector<Candidate> ranked, int64_t budget_tokens);

}  // namespace docket::query

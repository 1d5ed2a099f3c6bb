#include "query/retriever.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>

#include "kv/routing_keys.h"

namespace docket::query {
namespace {

// Common English function words and question words: they match everywhere and rank nothing.
const std::set<std::string>& stop_words() {
    static const std::set<std::string> w = {
        "a",     "an",    "and",   "are",   "as",    "at",    "be",    "by",    "can",   "did",   "do",
        "does",  "for",   "from",  "had",   "has",   "have",  "how",   "i",     "if",    "in",    "is",
        "it",    "its",   "of",    "on",    "or",    "that",  "the",   "their", "there", "these", "this",
        "those", "to",    "was",   "were",  "what",  "when",  "where", "which", "who",   "whom",  "whose",
        "why",   "will",  "with",  "would", "under", "any",   "all",   "such",  "into",  "than",  "then",
        "so",    "not",   "no",    "may",   "shall", "must",  "should", "between", "per"};
    return w;
}

constexpr double kRrfK = 60.0;  // reciprocal-rank fusion constant (Cormack et al.)

Result<kv::SegmentRef> load_ref(store::Store& st, int64_t segment_id,
                                std::unordered_map<int64_t, store::DocumentRow>& docs) {
    DK_ASSIGN_OR_RETURN(store::SegmentRow row, st.segment(segment_id));
    auto it = docs.find(row.document_id);
    if (it == docs.end()) {
        DK_ASSIGN_OR_RETURN(store::DocumentRow d, st.document(row.document_id));
        it = docs.emplace(row.document_id, std::move(d)).first;
    }
    return kv::SegmentRef{std::move(row), it->second.title, it->second.path};
}

// The question's mean pre-RoPE queries at the routing layers: the question turn prefilled after the prefix.
Result<kv::QueryDigest> question_digest(kv::Workspace& ws, const std::string& question,
                                        const std::atomic<bool>* cancel) {
    const auto tokens = ws.frame().question_tokens(question);
    DK_ASSIGN_OR_RETURN(auto session,
                        ws.session_with_prefix(ws.prefix_tokens() + static_cast<int32_t>(tokens.size())));
    ForwardProbe probe;
    probe.query_layers = kv::routing_layers(ws.config());
    session->set_probe(&probe);
    Status s = ws.prefill(*session, tokens, LogitsMode::none, nullptr, cancel);
    session->set_probe(nullptr);
    DK_TRY(s);
    return kv::digest_queries(ws.config(), probe);
}

using Scores = std::vector<std::pair<int64_t, double>>;  // (segment id, score), best first

Result<Scores> bm25_scores(kv::Workspace& ws, int64_t collection_id, const std::string& question, int limit) {
    const std::string match = fts_query(question);
    if (match.empty()) return Scores{};
    DK_ASSIGN_OR_RETURN(auto hits, ws.store().search_text(collection_id, match, limit));
    Scores out;
    for (const auto& h : hits) out.emplace_back(h.segment_id, h.score);
    return out;
}

// Documents ranked by their first segment's BM25 (a contract names itself and its parties there, and
// questions name the contract): document id -> rank.
Result<std::unordered_map<int64_t, int>> document_ranks(kv::Workspace& ws, int64_t collection_id,
                                                        const std::string& question, int limit) {
    std::unordered_map<int64_t, int> out;
    const std::string match = fts_query(question);
    if (match.empty()) return out;
    DK_ASSIGN_OR_RETURN(auto hits, ws.store().search_text(collection_id, match, limit, /*first_segments=*/true));
    for (const auto& h : hits) out.emplace(h.document_id, static_cast<int>(out.size()));
    return out;
}

Result<Scores> routing_scores(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                              const std::atomic<bool>* cancel) {
    DK_ASSIGN_OR_RETURN(kv::QueryDigest q, question_digest(ws, question, cancel));
    DK_ASSIGN_OR_RETURN(auto rows, ws.store().routing_keys(collection_id, ws.model_fingerprint(),
                                                           ws.frame().prefix_hash()));
    Scores out;
    for (const auto& r : rows) {
        auto s = kv::score_routing(ws.config(), r.data, q);
        if (s) out.emplace_back(r.segment_id, *s);  // a damaged blob only drops that segment from routing
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
}

}  // namespace

const char* retrieval_name(Retrieval r) {
    return r == Retrieval::bm25 ? "bm25" : r == Retrieval::routing ? "routing" : "fusion";
}

std::string fts_query(const std::string& question) {
    std::vector<std::string> words;
    std::set<std::string> seen;
    std::string w;
    auto flush = [&] {
        if (w.size() >= 2 && !stop_words().count(w) && seen.insert(w).second) words.push_back(w);
        w.clear();
    };
    for (unsigned char ch : question) {
        if (std::isalnum(ch) || ch >= 0x80)
            w += static_cast<char>(ch < 0x80 ? std::tolower(ch) : ch);
        else
            flush();
    }
    flush();
    std::string out;
    for (const auto& x : words) out += (out.empty() ? "\"" : " OR \"") + x + "\"";
    return out;
}

Result<std::vector<Candidate>> rank(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                    const RetrievalOptions& opt, const std::atomic<bool>* cancel) {
    Scores bm25, routing;
    if (opt.method != Retrieval::routing) {
        DK_ASSIGN_OR_RETURN(bm25, bm25_scores(ws, collection_id, question, opt.bm25_limit));
    }
    if (opt.method != Retrieval::bm25) {
        DK_ASSIGN_OR_RETURN(routing, routing_scores(ws, collection_id, question, cancel));
    }
    std::map<int64_t, Candidate> by_id;
    for (size_t i = 0; i < bm25.size(); ++i) {
        Candidate& c = by_id[bm25[i].first];
        c.bm25 = bm25[i].second;
        c.bm25_rank = static_cast<int>(i);
        c.fused += 1.0 / (kRrfK + i + 1);
    }
    // Routing ranks every segment; in fusion only its top ranks add weight (as deep as BM25 looks).
    const size_t deep = opt.method == Retrieval::routing ? routing.size() : std::min<size_t>(routing.size(), opt.bm25_limit);
    for (size_t i = 0; i < deep; ++i) {
        Candidate& c = by_id[routing[i].first];
        c.routing = routing[i].second;
        c.routing_rank = static_cast<int>(i);
        c.fused += 1.0 / (kRrfK + i + 1);
    }
    DK_ASSIGN_OR_RETURN(auto doc_rank, document_ranks(ws, collection_id, question, opt.bm25_limit));
    std::unordered_map<int64_t, store::DocumentRow> docs;
    std::vector<Candidate> out;
    for (auto& [id, c] : by_id) {
        DK_ASSIGN_OR_RETURN(c.segment, load_ref(ws.store(), id, docs));
        // The document's own rank joins the fusion: a passage of the contract the question names outranks a
        // like passage of another contract.
        if (auto it = doc_rank.find(c.segment.row.document_id); it != doc_rank.end())
            c.fused += 1.0 / (kRrfK + it->second + 1);
        out.push_back(std::move(c));
    }
    std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
        return a.fused != b.fused ? a.fused > b.fused : a.segment.row.id < b.segment.row.id;
    });
    return out;
}

std::vector<Candidate> select_under_budget(std::vector<Candidate> ranked, int64_t budget_tokens) {
    std::vector<Candidate> chosen;
    int64_t used = 0;
    for (Candidate& c : ranked) {
        if (used + c.segment.row.n_tokens > budget_tokens) continue;  // a smaller one may still fit
        used += c.segment.row.n_tokens;
        chosen.push_back(std::move(c));
    }
    std::map<int64_t, double> doc_best;
    for (const Candidate& c : chosen)
        doc_best[c.segment.row.document_id] = std::max(doc_best[c.segment.row.document_id], c.fused);
    std::sort(chosen.begin(), chosen.end(), [&](const Candidate& a, const Candidate& b) {
        const double da = doc_best[a.segment.row.document_id], db = doc_best[b.segment.row.document_id];
        if (a.segment.row.document_id != b.segment.row.document_id)
            return da != db ? da < db : a.segment.row.document_id < b.segment.row.document_id;
        return a.segment.row.ordinal < b.segment.row.ordinal;
    });
    return chosen;
}

Result<std::vector<Candidate>> retrieve(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                        const RetrievalOptions& opt, const std::atomic<bool>* cancel) {
    DK_ASSIGN_OR_RETURN(auto ranked, rank(ws, collection_id, question, opt, cancel));
    return select_under_budget(std::move(ranked), opt.budget_tokens);
}

}  // namespace docket::query

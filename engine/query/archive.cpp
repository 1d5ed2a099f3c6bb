#include "query/archive.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "util/log.h"

namespace docket::query {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// A document to map and the segments its pass places, in document order.
struct MapTarget {
    store::DocumentRow doc;
    std::vector<int64_t> segments;
};

std::string display_name(const std::string& title, const std::string& path) {
    const std::filesystem::path p(path);
    const std::string file = p.filename().string();
    return title.empty() || title == p.stem().string() ? file : fmt::format("{} ({})", title, file);
}

// The first line of a map answer, bounded: the fact shown beside a matching document.
std::string short_fact(const std::string& answer) {
    std::string s = fold_whitespace(answer.substr(0, answer.find('\n')));
    constexpr size_t kMax = 200;
    if (s.size() > kMax) {
        size_t cut = kMax;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // a UTF-8 boundary
        s = s.substr(0, cut) + "...";
    }
    return s;
}

Result<std::vector<store::DocumentRow>> ready_documents(store::Store& st, int64_t collection_id) {
    DK_ASSIGN_OR_RETURN(auto docs, st.list_documents(collection_id));
    std::erase_if(docs, [](const store::DocumentRow& d) { return d.status != "ready"; });
    return docs;
}

// The documents a comparison names: for each name, the document of its best BM25 passage (the title column
// weighs double), two names never resolving to one document. Any passage, not only the first: a document's
// first segment may be its heading alone, with the parties in the next.
Result<std::vector<store::DocumentRow>> named_documents(kv::Workspace& ws, int64_t collection_id,
                                                        const std::vector<std::string>& names,
                                                        const std::vector<store::DocumentRow>& ready) {
    std::vector<store::DocumentRow> out;
    for (const std::string& name : names) {
        const std::string match = fts_query(name);
        if (match.empty()) return make_error(ErrorCode::invalid_argument, "'{}' names no document", name);
        DK_ASSIGN_OR_RETURN(auto hits,
                            ws.store().search_text(collection_id, match, 200));
        const store::DocumentRow* found = nullptr;
        for (const store::TextHit& h : hits) {
            const bool taken =
                std::any_of(out.begin(), out.end(), [&](const auto& d) { return d.id == h.document_id; });
            auto it = std::find_if(ready.begin(), ready.end(),
                                   [&](const auto& d) { return d.id == h.document_id; });
            if (!taken && it != ready.end()) {
                found = &*it;
                break;
            }
        }
        if (!found)
            return make_error(ErrorCode::not_found, "no document of the collection matches '{}'", name);
        out.push_back(*found);
    }
    return out;
}

Candidate candidate_of(const store::SegmentRow& row, const store::DocumentRow& doc) {
    Candidate c;
    c.segment = {row, doc.title, doc.path};
    return c;
}

// Each document's context for the map question: its best-ranked segments under the budget (the opening
// first when `opening_first`: a contract states its date and parties there; the opening onwards when no
// segment of it ranked). Targets come best document first.
Result<std::vector<MapTarget>> plan(kv::Workspace& ws, int64_t collection_id, const std::string& search,
                                    const std::vector<store::DocumentRow>& docs, const AskOptions& opt,
                                    int64_t budget, bool opening_first, const std::atomic<bool>* cancel) {
    RetrievalOptions ro;
    ro.method = opt.mode == Mode::rag ? Retrieval::bm25 : opt.retrieval;
    ro.budget_tokens = budget;
    int64_t segments = 0;
    for (const auto& d : docs) segments += d.segments;
    ro.bm25_limit =
        static_cast<int>(std::clamp<int64_t>(segments * 4, 100, 1'000'000));  // every segment's hit
    DK_ASSIGN_OR_RETURN(auto ranked, rank(ws, collection_id, search, ro, cancel));
    std::map<int64_t, std::vector<Candidate>> by_doc;  // rank order within each document
    std::map<int64_t, size_t> first_rank;
    for (size_t i = 0; i < ranked.size(); ++i) {
        const int64_t d = ranked[i].segment.row.document_id;
        first_rank.emplace(d, i);
        by_doc[d].push_back(std::move(ranked[i]));
    }
    std::vector<MapTarget> out;
    for (const store::DocumentRow& doc : docs) {
        std::vector<Candidate> order;
        auto& hits = by_doc[doc.id];
        if (opening_first || hits.empty()) {
            DK_ASSIGN_OR_RETURN(auto rows, ws.store().segments_of(doc.id));
            for (const auto& r : rows)
                if (r.ordinal == 0 || hits.empty()) order.push_back(candidate_of(r, doc));
        }
        for (auto& c : hits)
            if (!(opening_first && c.segment.row.ordinal == 0)) order.push_back(std::move(c));
        MapTarget t{doc, {}};
        for (const Candidate& c : select_under_budget(std::move(order), budget))
            t.segments.push_back(c.segment.row.id);
        if (t.segments.empty())
            return make_error(ErrorCode::invalid_argument, "{}: no segment fits the budget of {} tokens",
                              doc.path, budget);
        out.push_back(std::move(t));
    }
    std::stable_sort(out.begin(), out.end(), [&](const MapTarget& a, const MapTarget& b) {
        const auto ra = first_rank.find(a.doc.id), rb = first_rank.find(b.doc.id);
        const size_t xa = ra == first_rank.end() ? SIZE_MAX : ra->second;
        const size_t xb = rb == first_rank.end() ? SIZE_MAX : rb->second;
        return xa < xb;
    });
    return out;
}

// Reads one document's map answer: a verdict, or a date (from the answer, else from the sentence the answer
// attended to most). A yes counts only when the passages the answer rests on (the document's placed
// segments, not the answer, which may just echo the question) state what the condition names: the fact
// that decides it.
void read_answer(const ArchiveQuestion& q, const AnswerResult& r, DocumentVerdict& v) {
    if (q.kind != ArchiveKind::compare) {
        std::string passages;
        for (const Candidate& c : r.context) passages += c.segment.row.text + "\n";
        v.matched = read_verdict(v.answer) && grounded(q.terms, q.cues, passages);
        return;
    }
    v.date = parse_date(v.answer);
    if (!v.date && !v.citations.empty()) v.date = parse_date(v.citations.front().quote);
}

// The comparison's conclusion, and which document it chose (-1: undecided).
std::string conclude_comparison(const ArchiveQuestion& q, const std::vector<DocumentVerdict>& d,
                                int* chosen) {
    *chosen = -1;
    auto name = [](const DocumentVerdict& v) { return display_name(v.title, v.document); };
    for (const DocumentVerdict& v : d)
        if (!v.date)
            return fmt::format("Cannot tell: no date was found for {} (its answer: \"{}\").\n", name(v),
                               short_fact(v.answer));
    const int c = compare_dates(*d[0].date, *d[1].date);
    if (c == 0)
        return fmt::format("Cannot tell them apart: {} is dated {} and {} {}.\n", name(d[0]),
                           format_date(*d[0].date), name(d[1]), format_date(*d[1].date));
    *chosen = (c < 0) == q.earlier ? 0 : 1;
    const DocumentVerdict& a = d[*chosen];
    const DocumentVerdict& b = d[1 - *chosen];
    const std::string event = q.event.empty() ? "dated" : q.event;
    return fmt::format("{} was {} {} ({}) than {} ({}).\n", name(a), event, q.earlier ? "earlier" : "later",
                       format_date(*a.date), name(b), format_date(*b.date));
}

}  // namespace

Result<ArchiveResult> answer_archive(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                     const AskOptions& opt, const ArchiveEvents& events,
                                     const std::atomic<bool>* cancel) {
    const auto t0 = Clock::now();
    if (opt.mode == Mode::oracle)
        return make_error(ErrorCode::invalid_argument, "archive questions are asked in docket or rag mode");
    ArchiveResult res;
    res.question = read_archive_question(question);
    const ArchiveQuestion& q = res.question;
    AskOptions ao = opt;
    ao.max_answer_tokens = std::min(opt.max_answer_tokens, kMapAnswerTokens);
    DK_ASSIGN_OR_RETURN(ao.budget_tokens, context_budget(ws, q.map_question, ao));
    DK_ASSIGN_OR_RETURN(auto docs, ready_documents(ws.store(), collection_id));
    if (q.kind == ArchiveKind::compare) {
        DK_ASSIGN_OR_RETURN(docs, named_documents(ws, collection_id, q.named, docs));
    }
    DK_ASSIGN_OR_RETURN(auto targets, plan(ws, collection_id, q.search, docs, ao, ao.budget_tokens,
                                           q.kind == ArchiveKind::compare, cancel));
    res.documents_total = static_cast<int64_t>(targets.size());
    DK_LOG_INFO("archive question ({}): {} documents, map question \"{}\"", archive_kind_name(q.kind),
                targets.size(), q.map_question);
    auto emit = [&](const std::string& text) {
        if (res.text.empty()) res.ttft_s = seconds_since(t0);
        res.text += text;
        if (events.on_text) events.on_text(text);
    };
    auto cite_top = [&](const DocumentVerdict& v) {
        if (!v.citations.empty() && events.on_citation) events.on_citation(v.citations.front());
    };
    for (const MapTarget& t : targets) {
        if (cancel && cancel->load())
            return make_error(ErrorCode::cancelled, "the archive question was cancelled");
        if (events.on_progress)
            events.on_progress(static_cast<int64_t>(res.documents.size()), res.documents_total, t.doc.title);
        ao.context_segments = t.segments;
        DK_ASSIGN_OR_RETURN(AnswerResult r, answer(ws, collection_id, q.map_question, ao, {}, cancel));
        DocumentVerdict v{t.doc.id,     t.doc.path,  t.doc.title,      r.text,      false,
                          std::nullopt, r.citations, r.context_tokens, r.recomputed};
        read_answer(q, r, v);
        res.documents.push_back(std::move(v));
        const DocumentVerdict& done = res.documents.back();
        if (events.on_document) events.on_document(done);
        if (done.matched) {
            res.matched.push_back(res.documents.size() - 1);
            emit(fmt::format("- {}: {}\n", display_name(done.title, done.document), short_fact(done.answer)));
            cite_top(done);
        }
    }
    if (events.on_progress) events.on_progress(res.documents_total, res.documents_total, "");
    const size_t n = res.documents.size();
    if (q.kind == ArchiveKind::compare) {
        emit(conclude_comparison(q, res.documents, &res.chosen));
        for (const DocumentVerdict& v : res.documents) cite_top(v);
    } else if (q.kind == ArchiveKind::count) {
        emit(fmt::format("Count: {} of the {} documents.\n", res.matched.size(), n));
    } else {
        emit(res.matched.empty() ? fmt::format("None of the {} documents.\n", n)
                                 : fmt::format("{} of the {} documents.\n", res.matched.size(), n));
    }
    res.total_s = seconds_since(t0);
    DK_LOG_INFO("archive question answered in {:.2f} s: {} of {} documents matched", res.total_s,
                res.matched.size(), n);
    return res;
}

}  // namespace docket::query

#include "query/answerer.h"

#include <chrono>
#include <unordered_map>

#include "kv/blend.h"
#include "runtime/generate.h"
#include "util/log.h"

namespace docket::query {
namespace {

using Clock = std::chrono::steady_clock;
using telemetry::Counters;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Attention mass for citations is read from the upper half of the layers, where attention follows meaning
// more than position (the lower layers spread it over neighbours and the prefix).
std::vector<int32_t> mass_layers(const ModelConfig& c) {
    std::vector<int32_t> out;
    for (int32_t l = c.n_layer / 2; l < c.n_layer; ++l) out.push_back(l);
    return out;
}

Result<std::vector<Candidate>> oracle_context(kv::Workspace& ws, const std::vector<int64_t>& ids, int64_t budget) {
    std::vector<Candidate> out;
    int64_t used = 0;
    std::unordered_map<int64_t, store::DocumentRow> docs;
    for (int64_t id : ids) {
        DK_ASSIGN_OR_RETURN(store::SegmentRow row, ws.store().segment(id));
        if (used + row.n_tokens > budget) break;
        used += row.n_tokens;
        if (!docs.count(row.document_id)) {
            DK_ASSIGN_OR_RETURN(store::DocumentRow d, ws.store().document(row.document_id));
            docs.emplace(row.document_id, std::move(d));
        }
        const auto& d = docs.at(row.document_id);
        Candidate c;
        c.segment = {std::move(row), d.title, d.path};
        out.push_back(std::move(c));
    }
    return out;
}

Result<std::vector<Candidate>> choose_context(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                                              const AskOptions& opt, int64_t budget, const std::atomic<bool>* cancel) {
    if (opt.mode == Mode::oracle) return oracle_context(ws, opt.oracle_segments, budget);
    if (!opt.context_segments.empty()) return oracle_context(ws, opt.context_segments, budget);
    RetrievalOptions r;
    r.method = opt.mode == Mode::rag ? Retrieval::bm25 : opt.retrieval;
    r.budget_tokens = budget;
    return retrieve(ws, collection_id, question, r, cancel);
}

// Puts the context into `cache` after the prefix: docket places stored snapshots (then refreshes the most
// deviating tokens when asked), rag and oracle prefill text.
Result<std::vector<PlacedSegment>> build_context(kv::Workspace& ws, Session& cache, const std::vector<Candidate>& ctx,
                                                 const AskOptions& opt, AnswerResult& res,
                                                 const std::atomic<bool>* cancel) {
    std::vector<PlacedSegment> placed;
    std::vector<kv::Placement> placements;
    for (const Candidate& c : ctx) {
        PlacedSegment p{c.segment, cache.size(), 0};
        if (opt.mode == Mode::docket) {
            DK_ASSIGN_OR_RETURN(kv::Placement pl, ws.place(cache, c.segment, cancel));
            p.n = pl.n;
            res.recomputed += pl.recomputed;
            placements.push_back(std::move(pl));
        } else {
            const auto& row = c.segment.row;
            const auto tokens = ws.frame().segment_tokens(c.segment.title, row.ordinal, row.text);
            DK_TRY(ws.prefill(cache, tokens, LogitsMode::none, nullptr, cancel));
            p.n = static_cast<int32_t>(tokens.size());
        }
        placed.push_back(std::move(p));
    }
    if (opt.mode == Mode::docket && opt.recompute > 0.0) {
        auto b = kv::selective_recompute(ws, cache, placements, {opt.recompute}, cancel);
        // A backend that cannot re-run tokens at their own positions (CUDA) answers over the composed context
        // as it is, and says so.
        if (b.status().code() == ErrorCode::unsupported)
            DK_LOG_WARN("selective recompute skipped, the answer uses the composed snapshots as stored: {}",
                        b.status().message());
        else
            DK_TRY(b.status());
        res.blended_tokens = b ? b->recomputed_tokens : 0;
    }
    return placed;
}

}  // namespace

const char* mode_name(Mode m) {
    return m == Mode::docket ? "docket" : m == Mode::rag ? "rag" : "oracle";
}

Result<int64_t> context_budget(const kv::Workspace& ws, const std::string& question, const AskOptions& opt) {
    const int64_t q = static_cast<int64_t>(ws.frame().question_tokens(question).size());
    const int64_t room = ws.n_ctx() - ws.prefix_tokens() - q - opt.max_answer_tokens - 1;
    constexpr int64_t kMinRoom = 256;  // less than a short segment: the model cannot read a document
    if (room < kMinRoom)
        return make_error(ErrorCode::invalid_argument,
                          "the model's context ({} tokens) leaves {} tokens for documents after the prompt ({}), "
                          "the question ({}) and the answer ({}); at least {} are needed",
                          ws.n_ctx(), room, ws.prefix_tokens(), q, opt.max_answer_tokens, kMinRoom);
    if (opt.budget_tokens > room)
        return make_error(ErrorCode::invalid_argument,
                          "budget of {} tokens exceeds what the model's context allows ({} of {} tokens)",
                          opt.budget_tokens, room, ws.n_ctx());
    if (opt.budget_tokens < 0) return make_error(ErrorCode::invalid_argument, "budget must not be negative");
    if (opt.recompute < 0.0 || opt.recompute > 1.0)
        return make_error(ErrorCode::invalid_argument, "recompute share must be within [0, 1], not {}", opt.recompute);
    return opt.budget_tokens > 0 ? opt.budget_tokens : std::min(room, kDefaultBudget);
}

Result<AnswerResult> answer(kv::Workspace& ws, int64_t collection_id, const std::string& question,
                            const AskOptions& opt, const AnswerEvents& events, const std::atomic<bool>* cancel) {
    const auto t0 = Clock::now();
    DK_ASSIGN_OR_RETURN(const int64_t budget, context_budget(ws, question, opt));
    AnswerResult res;
    DK_ASSIGN_OR_RETURN(res.context, choose_context(ws, collection_id, question, opt, budget, cancel));
    const auto qtokens = ws.frame().question_tokens(question);
    int64_t ctx_tokens = 0;
    for (const Candidate& c : res.context) ctx_tokens += c.segment.row.n_tokens;
    // Selective recompute checks the context on rows appended after it: room for the context twice.
    const int64_t check_rows = opt.mode == Mode::docket && opt.recompute > 0.0 ? ctx_tokens : 0;
    const int32_t capacity = static_cast<int32_t>(ws.prefix_tokens() + ctx_tokens + check_rows +
                                                  static_cast<int64_t>(qtokens.size()) + opt.max_answer_tokens + 1);
    DK_ASSIGN_OR_RETURN(auto cache, ws.session_with_prefix(capacity));
    DK_ASSIGN_OR_RETURN(auto placed, build_context(ws, *cache, res.context, opt, res, cancel));
    res.context_tokens = cache->size();

    ForwardProbe probe;
    probe.mass_layers = mass_layers(ws.config());
    GenerationSteps steps;
    steps.prefill = [&](std::vector<float>* logits) {
        cache->set_probe(nullptr);
        Status s = ws.prefill(*cache, qtokens, LogitsMode::last, logits, cancel);
        cache->set_probe(&probe);  // from here on: the answer's tokens
        return s;
    };
    steps.decode = [&](TokenId id, std::vector<float>* logits) {
        return cache->eval(std::span<const TokenId>(&id, 1), LogitsMode::last, logits);
    };
    steps.has_room = [&] { return cache->size() < cache->capacity(); };
    GenerateParams gp;
    gp.max_tokens = opt.max_answer_tokens;
    gp.cancel = cancel;
    const Tokenizer& tok = ws.tokenizer();
    StreamingDecoder dec(tok);
    bool first = true;
    auto emit = [&](const std::string& piece) {
        if (piece.empty()) return;
        res.text += piece;
        if (events.on_text) events.on_text(piece);
    };
    auto on_token = [&](TokenId id) {
        if (first) res.ttft_s = seconds_since(t0);
        first = false;
        if (!tok.is_eog(id)) emit(dec.push(id));
        return true;
    };
    auto st = run_generation(qtokens, gp, steps, [&](TokenId id) { return tok.is_eog(id); }, on_token);
    cache->set_probe(nullptr);
    if (!st) return st.status();
    emit(dec.flush());
    res.answer_tokens = st->generated;
    res.stop = stop_reason_name(st->stop);
    Counters::add(ws.counters().tokens_generated, st->generated);
    if (st->stop == StopReason::cancelled) return make_error(ErrorCode::cancelled, "the answer was cancelled");
    res.citations = cite(ws, placed, probe.mass);
    for (const CitationInfo& c : res.citations)
        if (events.on_citation) events.on_citation(c);
    Counters::add(ws.counters().questions_answered);
    res.total_s = seconds_since(t0);
    DK_LOG_INFO("answered in {:.2f} s (first token {:.2f} s): {} context tokens from {} segments ({} recomputed), "
                "{} answer tokens, mode {}",
                res.total_s, res.ttft_s, res.context_tokens, placed.size(), res.recomputed, res.answer_tokens,
                mode_name(opt.mode));
    return res;
}

}  // namespace docket::query

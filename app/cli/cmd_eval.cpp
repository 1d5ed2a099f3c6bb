// docket-cli eval: asks a collection the questions of a QA file (JSON lines) and scores the answers, or with
// --docs-only scores retrieval alone. Uses only engine/api; the scoring is in eval_score.h.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.h"
#include "engine_cli.h"
#include "eval_archive.h"
#include "eval_score.h"
#include "util/text_escape.h"

namespace docket::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kUsage =
    "usage: docket-cli eval --collection NAME --qa FILE [options]\n"
    "Asks the collection each question of FILE (JSON lines: id, scope, qtype, question, answers, doc_ids,\n"
    "evidence_offset, evidence) whose document is in the collection, and scores the answers: normalized\n"
    "containment and token F1 against the accepted answers (dates compared as dates), evidence recall (the "
    "context holds the "
    "annotated\n"
    "evidence), gold-document recall, time to first token. Tables per question type; Ctrl+C stops after the\n"
    "partial summary. Single-document questions unless --scope archive (the others are counted as skipped).\n"
    "Options:\n"
    "  --collection NAME      the collection (required)\n"
    "  --qa FILE              the questions (required)\n"
    "  --mode M               docket (default), rag, or oracle (the segments holding the evidence and their\n"
    "                         neighbours up to the budget, as text)\n"
    "  --retrieval R          bm25 (default), routing or fusion (docket mode and --docs-only)\n"
    "  --limit N              the first N questions whose document is in the collection\n"
    "  --budget N             context tokens (default: the engine's, as ask)\n"
    "  --max-tokens N         answer length limit (default 64)\n"
    "  --recompute R          docket mode: share of context tokens recomputed (0-1, default 0; as ask)\n"
    "  --docs-only            no answers: gold-document recall@1/@5 and evidence recall of the retrieval\n"
    "  --scope archive        the questions about the whole archive instead (scope other than single_doc),\n"
    "                         asked as `ask --scope archive` does: lists scored by set F1 over document\n"
    "                         ids, counts by exact match, comparisons by the chosen document. A comparison\n"
    "                         needs both its documents in the collection; a list or count question needs\n"
    "                         every collection document to be of the QA set's archive (manifest.jsonl\n"
    "                         beside the QA file, and the documents its questions name) and is scored\n"
    "                         against its gold documents the collection holds. --budget is per document\n"
    "  --json                 one JSON object per question, then a summary object\n"
    "  --rescore FILE         score the answers of an earlier --json run again (no model, no collection:\n"
    "                         after a change to the scoring, e.g. dates written differently now match)\n";

constexpr int64_t kMaxQaBytes = 256ll << 20;
constexpr size_t kMaxLineBytes = 1 << 20;
constexpr int64_t kMaxDocBytes = 512ll << 20;

// Calls f(line, line number) for each non-blank line of a bounded JSON-lines file; f's error stops it,
// prefixed with the path.
template <typename F>
Status for_each_line(const std::string& path, F&& f) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return make_error(ErrorCode::not_found, "{}: not a readable file", path);
    if (const auto size = fs::file_size(path, ec); ec || static_cast<int64_t>(size) > kMaxQaBytes)
        return make_error(ErrorCode::invalid_argument, "{}: larger than {} MiB", path, kMaxQaBytes >> 20);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorCode::io_error, "{}: cannot open", path);
    std::string line;
    for (int64_t no = 1; std::getline(in, line); ++no) {
        if (line.size() > kMaxLineBytes)
            return make_error(ErrorCode::invalid_argument, "{}: line {}: longer than {} bytes", path, no,
                              kMaxLineBytes);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        if (Status st = f(line, no); !st) return make_error(st.code(), "{}: {}", path, st.message());
    }
    return Status::ok();
}

Result<std::vector<eval::QaItem>> read_qa(const std::string& path) {
    std::vector<eval::QaItem> out;
    DK_TRY(for_each_line(path, [&](const std::string& line, int64_t no) -> Status {
        DK_ASSIGN_OR_RETURN(eval::QaItem q, eval::parse_qa_line(line, no));
        out.push_back(std::move(q));
        return Status::ok();
    }));
    return out;
}

Result<std::string> read_text(const std::string& path) {
    std::error_code ec;
    if (const auto size = fs::file_size(path, ec); ec || static_cast<int64_t>(size) > kMaxDocBytes)
        return make_error(ErrorCode::io_error, "{}: cannot read the document (or over {} MiB)", path,
                          kMaxDocBytes >> 20);
    std::ifstream in(path, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) return make_error(ErrorCode::io_error, "{}: read failed", path);
    return s;
}

// A question to ask, with what its gold document says about the evidence.
struct Case {
    eval::QaItem item;
    std::string document;       // path of the gold document as documents() reports it
    std::vector<int> evidence;  // ordinals of the segments holding the evidence (empty: not located)
    std::vector<int> oracle;    // oracle mode: the context's ordinals
};

struct Selection {
    std::vector<Case> cases;
    std::map<std::string, int64_t> skipped;  // reason -> questions
};

struct Settings {
    std::string collection, mode, retrieval;
    int64_t budget = 0, limit = 0;
    int max_tokens = 64;
    double recompute = 0.0;
    bool docs_only = false, json = false;
};

// The gold document's segments, and where the evidence lies in them.
Status locate(Engine& engine, const Settings& cfg, Case& c) {
    DK_ASSIGN_OR_RETURN(auto segs, engine.segments(cfg.collection, c.document));
    auto text = read_text(c.document);
    if (!text) {
        // Moved or unreadable since ingest: the evidence stays unknown (oracle mode skips the question).
        std::fprintf(stderr, "docket-cli eval: %s\n", escape_control(text.status().message(), true).c_str());
        return Status::ok();
    }
    // The engine's spans index the document's decoded text; for UTF-8 files with LF line ends (the QA sets)
    // that is the file itself.
    const auto span = eval::locate_evidence(*text, c.item.evidence_offset, c.item.evidence);
    if (!span) return Status::ok();
    std::vector<eval::SegmentSpan> spans;
    for (const auto& s : segs) spans.push_back({s.ordinal, s.char_begin, s.char_end, s.tokens});
    c.evidence = eval::segments_holding(spans, *span);
    if (cfg.mode == "oracle" && !cfg.docs_only && !c.evidence.empty()) {
        DK_ASSIGN_OR_RETURN(const int64_t budget,
                            engine.context_budget(c.item.question, cfg.budget, cfg.max_tokens));
        c.oracle = eval::oracle_context(spans, *span, budget);
    }
    return Status::ok();
}

Result<Selection> select(Engine& engine, const Settings& cfg, std::vector<eval::QaItem> items) {
    DK_ASSIGN_OR_RETURN(auto docs, engine.documents(cfg.collection));
    std::map<std::string, const DocumentInfo*> by_stem;
    for (const auto& d : docs) by_stem[fs::path(d.path).stem().string()] = &d;
    Selection sel;
    for (auto& q : items) {
        if (cfg.limit > 0 && static_cast<int64_t>(sel.cases.size()) >= cfg.limit) break;
        if (q.scope != "single_doc") {
            ++sel.skipped[fmt::format("scope {} (asked with --scope archive)", q.scope)];
            continue;
        }
        if (q.doc_ids.size() != 1) {
            ++sel.skipped["not exactly one document"];
            continue;
        }
        auto it = by_stem.find(q.doc_ids[0]);
        if (it == by_stem.end()) {
            ++sel.skipped["document not in the collection"];
            continue;
        }
        if (it->second->status != "ready") {
            ++sel.skipped["document not ready (" + it->second->status + ")"];
            continue;
        }
        Case c{std::move(q), it->second->path, {}, {}};
        DK_TRY(locate(engine, cfg, c));
        if (cfg.mode == "oracle" && !cfg.docs_only && c.oracle.empty()) {
            ++sel.skipped["oracle: evidence not found in the document"];
            continue;
        }
        sel.cases.push_back(std::move(c));
    }
    return sel;
}

// Running means of one group of questions (a question type, or all of them).
struct Group {
    eval::Mean contains, f1, evidence, gold_doc, ttft, total, at1, at5;
};

json group_json(const Group& g, bool docs_only) {
    const auto n = std::max({g.contains.n, g.at1.n});
    json j = {{"n", n},
              {"evidence_recall", g.evidence.value()},
              {"evidence_n", g.evidence.n},
              {"gold_doc_recall", g.gold_doc.value()}};
    if (docs_only) {
        j["gold_doc_recall_at_1"] = g.at1.value();
        j["gold_doc_recall_at_5"] = g.at5.value();
    } else {
        j["contains"] = g.contains.value();
        j["f1"] = g.f1.value();
        j["ttft_s"] = g.ttft.value();
        j["total_s"] = g.total.value();
    }
    return j;
}

struct Report {
    std::map<std::string, Group> by_qtype;
    Group all;
    template <typename F>
    void add(const std::string& qtype, F&& f) {
        f(by_qtype[qtype]);
        f(all);
    }
};

bool all_placed(const std::vector<int>& evidence, const std::string& doc,
                const std::vector<std::pair<std::string, int>>& placed) {
    if (evidence.empty()) return false;
    for (int o : evidence)
        if (std::find(placed.begin(), placed.end(), std::make_pair(doc, o)) == placed.end()) return false;
    return true;
}

bool any_from(const std::string& doc, const std::vector<std::pair<std::string, int>>& placed) {
    return std::any_of(placed.begin(), placed.end(), [&](const auto& p) { return p.first == doc; });
}

// Scores one question's retrieval: the documents in rank order, and what the budget lets in.
Result<json> eval_retrieval(Engine& engine, const Settings& cfg, const Case& c, Report& rep) {
    RetrieveRequest rq{cfg.collection, c.item.question, cfg.retrieval, cfg.budget, cfg.max_tokens, 200};
    DK_ASSIGN_OR_RETURN(const Retrieved r, engine.retrieve(rq));
    std::vector<std::string> doc_order;
    for (const auto& s : r.ranked)
        if (std::find(doc_order.begin(), doc_order.end(), s.document) == doc_order.end())
            doc_order.push_back(s.document);
    const auto pos = std::find(doc_order.begin(), doc_order.end(), c.document) - doc_order.begin();
    const int rank = pos < static_cast<long>(doc_order.size()) ? static_cast<int>(pos) : -1;
    std::vector<std::pair<std::string, int>> placed;
    for (const auto& s : r.selected) placed.emplace_back(s.document, s.segment);
    const bool ev = all_placed(c.evidence, c.document, placed), gold = any_from(c.document, placed);
    rep.add(c.item.qtype, [&](Group& g) {
        g.at1.add(rank == 0);
        g.at5.add(rank >= 0 && rank < 5);
        g.gold_doc.add(gold);
        if (!c.evidence.empty()) g.evidence.add(ev);
    });
    json j = {{"id", c.item.id},
              {"qtype", c.item.qtype},
              {"retrieval", cfg.retrieval},
              {"gold_doc_rank", rank},
              {"gold_doc_in_context", gold}};
    j["evidence_in_context"] = c.evidence.empty() ? json(nullptr) : json(ev);
    int64_t tokens = 0;
    for (const auto& s : r.selected) tokens += s.tokens;
    j["context_tokens"] = tokens;
    return j;
}

}  // namespace

Result<AnswerStats> ask_and_wait(Engine& engine, const AskRequest& req, const std::string& id,
                                 bool* interrupted) {
    std::mutex mu;
    AnswerStats stats;
    AnswerSink sink;
    sink.on_done = [&](const Status&, const AnswerStats& s) {
        std::lock_guard lock(mu);
        stats = s;
    };
    Job job = engine.ask(req, sink);
    Status st = wait_job(job, interrupted);
    if (*interrupted) return st.is_ok() ? make_error(ErrorCode::cancelled, "interrupted") : st;
    if (!st) return make_error(st.code(), "question {}: {}", id, st.message());
    std::lock_guard lock(mu);
    return stats;
}

namespace {

// One answered question's scores, folded into the report's groups.
struct AnswerScore {
    bool contains = false;
    double f1 = 0;
    bool gold_doc = false;
    std::optional<bool> evidence;  // none: the question has no annotated evidence
    double ttft_s = 0, total_s = 0;
};

void add_answer(Report& rep, const std::string& qtype, const AnswerScore& a) {
    rep.add(qtype, [&](Group& g) {
        g.contains.add(a.contains);
        g.f1.add(a.f1);
        g.gold_doc.add(a.gold_doc);
        if (a.evidence) g.evidence.add(*a.evidence);
        g.ttft.add(a.ttft_s);
        g.total.add(a.total_s);
    });
}

// Asks one question and scores the answer. Sets *interrupted when Ctrl+C stopped it.
Result<json> eval_answer(Engine& engine, const Settings& cfg, const Case& c, Report& rep, bool* interrupted) {
    AskRequest req;
    req.collection = cfg.collection;
    req.question = c.item.question;
    req.mode = cfg.mode;
    req.retrieval = cfg.retrieval;
    req.budget_tokens = cfg.budget;
    req.max_answer_tokens = cfg.max_tokens;
    req.recompute = cfg.recompute;
    for (int o : c.oracle) req.oracle_segments.emplace_back(c.document, o);
    DK_ASSIGN_OR_RETURN(const AnswerStats stats, ask_and_wait(engine, req, c.item.id, interrupted));
    const bool contains = eval::contains_answer(stats.answer, c.item.answers);
    const double f1 = eval::best_token_f1(stats.answer, c.item.answers);
    const bool ev = all_placed(c.evidence, c.document, stats.context_segments);
    const bool gold = any_from(c.document, stats.context_segments);
    add_answer(rep, c.item.qtype,
               {contains, f1, gold, c.evidence.empty() ? std::nullopt : std::optional(ev), stats.ttft_s,
                stats.total_s});
    json j = {{"id", c.item.id},
              {"qtype", c.item.qtype},
              {"mode", cfg.mode},
              {"question", c.item.question},
              {"answers", c.item.answers},
              {"prediction", stats.answer},
              {"contains", contains},
              {"f1", f1},
              {"gold_doc_in_context", gold},
              {"context", stats.context},
              {"context_tokens", stats.context_tokens},
              {"ttft_s", stats.ttft_s},
              {"total_s", stats.total_s},
              {"stop", stats.stop}};
    j["evidence_in_context"] = c.evidence.empty() ? json(nullptr) : json(ev);
    return j;
}

std::string pct(const eval::Mean& m) {
    return m.n ? fmt::format("{:5.1f}%", 100.0 * m.value()) : std::string("     -");
}

void print_table(const Report& rep, const Settings& cfg) {
    auto row = [&](const std::string& name, const Group& g) {
        if (cfg.docs_only)
            std::printf("%-24s %5lld %8s %8s %9s %9s\n", name.c_str(), static_cast<long long>(g.at1.n),
                        pct(g.at1).c_str(), pct(g.at5).c_str(), pct(g.evidence).c_str(),
                        pct(g.gold_doc).c_str());
        else
            std::printf("%-24s %5lld %8s %8s %9s %9s %8.2f %8.2f\n", name.c_str(),
                        static_cast<long long>(g.contains.n), pct(g.contains).c_str(), pct(g.f1).c_str(),
                        pct(g.evidence).c_str(), pct(g.gold_doc).c_str(), g.ttft.value(), g.total.value());
    };
    if (cfg.docs_only)
        std::printf("%-24s %5s %8s %8s %9s %9s\n", "qtype", "n", "doc@1", "doc@5", "evidence", "gold doc");
    else
        std::printf("%-24s %5s %8s %8s %9s %9s %8s %8s\n", "qtype", "n", "contain", "F1", "evidence",
                    "gold doc", "TTFT s", "total s");
    for (const auto& [name, g] : rep.by_qtype) row(name, g);
    row("all", rep.all);
}

void print_summary(const Report& rep, const Settings& cfg, size_t selected,
                   const std::map<std::string, int64_t>& skipped, int64_t done, bool interrupted) {
    if (cfg.json) {
        json by = json::object();
        for (const auto& [name, g] : rep.by_qtype) by[name] = group_json(g, cfg.docs_only);
        json j = {{"summary", true},
                  {"mode", cfg.docs_only ? std::string("docs-only") : cfg.mode},
                  {"retrieval", cfg.retrieval},
                  {"recompute", cfg.recompute},
                  {"questions", done},
                  {"selected", selected},
                  {"skipped", skipped},
                  {"interrupted", interrupted},
                  {"overall", group_json(rep.all, cfg.docs_only)},
                  {"by_qtype", by}};
        std::printf("%s\n", dump_json(j).c_str());
        return;
    }
    std::string what = cfg.docs_only ? "retrieval " + cfg.retrieval : "mode " + cfg.mode;
    if (!cfg.docs_only && cfg.mode == "docket")
        what += fmt::format(" ({}, recompute {:g})", cfg.retrieval, cfg.recompute);
    std::printf("%s: %lld of %zu questions%s\n", what.c_str(), static_cast<long long>(done), selected,
                interrupted ? " (interrupted)" : "");
    print_table(rep, cfg);
    for (const auto& [why, n] : skipped)
        std::printf("skipped %lld: %s\n", static_cast<long long>(n), why.c_str());
}

Result<Settings> read_settings(const Args& args) {
    Settings s;
    OptionReader o(args);
    const AskRequest a = read_ask_options(o);
    s.collection = a.collection;
    s.mode = a.mode;
    s.retrieval = a.retrieval;
    s.budget = a.budget_tokens;
    s.max_tokens = a.max_answer_tokens;
    s.recompute = a.recompute;
    s.limit = o.get_int("--limit", 0, 1, 1 << 30);
    s.docs_only = args.has("--docs-only");
    s.json = args.has("--json");
    if (!o.ok()) return make_error(ErrorCode::invalid_argument, "{}", o.error());
    if (s.mode != "docket" && s.mode != "rag" && s.mode != "oracle")
        return make_error(ErrorCode::invalid_argument, "unknown mode '{}' (docket, rag, oracle)", s.mode);
    if (s.retrieval != "bm25" && s.retrieval != "routing" && s.retrieval != "fusion")
        return make_error(ErrorCode::invalid_argument, "unknown retrieval '{}' (bm25, routing, fusion)",
                          s.retrieval);
    return s;
}

// Typed fields of a JSON row, with a default when absent or of another type (rows come from a file).
std::string str_or(const json& j, const char* key, const std::string& def = "") {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}
double num_or(const json& j, const char* key, double def = 0) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<double>() : def;
}
std::optional<bool> bool_of(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? std::optional(it->get<bool>()) : std::nullopt;
}

// --rescore FILE: the answers of an earlier `eval --json` run scored again by this build's scorer, without a
// model or a collection, so that runs made before a scoring change stay comparable without asking again.
int rescore(const std::string& path, bool as_json) {
    Report rep;
    Settings cfg;
    cfg.json = as_json;
    std::map<std::string, int64_t> skipped;
    size_t selected = 0;
    int64_t done = 0;
    bool interrupted = false;
    Status st = for_each_line(path, [&](const std::string& line, int64_t no) -> Status {
        json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object()) return make_error(ErrorCode::invalid_argument, "line {}: not a JSON object", no);
        if (bool_of(j, "summary").value_or(false)) {
            cfg.mode = str_or(j, "mode");
            cfg.retrieval = str_or(j, "retrieval");
            cfg.recompute = num_or(j, "recompute");
            selected = static_cast<size_t>(std::max(0.0, num_or(j, "selected")));
            interrupted = bool_of(j, "interrupted").value_or(false);
            if (auto it = j.find("skipped"); it != j.end() && it->is_object())
                for (const auto& [why, n] : it->items())
                    if (n.is_number_integer()) skipped[why] = n.get<int64_t>();
            return Status::ok();
        }
        auto ans = j.find("answers");
        if (!j.contains("prediction") || ans == j.end() || !ans->is_array())
            return make_error(ErrorCode::invalid_argument,
                              "line {}: not an answer row of `eval --json` (prediction and answers)", no);
        std::vector<std::string> answers;
        for (const json& a : *ans)
            if (a.is_string()) answers.push_back(a.get<std::string>());
        const std::string pred = str_or(j, "prediction");
        const AnswerScore a{eval::contains_answer(pred, answers),
                            eval::best_token_f1(pred, answers),
                            bool_of(j, "gold_doc_in_context").value_or(false),
                            bool_of(j, "evidence_in_context"),
                            num_or(j, "ttft_s"),
                            num_or(j, "total_s")};
        add_answer(rep, str_or(j, "qtype", "?"), a);
        ++done;
        j["contains"] = a.contains;
        j["f1"] = a.f1;
        if (as_json) std::printf("%s\n", dump_json(j).c_str());
        return Status::ok();
    });
    if (!st) return fail("eval", st.message());
    cfg.docs_only = false;
    print_summary(rep, cfg, std::max(selected, static_cast<size_t>(done)), skipped, done, interrupted);
    return 0;
}

int run(const std::vector<std::string>& argv) {
    std::vector<std::string> values = kEngineOptions;
    values.insert(values.end(), kAskOptions.begin(), kAskOptions.end());
    values.insert(values.end(), {"--qa", "--limit", "--rescore"});
    Args args(argv, {.values = values, .flags = {"--json", "--docs-only"}});
    if (args.has("--help")) {
        std::printf("%s%s", kUsage, kEngineOptionsHelp);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("eval", s.message(), kUsage);
    if (args.has("--rescore")) {
        auto path = args.get_string("--rescore");
        if (!path) return fail("eval", path.status().message(), 2);
        return rescore(*path, args.has("--json"));
    }
    OptionReader scope_reader(args);
    const AskRequest asked = read_ask_options(scope_reader);
    if (Status s = check_scope(asked); !s) return fail("eval", s.message());
    if (asked.scope == "archive" && args.has("--docs-only"))
        return usage_error("eval", "--docs-only scores single-document retrieval; not with --scope archive",
                           kUsage);
    auto cfg = read_settings(args);
    if (!cfg) return fail("eval", cfg.status().message(), 2);
    auto qa_path = args.get_string("--qa");
    if (!qa_path) return fail("eval", qa_path.status().message(), 2);
    if (cfg->collection.empty()) return usage_error("eval", "--collection NAME is required", kUsage);
    if (qa_path->empty()) return usage_error("eval", "--qa FILE is required", kUsage);
    auto items = read_qa(*qa_path);
    if (!items) return fail("eval", items.status().message());
    auto engine = open_engine(args);
    if (!engine) return fail("eval", engine.status().message());
    if (asked.scope == "archive") {
        auto archive = archive_ids(*qa_path, *items);
        if (!archive) return fail("eval", archive.status().message());
        return eval_archive(**engine, {asked, cfg->limit, cfg->json}, *items, *archive);
    }
    auto sel = select(**engine, *cfg, std::move(*items));
    if (!sel) return fail("eval", sel.status().message());

    InterruptGuard guard;
    Report rep;
    const auto t0 = std::chrono::steady_clock::now();
    int64_t done = 0;
    bool interrupted = false;
    for (const Case& c : sel->cases) {
        if (InterruptGuard::fired()) {
            interrupted = true;
            break;
        }
        auto j = cfg->docs_only ? eval_retrieval(**engine, *cfg, c, rep)
                                : eval_answer(**engine, *cfg, c, rep, &interrupted);
        if (interrupted) break;
        if (!j) return fail("eval", j.status().message());
        if (cfg->json) std::printf("%s\n", dump_json(*j).c_str());
        ++done;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        show_eval_progress(done, static_cast<int64_t>(sel->cases.size()), elapsed, c.item.id);
    }
    print_summary(rep, *cfg, sel->cases.size(), sel->skipped, done, interrupted);
    if (interrupted) {
        std::fprintf(stderr, "docket-cli eval: interrupted after %lld questions\n",
                     static_cast<long long>(done));
        return 130;
    }
    return 0;
}

}  // namespace

Result<std::set<std::string>> archive_ids(const std::string& qa_path,
                                          const std::vector<eval::QaItem>& items) {
    std::set<std::string> ids;
    for (const auto& q : items) ids.insert(q.doc_ids.begin(), q.doc_ids.end());
    const std::string manifest = (fs::path(qa_path).parent_path() / "manifest.jsonl").string();
    std::error_code ec;
    if (!fs::exists(manifest, ec)) return ids;
    DK_TRY(for_each_line(manifest, [&](const std::string& line, int64_t no) -> Status {
        const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
        auto it = j.is_object() ? j.find("doc_id") : j.end();
        if (!j.is_object() || it == j.end() || !it->is_string())
            return make_error(ErrorCode::invalid_argument, "line {}: not a JSON object with a doc_id string",
                              no);
        ids.insert(it->get<std::string>());
        return Status::ok();
    }));
    return ids;
}

std::string dump_json(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void show_eval_progress(int64_t done, int64_t total, double elapsed, const std::string& id) {
    static const bool tty = ::isatty(STDERR_FILENO) && !std::getenv("CI");
    const double eta =
        done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - done) : -1;
    const std::string line = fmt::format("eval {}/{}  {}  ETA {}  {}", done, total, format_duration(elapsed),
                                         eta < 0 ? std::string("estimating") : format_duration(eta), id);
    std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
    if (tty && done == total) std::fprintf(stderr, "\r\033[K");
}

DOCKET_CLI_COMMAND("eval", "score answers (or retrieval) against a QA file's questions", run);

}  // namespace docket::cli

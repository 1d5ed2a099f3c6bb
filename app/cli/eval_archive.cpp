#include "eval_archive.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "engine_cli.h"

namespace docket::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string stem(const std::string& path) {
    return fs::path(path).stem().string();
}

struct Case {
    eval::QaItem item;
    eval::ArchiveScoring scoring;
    eval::ArchiveGold gold;
};

struct Group {
    eval::Mean score, kind_ok, asked, total;
};

struct Report {
    std::map<std::string, Group> by_qtype;
    Group all;
    std::map<std::string, int64_t> skipped;
};

// Asks one archive question and scores it. Sets *interrupted when Ctrl+C stopped it.
Result<json> ask_and_score(Engine& engine, const ArchiveEvalSettings& cfg, const Case& c, Report& rep,
                           bool* interrupted) {
    AskRequest req = cfg.ask;
    req.scope = "archive";
    req.question = c.item.question;
    DK_ASSIGN_OR_RETURN(const AnswerStats stats, ask_and_wait(engine, req, c.item.id, interrupted));
    std::set<std::string> predicted;
    for (const ArchiveDocument& d : stats.matched) predicted.insert(stem(d.document));
    const std::string chosen = stats.chosen.empty() ? "" : stem(stats.chosen);
    const double score = eval::archive_score(c.scoring, c.gold, predicted, chosen);
    const bool kind_ok = stats.kind == eval::archive_scoring_name(c.scoring);
    for (Group* g : {&rep.by_qtype[c.item.qtype], &rep.all}) {
        g->score.add(score);
        g->kind_ok.add(kind_ok);
        g->asked.add(static_cast<double>(stats.documents_total));
        g->total.add(stats.total_s);
    }
    json j = {{"id", c.item.id},
              {"qtype", c.item.qtype},
              {"question", c.item.question},
              {"kind", stats.kind},
              {"score", score},
              {"predicted", predicted},
              {"documents_asked", stats.documents_total},
              {"answer", stats.answer},
              {"total_s", stats.total_s}};
    if (c.scoring == eval::ArchiveScoring::compare) {
        j["chosen"] = chosen;
        j["gold_doc"] = c.gold.gold_doc;
    } else {
        j["gold"] = c.gold.documents;
    }
    return j;
}

std::string pct(const eval::Mean& m) {
    return m.n ? fmt::format("{:5.1f}%", 100.0 * m.value()) : std::string("     -");
}

void print_summary(const Report& rep, const ArchiveEvalSettings& cfg, size_t selected, int64_t done,
                   bool interrupted) {
    auto group_json = [](const Group& g) {
        return json{{"n", g.score.n},
                    {"score", g.score.value()},
                    {"kind_detected", g.kind_ok.value()},
                    {"documents_asked", g.asked.value()},
                    {"total_s", g.total.value()}};
    };
    if (cfg.json) {
        json by = json::object();
        for (const auto& [name, g] : rep.by_qtype) by[name] = group_json(g);
        std::printf("%s\n", dump_json({{"summary", true},
                                       {"scope", "archive"},
                                       {"mode", cfg.ask.mode},
                                       {"questions", done},
                                       {"selected", selected},
                                       {"skipped", rep.skipped},
                                       {"interrupted", interrupted},
                                       {"overall", group_json(rep.all)},
                                       {"by_qtype", by}})
                                .c_str());
        return;
    }
    std::printf("archive scope, mode %s: %lld of %zu questions%s\n", cfg.ask.mode.c_str(),
                static_cast<long long>(done), selected, interrupted ? " (interrupted)" : "");
    std::printf("%-24s %5s %8s %8s %8s %8s\n", "qtype", "n", "score", "kind ok", "docs", "total s");
    auto row = [](const std::string& name, const Group& g) {
        std::printf("%-24s %5lld %8s %8s %8.1f %8.2f\n", name.c_str(), static_cast<long long>(g.score.n),
                    pct(g.score).c_str(), pct(g.kind_ok).c_str(), g.asked.value(), g.total.value());
    };
    for (const auto& [name, g] : rep.by_qtype) row(name, g);
    row("all", rep.all);
    std::printf("score: set F1 over documents (list), exact count (count), the right document (compare)\n");
    for (const auto& [why, n] : rep.skipped)
        std::printf("skipped %lld: %s\n", static_cast<long long>(n), why.c_str());
}

}  // namespace

int eval_archive(Engine& engine, const ArchiveEvalSettings& cfg, const std::vector<eval::QaItem>& items,
                 const std::set<std::string>& archive) {
    auto docs = engine.documents(cfg.ask.collection);
    if (!docs) return fail("eval", docs.status().message());
    std::set<std::string> collection;
    for (const auto& d : *docs)
        if (d.status == "ready") collection.insert(stem(d.path));
    Report rep;
    std::vector<Case> cases;
    for (const auto& q : items) {
        if (cfg.limit > 0 && static_cast<int64_t>(cases.size()) >= cfg.limit) break;
        if (q.scope == "single_doc") {
            ++rep.skipped["scope single_doc (asked without --scope archive)"];
            continue;
        }
        Case c{q, eval::archive_scoring(q), eval::archive_gold(q, collection, archive)};
        if (!c.gold.skip.empty()) {
            ++rep.skipped[c.gold.skip];
            continue;
        }
        cases.push_back(std::move(c));
    }
    InterruptGuard guard;
    const auto t0 = std::chrono::steady_clock::now();
    int64_t done = 0;
    bool interrupted = false;
    for (const Case& c : cases) {
        if (InterruptGuard::fired()) {
            interrupted = true;
            break;
        }
        auto j = ask_and_score(engine, cfg, c, rep, &interrupted);
        if (interrupted) break;
        if (!j) return fail("eval", j.status().message());
        if (cfg.json) std::printf("%s\n", dump_json(*j).c_str());
        ++done;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        show_eval_progress(done, static_cast<int64_t>(cases.size()), elapsed, c.item.id);
    }
    print_summary(rep, cfg, cases.size(), done, interrupted);
    if (interrupted) {
        std::fprintf(stderr, "docket-cli eval: interrupted after %lld questions\n",
                     static_cast<long long>(done));
        return 130;
    }
    return 0;
}

}  // namespace docket::cli

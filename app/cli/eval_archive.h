#pragma once
// docket-cli eval --scope archive: the QA file's questions about the whole archive (lists, counts,
// comparisons) asked with `ask --scope archive` and scored (eval_score.h's archive_gold / archive_score).
// What it shares with the single-document eval (cmd_eval.cpp) is declared here too.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/engine.h"
#include "eval_score.h"

namespace docket::cli {

// One JSON line, invalid UTF-8 replaced.
std::string dump_json(const nlohmann::json& j);
// "eval 3/8  12.0 s  ETA 20.0 s  id" on stderr (rewritten in place on a terminal).
void show_eval_progress(int64_t done, int64_t total, double elapsed, const std::string& id);

// Asks `req` and waits: the answer's stats, or the ask's error naming question `id`; *interrupted (and a
// cancelled error) when Ctrl+C stopped it.
Result<AnswerStats> ask_and_wait(Engine& engine, const AskRequest& req, const std::string& id,
                                 bool* interrupted);

struct ArchiveEvalSettings {
    AskRequest ask;  // collection, mode, retrieval, budget (per document), answer length, recompute
    int64_t limit = 0;
    bool json = false;
};

// The ids of the QA set's archive: the doc_id of each line of `manifest.jsonl` beside the QA file when there
// is one, and every document a question names.
Result<std::set<std::string>> archive_ids(const std::string& qa_path, const std::vector<eval::QaItem>& items);

// Runs the archive questions of `items` that apply to the collection; returns the exit code.
int eval_archive(Engine& engine, const ArchiveEvalSettings& cfg, const std::vector<eval::QaItem>& items,
                 const std::set<std::string>& archive);

}  // namespace docket::cli

#pragma once
// What the archive commands (ingest, ask, collections, documents, remove, eval) share: the engine options
// every one of them takes, and waiting for a job while Ctrl+C cancels it. These commands use only engine/api.
#include <memory>
#include <string>
#include <vector>

#include "api/engine.h"
#include "command.h"

namespace docket::cli {

// --data DIR --model FILE --codec C --threads N --segment-tokens N --store-budget BYTES
extern const std::vector<std::string> kEngineOptions;
extern const char* const kEngineOptionsHelp;

Result<std::unique_ptr<Engine>> open_engine(const Args& args);

// The options of a question (ask, eval): --collection --mode --retrieval --budget --max-tokens --recompute
// --scope, with their defaults and ranges in one place; errors stay in `o`.
extern const std::vector<std::string> kAskOptions;
AskRequest read_ask_options(OptionReader& o);
// "option --scope: 'x' is not document or archive" for a scope the engine does not know (checked before the
// model is loaded); ok otherwise.
Status check_scope(const AskRequest& req);

// While one lives, SIGINT and SIGTERM (Ctrl+C) set a flag instead of ending the process, so a command can
// stop cleanly between steps; the previous handlers come back when it goes.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;
    static bool fired();

private:
    void (*prev_int_)(int);
    void (*prev_term_)(int);
};

// Waits for the job; SIGINT (Ctrl+C) cancels it. on_tick runs every ~100 ms on this thread (progress
// display). Returns the job's status; interrupted is set when a signal asked for the cancel.
Status wait_job(Job& job, bool* interrupted, const std::function<void()>& on_tick = {});

// Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted by Ctrl+C.
int exit_code(const Status& s, bool interrupted);

// "12.3 s", "4 min 05 s"
std::string format_duration(double seconds);

}  // namespace docket::cli

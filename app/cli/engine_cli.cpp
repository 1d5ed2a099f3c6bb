#include "engine_cli.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>

#include <fmt/format.h>

namespace docket::cli {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_guards{0};  // InterruptGuards alive
void on_signal(int) {
    g_interrupted.store(true);
}

}  // namespace

const std::vector<std::string> kEngineOptions = {"--data", "--model", "--codec", "--threads", "--segment-tokens",
                                                 "--store-budget", "--backend"};

const char* const kEngineOptionsHelp =
    "  --data DIR             data directory (default $XDG_DATA_HOME/docket, else ~/.local/share/docket)\n"
    "  --model FILE.gguf      model (default: SmolLM2-135M-Instruct Q4_1 in ~/.cache/docket/models)\n"
    "  --codec C              snapshot codec: fp16, int8 (default), int4, int2\n"
    "  --threads N            compute threads (default: all cores)\n"
    "  --backend B            cpu, cuda or auto (default): auto runs on the GPU when a usable one runs the\n"
    "                         model, else on the CPU (telemetry and the log say which, and why)\n"
    "  --segment-tokens N     segment size at ingest (default 512)\n"
    "  --store-budget BYTES   on-disk snapshot budget (default: unlimited)\n";

const std::vector<std::string> kAskOptions = {"--collection", "--mode",      "--retrieval", "--budget",
                                              "--max-tokens", "--recompute", "--scope"};

AskRequest read_ask_options(OptionReader& o) {
    AskRequest req;
    req.collection = o.get_string("--collection");
    req.mode = o.get_string("--mode", "docket");
    req.retrieval = o.get_string("--retrieval", "bm25");
    req.budget_tokens = o.get_int("--budget", 0, 0, 1 << 24);
    req.max_answer_tokens = static_cast<int>(o.get_int("--max-tokens", 64, 1, 4096));
    req.recompute = o.get_double("--recompute", 0.0, 0.0, 1.0);
    req.scope = o.get_string("--scope", "document");
    return req;
}

Status check_scope(const AskRequest& req) {
    if (req.scope == "document" || req.scope == "archive") return Status::ok();
    return make_error(ErrorCode::invalid_argument, "option --scope: '{}' is not document or archive",
                      req.scope);
}

Result<std::unique_ptr<Engine>> open_engine(const Args& args) {
    EngineOptions opt;
    DK_ASSIGN_OR_RETURN(opt.data_dir, args.get_string("--data"));
    DK_ASSIGN_OR_RETURN(opt.model_path, args.get_string("--model"));
    DK_ASSIGN_OR_RETURN(opt.codec, args.get_string("--codec", "int8"));
    DK_ASSIGN_OR_RETURN(const long long threads, args.get_int("--threads", 0, 0, 1024));
    DK_ASSIGN_OR_RETURN(const long long seg, args.get_int("--segment-tokens", 512, 64, 4096));
    DK_ASSIGN_OR_RETURN(const long long budget, args.get_int("--store-budget", 0, 0, 1ll << 50));
    opt.threads = static_cast<int>(threads);
    opt.segment_tokens = static_cast<int>(seg);
    opt.store_budget_bytes = static_cast<uint64_t>(budget);
    DK_ASSIGN_OR_RETURN(opt.backend, args.get_string("--backend", "auto"));
    opt.log_level = "warn";  // a command's own output is the report; warnings (e.g. a recomputed segment) stay
    return Engine::open(opt);
}

InterruptGuard::InterruptGuard() {
    ++g_guards;
    g_interrupted.store(false);
    prev_int_ = std::signal(SIGINT, on_signal);
    prev_term_ = std::signal(SIGTERM, on_signal);
}

InterruptGuard::~InterruptGuard() {
    std::signal(SIGINT, prev_int_);
    std::signal(SIGTERM, prev_term_);
    --g_guards;
}

bool InterruptGuard::fired() {
    return g_interrupted.load();
}

Status wait_job(Job& job, bool* interrupted, const std::function<void()>& on_tick) {
    // A guard already alive (a command looping over jobs) keeps its flag: a Ctrl+C between jobs still counts.
    std::optional<InterruptGuard> guard;
    if (g_guards.load() == 0) guard.emplace();
    bool asked = false;
    while (!job.done()) {
        if (g_interrupted.load() && !asked) {
            job.cancel();
            asked = true;
        }
        if (on_tick) on_tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (interrupted) *interrupted = asked;
    return job.wait();
}

int exit_code(const Status& s, bool interrupted) {
    if (interrupted) return 130;
    return s.is_ok() ? 0 : 1;
}

std::string format_duration(double s) {
    if (s < 60) return fmt::format("{:.1f} s", s);
    const long long t = static_cast<long long>(s + 0.5);
    if (t < 3600) return fmt::format("{} min {:02} s", t / 60, t % 60);
    return fmt::format("{} h {:02} min", t / 3600, (t % 3600) / 60);
}

}  // namespace docket::cli

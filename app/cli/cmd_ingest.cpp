// docket-cli ingest: read files and folders into a collection (each segment prefilled once, its KV stored).
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "command.h"
#include "engine_cli.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-cli ingest --collection NAME [options] PATH...\n"
    "Reads files and folders (recursively) into the collection, creating it on first use. Each document is\n"
    "split into segments at paragraph boundaries; each segment is run through the model once and its KV "
    "state\n"
    "is stored, so later questions reuse it. Re-running skips unchanged files, redoes changed ones and "
    "retires\n"
    "files that are gone; an interrupted run (Ctrl+C, crash) resumes where it stopped.\n"
    "Formats: plain text (.txt, .text) and Markdown (.md, .markdown), UTF-8, UTF-16 (with BOM) or\n"
    "Windows-1252. Other files in folders are skipped and counted.\n"
    "Options:\n";

std::string progress_line(const JobProgress& p) {
    const double pct = p.bytes_total > 0 ? 100.0 * p.bytes_done / p.bytes_total : 0.0;
    std::string eta = p.eta_s < 0 ? "ETA estimating" : "ETA " + format_duration(p.eta_s);
    std::string name = p.current.substr(p.current.find_last_of('/') + 1);
    if (name.size() > 40) name = name.substr(0, 37) + "...";
    return fmt::format("files {}/{}  {:5.1f}%  {} tokens  {}  {}", p.files_done, p.files_total, pct,
                       p.tokens_done, eta, name);
}

void print_summary(const IngestSummary& s) {
    for (const FileResult& f : s.files) {
        if (f.status == "failed")
            std::printf("  FAILED     %s: %s\n", f.path.c_str(), f.error.c_str());
        else if (f.status == "ingested")
            std::printf("  ingested   %s (%lld segments, %lld tokens)\n", f.path.c_str(),
                        static_cast<long long>(f.segments), static_cast<long long>(f.tokens));
        else
            std::printf("  %-10s %s\n", f.status.c_str(), f.path.c_str());
    }
    if (!s.skipped_unsupported.empty())
        std::printf("  skipped %zu files of unsupported formats (e.g. %s)\n", s.skipped_unsupported.size(),
                    s.skipped_unsupported.front().c_str());
    std::printf(
        "%lld ingested, %lld unchanged, %lld failed, %lld retired; %lld segments prefilled, %lld reused, "
        "%lld tokens\n",
        static_cast<long long>(s.ingested), static_cast<long long>(s.unchanged),
        static_cast<long long>(s.failed), static_cast<long long>(s.retired),
        static_cast<long long>(s.segments_prefilled), static_cast<long long>(s.segments_reused),
        static_cast<long long>(s.tokens));
}

int run(const std::vector<std::string>& argv) {
    std::vector<std::string> values = kEngineOptions;
    values.push_back("--collection");
    Args args(argv, {.values = values, .positionals = 1 << 20});
    if (args.has("--help")) {
        std::printf("%s  --collection NAME      the collection (required)\n%s", kUsage, kEngineOptionsHelp);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("ingest", s.message(), kUsage);
    auto collection = args.get_string("--collection");
    if (!collection) return fail("ingest", collection.status().message(), 2);
    if (collection->empty()) return usage_error("ingest", "--collection NAME is required", kUsage);
    const std::vector<std::string>& paths = args.positional();
    if (paths.empty()) return usage_error("ingest", "give at least one file or folder to ingest", kUsage);
    auto engine = open_engine(args);
    if (!engine) return fail("ingest", engine.status().message());

    Job job = (*engine)->add_documents(*collection, paths);
    const bool tty = ::isatty(STDERR_FILENO) && !std::getenv("CI");
    auto last = std::chrono::steady_clock::now();
    auto tick = [&] {
        const auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(tty ? 250 : 10000)) return;
        last = now;
        const std::string line = progress_line(job.progress());
        std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
    };
    bool interrupted = false;
    Status st = wait_job(job, &interrupted, tick);
    if (tty) std::fprintf(stderr, "\r\033[K");
    const IngestSummary summary = job.ingest_summary();
    print_summary(summary);
    if (!st && st.code() == ErrorCode::cancelled) {
        std::fprintf(stderr, "docket-cli ingest: stopped (%s)\n", st.message().c_str());
        return exit_code(st, interrupted);
    }
    if (!st) return fail("ingest", st.message());
    if (summary.failed > 0)
        return fail("ingest", fmt::format("{} file(s) could not be read (listed above); the rest is ingested",
                                          summary.failed));
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("ingest", "read files and folders into a collection (text and Markdown)", run);

}  // namespace docket::cli

// docket-cli ask: answer a question from a collection's stored KV, streaming the answer and its citations.
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include <fmt/format.h>

#include "command.h"
#include "engine_cli.h"
#include "json.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-cli ask --collection NAME [options] \"QUESTION\"\n"
    "Answers the question from the collection: the most relevant segments are found (BM25 over the text and\n"
    "KV routing over their stored keys), their stored KV is composed into one context without re-reading "
    "the\n"
    "documents, and the answer streams with citations (document, part, lines, quote) chosen by the "
    "attention\n"
    "the answer paid to each passage.\n"
    "Options:\n"
    "  --collection NAME      the collection (required)\n"
    "  --mode M               docket (default): stored KV; rag: BM25 passages as text, full prefill\n"
    "  --retrieval R          bm25 (default; BM25 over passages and over each document's opening),\n"
    "                         routing (stored keys against the question's queries) or fusion of both\n"
    "  --budget N             tokens of documents in context (default 1200, or less when the model's\n"
    "                         context is smaller; archive scope: per document)\n"
    "  --max-tokens N         answer length limit (default 64)\n"
    "  --recompute R          docket mode: recompute this share (0-1) of the context's tokens whose stored "
    "KV\n"
    "                         deviates most from a full prefill (selective recompute; default 0)\n"
    "  --scope S              document (default): answered from the most relevant passages of the "
    "collection;\n"
    "                         archive: a question about the whole collection, asked of each document from\n"
    "                         its own most relevant passages' stored KV, then combined: \"which contracts\n"
    "                         ...\" lists the documents that satisfy it (each with a citation), \"how many\n"
    "                         ...\" counts and names them, \"which was signed earlier: A, or B?\" asks only\n"
    "                         the two named documents (found by their titles) for their dates and compares\n"
    "                         them; progress (documents asked, ETA) on stderr; --budget is per document\n"
    "  --json                 print one JSON object (answer, citations, figures; archive scope: the\n"
    "                         documents asked, those matched, the chosen one) instead of text\n";

std::string citation_json(const Citation& c) {
    return fmt::format(
        "{{\"document\":\"{}\",\"title\":\"{}\",\"segment\":{},\"char_begin\":{},\"char_end\":{},"
        "\"line_begin\":{},\"line_end\":{},\"quote\":\"{}\",\"weight\":{:.4f}}}",
        json_escape(c.document), json_escape(c.title), c.segment, c.char_begin, c.char_end, c.line_begin,
        c.line_end, json_escape(c.quote), c.weight);
}

std::string citations_json(const std::vector<Citation>& cites) {
    std::string c;
    for (const auto& x : cites) {
        if (!c.empty()) c += ',';
        c += citation_json(x);
    }
    return c;
}

std::string archive_documents_json(const std::vector<ArchiveDocument>& docs) {
    std::string out;
    for (const auto& d : docs) {
        if (!out.empty()) out += ',';
        out += fmt::format(
            "{{\"document\":\"{}\",\"title\":\"{}\",\"answer\":\"{}\",\"matched\":{},\"date\":\"{}\","
            "\"citations\":[{}]}}",
            json_escape(d.document), json_escape(d.title), json_escape(d.answer), d.matched,
            json_escape(d.date), citations_json(d.citations));
    }
    return out;
}

// Archive scope's fields of the JSON object (empty for a document question).
std::string archive_json(const AnswerStats& s) {
    if (s.kind.empty()) return "";
    return fmt::format(
        ",\"scope\":\"archive\",\"kind\":\"{}\",\"documents_total\":{},\"chosen\":\"{}\","
        "\"matched\":[{}],\"documents\":[{}]",
        s.kind, s.documents_total, json_escape(s.chosen), archive_documents_json(s.matched),
        archive_documents_json(s.documents));
}

void print_json(const AnswerStats& s, const std::vector<Citation>& cites) {
    const std::string c = citations_json(cites);
    std::string ctx;
    for (const auto& x : s.context) {
        if (!ctx.empty()) ctx += ',';
        ctx += '"';
        ctx += json_escape(x);
        ctx += '"';
    }
    std::printf(
        "{\"answer\":\"%s\",\"citations\":[%s],\"context\":[%s],\"context_tokens\":%lld,"
        "\"answer_tokens\":%lld,\"recomputed\":%lld,\"ttft_s\":%.3f,\"total_s\":%.3f,\"stop\":\"%s\"%s}\n",
        json_escape(s.answer).c_str(), c.c_str(), ctx.c_str(), static_cast<long long>(s.context_tokens),
        static_cast<long long>(s.answer_tokens), static_cast<long long>(s.recomputed), s.ttft_s, s.total_s,
        s.stop.c_str(), archive_json(s).c_str());
}

void print_citations(const std::vector<Citation>& cites) {
    if (cites.empty()) {
        std::printf("\nSources: none (the answer drew on no document passage)\n");
        return;
    }
    std::printf("\nSources:\n");
    for (size_t i = 0; i < cites.size(); ++i) {
        const Citation& c = cites[i];
        std::printf("  [%zu] %s, part %d, lines %d-%d (%.0f%%)\n      \"%s\"\n      %s\n", i + 1,
                    c.title.c_str(), c.segment + 1, c.line_begin, c.line_end, 100.0 * c.weight,
                    c.quote.c_str(), c.document.c_str());
    }
}

// An archive question's progress on stderr: a line per document asked (rewritten in place on a terminal,
// and cleared before the answer's text reaches the same screen).
class MapProgress {
public:
    void tick(const JobProgress& p) {
        if (p.phase != "map" || p.documents_total == 0 || p.documents_done == last_) return;
        last_ = p.documents_done;
        const std::string eta = p.eta_s < 0 ? std::string("estimating") : format_duration(p.eta_s);
        const std::string line = fmt::format("asked {}/{} documents  ETA {}  {}", p.documents_done,
                                             p.documents_total, eta, p.current);
        std::fprintf(stderr, tty_ ? "\r\033[K%s" : "%s\n", line.c_str());
        shown_ = tty_;
    }
    void clear() {
        if (shown_) std::fprintf(stderr, "\r\033[K");
        shown_ = false;
    }

private:
    const bool tty_ = ::isatty(STDERR_FILENO) && !std::getenv("CI");
    int64_t last_ = -1;
    bool shown_ = false;
};

int run(const std::vector<std::string>& argv) {
    std::vector<std::string> values = kEngineOptions;
    values.insert(values.end(), kAskOptions.begin(), kAskOptions.end());
    Args args(argv, {.values = values, .flags = {"--json"}, .positionals = 1});
    if (args.has("--help")) {
        std::printf("%s%s", kUsage, kEngineOptionsHelp);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("ask", s.message(), kUsage);
    OptionReader o(args);
    AskRequest req = read_ask_options(o);
    if (!o.ok()) return fail("ask", o.error(), 2);
    if (Status s = check_scope(req); !s) return fail("ask", s.message());
    if (req.collection.empty()) return usage_error("ask", "--collection NAME is required", kUsage);
    if (req.mode == "oracle")
        return usage_error("ask", "oracle mode needs the gold passages: use 'docket-cli eval'", kUsage);
    if (args.positional().size() != 1)
        return usage_error("ask", "give the question as one argument (quote it)", kUsage);
    req.question = args.positional()[0];
    const bool json = args.has("--json");
    auto engine = open_engine(args);
    if (!engine) return fail("ask", engine.status().message());

    std::mutex mu;
    std::vector<Citation> cites;
    AnswerStats stats;
    AnswerSink sink;
    MapProgress progress;
    sink.on_token = [&](const std::string& t) {
        if (json) return;
        std::lock_guard lock(mu);
        progress.clear();
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
    };
    sink.on_citation = [&](const Citation& c) {
        std::lock_guard lock(mu);
        cites.push_back(c);
    };
    sink.on_done = [&](const Status&, const AnswerStats& s) {
        std::lock_guard lock(mu);
        stats = s;
    };
    Job job = (*engine)->ask(req, sink);
    bool interrupted = false;
    Status st = wait_job(job, &interrupted, [&] {
        std::lock_guard lock(mu);
        progress.tick(job.progress());
    });
    progress.clear();
    if (!st) {
        if (!json) std::printf("\n");
        return fail("ask", st.message(), exit_code(st, interrupted));
    }
    if (json) {
        print_json(stats, cites);
        return 0;
    }
    std::printf("\n");
    print_citations(cites);
    std::fflush(stdout);  // the figures on stderr come after the answer and its sources
    const TelemetrySnapshot t = (*engine)->telemetry();
    if (!stats.kind.empty()) {
        std::fprintf(
            stderr,
            "archive question (%s): %lld documents asked, %zu matched; first line %.2f s, total %.2f s; "
            "%lld context tokens (%llu segments from stored KV, %lld recomputed)\n",
            stats.kind.c_str(), static_cast<long long>(stats.documents_total), stats.matched.size(),
            stats.ttft_s, stats.total_s, static_cast<long long>(stats.context_tokens),
            static_cast<unsigned long long>(t.snapshots_loaded), static_cast<long long>(stats.recomputed));
        return 0;
    }
    std::fprintf(
        stderr,
        "first token %.2f s, total %.2f s; context %lld tokens from %lld segments (%llu from stored KV, "
        "%lld recomputed); %lld answer tokens\n",
        stats.ttft_s, stats.total_s, static_cast<long long>(stats.context_tokens),
        static_cast<long long>(stats.segments), static_cast<unsigned long long>(t.snapshots_loaded),
        static_cast<long long>(stats.recomputed), static_cast<long long>(stats.answer_tokens));
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("ask", "answer a question from a collection, with citations", run);

}  // namespace docket::cli

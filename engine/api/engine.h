#pragma once
// docket::Engine — the engine's one public seam. Plain structs and Result<T> values cross it, never exceptions.
// The engine owns its threads: jobs (ingest, ask) run one at a time on its compute thread, in the order they
// were submitted; callbacks (progress, tokens, citations) come from that thread, so a UI marshals them to its
// own (e.g. QMetaObject::invokeMethod, queued). Every method may be called from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace docket {

struct EngineOptions {
    std::string data_dir;    // "" : $XDG_DATA_HOME/docket (else ~/.local/share/docket); created mode 0700
    std::string model_path;  // "" : default_model_path()
    std::string backend = "auto";  // cpu, cuda, auto (CUDA when a usable GPU runs the model, else the CPU)
    std::string codec = "int8";    // fp16, int8, int4, int2: how snapshots are stored
    int threads = 0;               // compute threads; 0: all cores
    uint64_t store_budget_bytes = 0;  // on-disk snapshot budget; 0: unlimited
    int segment_tokens = 512;         // target segment size at ingest
    std::string log_level = "info";   // stderr's log level (trace..off; recent_log() keeps info and up);
                                      // the DOCKET_LOG variable overrides it
};

// The default model: $DOCKET_MODEL_DIR (else ~/.cache/docket/models)/SmolLM2-135M-Instruct.Q4_1.gguf.
std::string default_model_path();
// The default data directory (see EngineOptions::data_dir).
std::string default_data_dir();

struct CollectionInfo {
    std::string name;
    int64_t documents = 0, segments = 0, tokens = 0;
};

struct DocumentInfo {
    std::string path, title, format, encoding;
    std::string status;  // ready, ingesting (interrupted: a re-run resumes it), error
    std::string error;   // why it could not be read
    int64_t bytes = 0, chars = 0, segments = 0, tokens = 0;
};

struct SegmentInfo {
    int ordinal = 0;
    int64_t char_begin = 0, char_end = 0;  // byte span in the document's text
    int line_begin = 0, line_end = 0;
    int64_t tokens = 0;
};

struct JobProgress {
    std::string phase;  // "ingest", "retrieve", "compose", "answer", "map" (archive questions), "done"
    int64_t files_total = 0, files_done = 0, bytes_total = 0, bytes_done = 0, tokens_done = 0;
    double elapsed_s = 0.0, eta_s = -1.0;  // eta < 0: unknown
    std::string current;                   // the file being read (map: the document being asked)
    int64_t documents_total = 0, documents_done = 0;  // map: documents asked of an archive question
};

struct FileResult {
    std::string path;
    std::string status;  // ingested, unchanged, failed, retired, cancelled
    std::string error;
    int64_t segments = 0, tokens = 0;
};

struct IngestSummary {
    std::vector<FileResult> files;
    std::vector<std::string> skipped_unsupported;  // files of other formats found in folders
    int64_t ingested = 0, unchanged = 0, failed = 0, retired = 0;
    int64_t segments_prefilled = 0, segments_reused = 0, tokens = 0;
};

// A running (or queued) job. cancel() takes effect within one prefill chunk or store step.
class Job {
public:
    struct State;
    explicit Job(std::shared_ptr<State> s) : s_(std::move(s)) {}
    JobProgress progress() const;
    void cancel();
    bool done() const;
    // Blocks until the job ends; its status (cancelled when cancel() stopped it).
    Status wait();
    // For ingest jobs, after wait(): what happened to each file.
    IngestSummary ingest_summary() const;

private:
    std::shared_ptr<State> s_;
};

struct Citation {
    std::string document;  // path
    std::string title;
    int segment = 0;                       // ordinal in the document (0-based)
    int64_t char_begin = 0, char_end = 0;  // byte span in the document's text
    int line_begin = 0, line_end = 0;      // 1-based
    std::string quote;
    double weight = 0.0;  // share of the answer's attention on the context
};

// What an archive question learnt from one document (AskRequest::scope "archive").
struct ArchiveDocument {
    std::string document, title;  // path, title
    std::string answer;           // the model's answer to the per-document question
    bool matched = false;         // list and count questions: the document satisfies the question
    std::string date;             // comparisons: the date read, as YYYY[-MM[-DD]]; "" when none was found
    std::vector<Citation> citations;  // into this document
};

struct AnswerStats {
    std::string answer;
    int64_t context_tokens = 0, answer_tokens = 0, segments = 0;
    int64_t recomputed = 0;      // segments whose snapshot was missing or bad (recomputed from text)
    int64_t blended_tokens = 0;  // context tokens refreshed by selective recompute
    double ttft_s = 0.0, total_s = 0.0;
    std::string stop;                      // eog, max_tokens, context_full
    std::vector<std::string> context;      // "title, part k" of each placed segment, in order
    std::vector<std::pair<std::string, int>>
        context_segments;  // (document path, ordinal) of the same, in order
    // Archive scope: the question's kind (list, count, compare), every document asked (in the order asked),
    // those that satisfy it, and for a comparison the path of the earlier (or later) one ("" undecided).
    std::string kind;
    std::vector<ArchiveDocument> documents;
    std::vector<ArchiveDocument> matched;
    std::string chosen;
    int64_t documents_total = 0;
};

struct AskRequest {
    std::string collection;
    std::string question;
    // document: answered from the collection's most relevant passages. archive: a question about the whole
    // collection ("which contracts ...", "how many ...", "which was signed earlier, A or B?"), asked of each
    // document from its own passages and combined (AnswerStats::documents); budget_tokens is then per document.
    std::string scope = "document";
    std::string mode = "docket";      // docket, rag, oracle
    std::string retrieval = "bm25";  // bm25 (with document rank), routing, fusion (docket mode)
    int64_t budget_tokens = 0;       // 0: the default (1,200 tokens) or what the model's context allows
    int max_answer_tokens = 64;
    double recompute = 0.0;  // docket mode: share of context tokens recomputed (CacheBlend-style), 0..1
    // oracle mode: the context as (document path, segment ordinal) pairs, in order.
    std::vector<std::pair<std::string, int>> oracle_segments;
};

struct AnswerSink {
    std::function<void(const std::string& text)> on_token;
    std::function<void(const Citation&)> on_citation;
    std::function<void(const Status&, const AnswerStats&)> on_done;  // once, also on error or cancel
    std::function<void(const ArchiveDocument&)> on_document;         // archive scope: each document asked
};

// Retrieval alone, without an answer (for measurements: `docket-cli eval --docs-only`).
struct RetrieveRequest {
    std::string collection;
    std::string question;
    std::string retrieval = "bm25";  // bm25, routing, fusion (as AskRequest)
    int64_t budget_tokens = 0;       // as AskRequest: 0 is the default budget
    int max_answer_tokens = 64;      // the budget leaves room for the answer, as ask does
    int top = 20;                    // how many ranked segments to return (0-10,000)
};

struct RankedSegment {
    std::string document, title;  // path, title
    int segment = 0;              // ordinal in the document
    int64_t tokens = 0;
    double score = 0.0;  // the method's fused score (higher is better)
};

struct Retrieved {
    std::vector<RankedSegment> ranked;    // best first, at most `top`
    std::vector<RankedSegment> selected;  // what ask would place under the budget, in composition order
    int64_t budget_tokens = 0;            // the budget used
};

struct TelemetrySnapshot {
    uint64_t documents_ingested = 0, documents_skipped = 0, documents_failed = 0;
    uint64_t segments_prefilled = 0, segments_reused = 0, segments_recomputed = 0;
    uint64_t snapshots_loaded = 0, snapshot_bytes_loaded = 0;
    uint64_t tokens_prefilled = 0, tokens_composed = 0, tokens_generated = 0, questions_answered = 0;
    std::string model, backend, codec, data_dir;
};

struct ModelDescription {
    std::string path, architecture, name;
    int64_t context_length = 0, n_layer = 0, parameters_bytes = 0;
};

class Engine {
public:
    // Opens the data directory (refusing one owned by another user or opened by another process) and the
    // model, and prefills the shared prompt prefix once.
    static Result<std::unique_ptr<Engine>> open(const EngineOptions& opt);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    Result<std::vector<CollectionInfo>> collections();
    Result<std::vector<DocumentInfo>> documents(const std::string& collection);
    // A document's segments (path as documents() reports it).
    Result<std::vector<SegmentInfo>> segments(const std::string& collection, const std::string& document);
    // A document's text as ingest stored it (its segments' texts at their spans), the text that SegmentInfo's
    // and Citation's char_begin/char_end index; a gap between spans reads as spaces. Not the file re-read.
    Result<std::string> document_text(const std::string& collection, const std::string& document);
    Status remove_collection(const std::string& collection);
    // Ingests files and folders (recursively) into the collection (created on first use).
    Job add_documents(const std::string& collection, const std::vector<std::string>& paths);
    Job ask(const AskRequest& request, AnswerSink sink);
    // Ranks the collection's segments for a question and picks them under the budget as ask would. Runs on
    // the compute thread after the jobs already queued, and blocks until done.
    Result<Retrieved> retrieve(const RetrieveRequest& request);
    // The context budget ask uses for this question (AskRequest's budget_tokens, 0: the default, checked
    // against the model's context). Blocks like retrieve().
    Result<int64_t> context_budget(const std::string& question, int64_t budget_tokens,
                                   int max_answer_tokens = 64);
    TelemetrySnapshot telemetry() const;
    std::vector<std::string> recent_log(size_t max_lines = 200) const;
    ModelDescription model() const;
    const std::string& data_dir() const;

    struct Impl;

private:
    explicit Engine(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace docket

#include "ingest/pipeline.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "ingest/file_walker.h"
#include "ingest/text_reader.h"
#include "util/log.h"

namespace docket::ingest {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using telemetry::Counters;

std::string title_of(const std::string& path) {
    return fs::path(path).stem().string();
}

// Absolute, lexically normal: the form the walker reports and the catalog stores.
std::string normal_path(const std::string& p) {
    std::error_code ec;
    fs::path a = fs::absolute(p, ec);
    return (ec ? fs::path(p) : a).lexically_normal().string();
}

bool is_under(const std::string& path, const std::string& root) {
    if (path == root) return true;
    const std::string r = root.ends_with('/') ? root : root + "/";
    return path.starts_with(r);
}

// One ingest run's state: the workspace, the collection, counters and progress.
class Run {
public:
    Run(kv::Workspace& ws, int64_t collection, const IngestOptions& opt, const std::atomic<bool>* cancel,
        const ProgressFn& progress)
        : ws_(ws), store_(ws.store()), collection_(collection), opt_(opt), cancel_(cancel), progress_fn_(progress) {}

    Status run(const std::vector<std::string>& inputs, IngestReport& report);

private:
    bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }
    void report_progress();
    Result<FileOutcome> ingest_file(const FoundFile& f);
    Result<bool> unchanged(const store::DocumentRow& doc);
    Result<std::vector<store::SegmentRow>> segments_for(int64_t doc_id, const std::string& title,
                                                        const TextDocument& text);
    Status retire_missing(const std::vector<std::string>& inputs, const std::set<std::string>& seen,
                          IngestReport& report);

    kv::Workspace& ws_;
    store::Store& store_;
    int64_t collection_;
    IngestOptions opt_;
    const std::atomic<bool>* cancel_;
    ProgressFn progress_fn_;
    IngestProgress progress_;
    Clock::time_point start_ = Clock::now(), last_report_{};
    int64_t work_bytes_done_ = 0;  // bytes of files that needed prefill (the ETA's basis)
    double work_seconds_ = 0.0;
    std::unique_ptr<Session> scratch_;
    int64_t prefilled_ = 0, reused_ = 0;
};

void Run::report_progress() {
    progress_.elapsed_s = std::chrono::duration<double>(Clock::now() - start_).count();
    // ETA from the rate of the work actually done (skipped files cost nothing), over the bytes still ahead.
    const int64_t left = progress_.bytes_total - progress_.bytes_done;
    progress_.eta_s = work_bytes_done_ > 0 ? work_seconds_ / work_bytes_done_ * left : -1.0;
    if (left == 0) progress_.eta_s = 0.0;
    if (progress_fn_) progress_fn_(progress_);
    last_report_ = Clock::now();
}

Result<bool> Run::unchanged(const store::DocumentRow& doc) {
    if (doc.status != "ready" || doc.segments == 0) return false;
    DK_ASSIGN_OR_RETURN(auto segs, store_.segments_of(doc.id));
    DK_ASSIGN_OR_RETURN(auto reader, store_.reader());
    for (const auto& s : segs) {
        DK_ASSIGN_OR_RETURN(auto found, reader->find(ws_.key_for_content(s.content_hash)));
        if (!found) return false;  // another model or codec, or evicted: redo the document
    }
    return true;
}

// The document's segments: those already in the catalog when they match this text and tokenizer (a resumed
// ingest), else a new split.
Result<std::vector<store::SegmentRow>> Run::segments_for(int64_t doc_id, const std::string& title,
                                                         const TextDocument& text) {
    const kv::PromptFrame& frame = ws_.frame();
    DK_ASSIGN_OR_RETURN(auto have, store_.segments_of(doc_id));
    bool reuse = !have.empty();
    for (const auto& s : have)
        reuse = reuse && kv::PromptFrame::hash_tokens(frame.segment_tokens(title, s.ordinal, s.text)) ==
                             s.content_hash;
    if (reuse) return have;
    const Tokenizer& tok = ws_.tokenizer();
    auto count = [&](std::string_view t) {
        return static_cast<int64_t>(tok.encode(t, /*add_special=*/false, /*parse_special=*/false).size());
    };
    DK_ASSIGN_OR_RETURN(std::vector<Segment> split, split_segments(text.text, opt_.segmenter, count));
    std::vector<store::SegmentRow> rows;
    for (const Segment& s : split) {
        store::SegmentRow r;
        r.ordinal = s.ordinal;
        r.char_begin = s.char_begin;
        r.char_end = s.char_end;
        r.line_begin = s.line_begin;
        r.line_end = s.line_end;
        r.text = s.text;
        const auto tokens = frame.segment_tokens(title, s.ordinal, s.text);
        r.content_hash = kv::PromptFrame::hash_tokens(tokens);
        r.n_tokens = static_cast<int64_t>(tokens.size());
        rows.push_back(std::move(r));
    }
    DK_TRY(store_.put_segments(doc_id, rows));
    return store_.segments_of(doc_id);
}

Result<FileOutcome> Run::ingest_file(const FoundFile& f) {
    FileOutcome out{f.path, "ingested", "", 0, 0};
    auto text = read_text_file(f.path, opt_.max_file_bytes);
    if (!text) {
        out.status = "failed";
        out.error = text.status().message();
        DK_TRY(store_.record_document_error(collection_, f.path, out.error));
        Counters::add(ws_.counters().documents_failed);
        return out;
    }
    const Hash128 hash = hash128(text->text.data(), text->text.size());
    DK_ASSIGN_OR_RETURN(auto existing, store_.find_document(collection_, f.path));
    if (existing && existing->content_hash == hash) {
        DK_ASSIGN_OR_RETURN(bool same, unchanged(*existing));
        if (same) {
            out.status = "unchanged";
            out.segments = existing->segments;
            out.tokens = existing->tokens;
            Counters::add(ws_.counters().documents_skipped);
            return out;
        }
    }
    const std::string title = title_of(f.path);
    store::DocumentMeta meta{title, text->format, text->encoding, static_cast<int64_t>(text->bytes),
                             static_cast<int64_t>(text->text.size())};
    DK_ASSIGN_OR_RETURN(const int64_t doc_id, store_.begin_document(collection_, f.path, hash, meta));
    DK_ASSIGN_OR_RETURN(auto segs, segments_for(doc_id, title, *text));
    if (segs.empty()) {
        out.status = "failed";
        out.error = "no text in the file";
        DK_TRY(store_.finish_document(doc_id, "error", out.error, 0));
        Counters::add(ws_.counters().documents_failed);
        return out;
    }
    const auto t0 = Clock::now();
    const int64_t bytes0 = progress_.bytes_done;
    DK_ASSIGN_OR_RETURN(auto reader, store_.reader());
    for (const auto& s : segs) {
        const auto tokens = ws_.frame().segment_tokens(title, s.ordinal, s.text);
        DK_ASSIGN_OR_RETURN(auto found, reader->find(ws_.key_for(tokens)));
        if (found) {
            ++reused_;
            Counters::add(ws_.counters().segments_reused);
        } else {
            DK_TRY(ws_.ingest_segment(s, tokens, scratch_, cancel_).with_context(f.path));
            ++prefilled_;
        }
        out.tokens += static_cast<int64_t>(tokens.size());
        progress_.tokens_done += static_cast<int64_t>(tokens.size());
        progress_.bytes_done = bytes0 + static_cast<int64_t>(f.bytes) * s.char_end /
                                            std::max<int64_t>(1, static_cast<int64_t>(text->text.size()));
        if (Clock::now() - last_report_ > std::chrono::milliseconds(200)) report_progress();
    }
    out.segments = static_cast<int64_t>(segs.size());
    DK_TRY(store_.finish_document(doc_id, "ready", "", out.tokens));
    Counters::add(ws_.counters().documents_ingested);
    work_bytes_done_ += static_cast<int64_t>(f.bytes);
    work_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
    return out;
}

Status Run::retire_missing(const std::vector<std::string>& inputs, const std::set<std::string>& seen,
                           IngestReport& report) {
    std::vector<std::string> roots;
    for (const auto& in : inputs) roots.push_back(normal_path(in));
    DK_ASSIGN_OR_RETURN(auto docs, store_.list_documents(collection_));
    for (const auto& d : docs) {
        if (seen.count(d.path)) continue;
        const bool under = std::any_of(roots.begin(), roots.end(), [&](const auto& r) { return is_under(d.path, r); });
        std::error_code ec;
        if (!under || fs::exists(d.path, ec)) continue;  // outside this run's inputs, or still there
        DK_TRY(store_.remove_document(d.id));
        DK_LOG_INFO("retired {}: the file is gone", d.path);
        report.files.push_back({d.path, "retired", "the file is gone", d.segments, d.tokens});
        ++report.retired;
    }
    return Status::ok();
}

Status Run::run(const std::vector<std::string>& inputs, IngestReport& report) {
    auto supported = [](const std::string& ext) {
        const auto& exts = supported_extensions();
        return std::find(exts.begin(), exts.end(), ext) != exts.end();
    };
    WalkResult walk = walk_inputs(inputs, supported, cancel_);
    report.skipped_unsupported = walk.skipped_unsupported;
    for (const WalkError& e : walk.errors) {
        report.files.push_back({e.path, "failed", e.reason, 0, 0});
        ++report.failed;
    }
    progress_.files_total = static_cast<int64_t>(walk.files.size());
    for (const FoundFile& f : walk.files) progress_.bytes_total += static_cast<int64_t>(f.bytes);
    report_progress();
    std::set<std::string> seen;
    for (const FoundFile& f : walk.files) {
        seen.insert(f.path);
        if (cancelled()) break;
        progress_.current = f.path;
        const int64_t bytes0 = progress_.bytes_done;
        auto outcome = ingest_file(f);
        if (!outcome) {
            if (outcome.status().code() != ErrorCode::cancelled) return outcome.status();
            report.files.push_back({f.path, "cancelled", outcome.status().message(), 0, 0});
            break;
        }
        report.files.push_back(*outcome);
        const std::string& st = outcome->status;
        report.ingested += st == "ingested";
        report.unchanged += st == "unchanged";
        report.failed += st == "failed";
        report.tokens += outcome->tokens;
        progress_.bytes_done = bytes0 + static_cast<int64_t>(f.bytes);
        ++progress_.files_done;
        report_progress();
    }
    report.cancelled = cancelled();
    report.segments_prefilled = prefilled_;
    report.segments_reused = reused_;
    // Retire only after a complete walk: a cancelled run has not seen every file.
    if (!report.cancelled) DK_TRY(retire_missing(inputs, seen, report));
    progress_.current.clear();
    report_progress();
    return Status::ok();
}

}  // namespace

const std::vector<std::string>& supported_extensions() {
    static const std::vector<std::string> exts = {".txt", ".text", ".md", ".markdown"};
    return exts;
}

Result<IngestReport> run_ingest(kv::Workspace& ws, const std::string& collection,
                                const std::vector<std::string>& inputs, const IngestOptions& opt,
                                const std::atomic<bool>* cancel, const ProgressFn& progress) {
    if (collection.empty() || collection.size() > 200)
        return make_error(ErrorCode::invalid_argument, "collection name must be 1-200 characters");
    if (inputs.empty()) return make_error(ErrorCode::invalid_argument, "no files or folders to ingest");
    DK_ASSIGN_OR_RETURN(const int64_t coll, ws.store().ensure_collection(collection));
    IngestReport report;
    Run run(ws, coll, opt, cancel, progress);
    DK_TRY(run.run(inputs, report));
    return report;
}

}  // namespace docket::ingest

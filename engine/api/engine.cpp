#include "api/engine.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "ingest/pipeline.h"
#include "kv/workspace.h"
#include "query/answerer.h"
#include "query/archive.h"
#include "util/log.h"

namespace docket {
namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

std::string home_dir() {
    return env_or("HOME", "/root");
}

// Creates the data directory owner-only, or checks an existing one: a directory, ours, not shared.
Status prepare_data_dir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(ErrorCode::io_error, "cannot create data directory {}: {}", dir, ec.message());
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return make_error(ErrorCode::io_error, "data directory {}: {}", dir, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return make_error(ErrorCode::invalid_argument, "data directory {} is not a directory", dir);
    if (st.st_uid != ::geteuid())
        return make_error(ErrorCode::invalid_argument,
                          "data directory {} belongs to another user (uid {}, you are {}): refusing to use it", dir,
                          st.st_uid, ::geteuid());
    if ((st.st_mode & 0077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
        return make_error(ErrorCode::io_error, "cannot make data directory {} private: {}", dir, std::strerror(errno));
    return Status::ok();
}

Status check_question(const std::string& question, int max_answer_tokens) {
    constexpr size_t kMaxQuestionBytes = 4000;
    if (question.find_first_not_of(" \t\r\n") == std::string::npos)
        return make_error(ErrorCode::invalid_argument, "the question is empty");
    if (question.size() > kMaxQuestionBytes)
        return make_error(ErrorCode::invalid_argument,
                          "the question is {} bytes long; at most {} are allowed", question.size(),
                          kMaxQuestionBytes);
    if (max_answer_tokens < 1 || max_answer_tokens > 4096)
        return make_error(ErrorCode::invalid_argument, "answer length must be 1-4096 tokens");
    return Status::ok();
}

Result<query::Retrieval> parse_retrieval(const std::string& name) {
    if (name == "bm25") return query::Retrieval::bm25;
    if (name == "routing") return query::Retrieval::routing;
    if (name == "fusion") return query::Retrieval::fusion;
    return make_error(ErrorCode::invalid_argument, "unknown retrieval '{}' (bm25, routing, fusion)", name);
}

Citation to_citation(const query::CitationInfo& c) {
    return {c.document, c.title, c.ordinal, c.char_begin, c.char_end, c.line_begin, c.line_end, c.quote, c.weight};
}

std::string iso_date(const std::optional<query::Date>& d) {
    if (!d) return "";
    if (d->month == 0) return fmt::format("{:04}", d->year);
    if (d->day == 0) return fmt::format("{:04}-{:02}", d->year, d->month);
    return fmt::format("{:04}-{:02}-{:02}", d->year, d->month, d->day);
}

ArchiveDocument to_archive_document(const query::DocumentVerdict& v) {
    ArchiveDocument a{v.document, v.title, v.answer, v.matched, iso_date(v.date), {}};
    for (const auto& c : v.citations) a.citations.push_back(to_citation(c));
    return a;
}

}  // namespace

std::string default_model_path() {
    return env_or("DOCKET_MODEL_DIR", home_dir() + "/.cache/docket/models") + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

std::string default_data_dir() {
    return env_or("XDG_DATA_HOME", home_dir() + "/.local/share") + "/docket";
}

// ---------------------------------------------------------------------------------------------------------------
// Jobs

struct Job::State {
    mutable std::mutex mu;
    std::condition_variable cv;
    JobProgress progress;
    bool done = false;
    Status status;
    IngestSummary summary;
    std::atomic<bool> cancel{false};

    void set_progress(const JobProgress& p) {
        std::lock_guard lock(mu);
        progress = p;
    }
    void finish(Status s) {
        std::lock_guard lock(mu);
        status = std::move(s);
        progress.phase = "done";
        done = true;
        cv.notify_all();
    }
};

JobProgress Job::progress() const {
    std::lock_guard lock(s_->mu);
    return s_->progress;
}
void Job::cancel() {
    s_->cancel.store(true);
}
bool Job::done() const {
    std::lock_guard lock(s_->mu);
    return s_->done;
}
Status Job::wait() {
    std::unique_lock lock(s_->mu);
    s_->cv.wait(lock, [&] { return s_->done; });
    return s_->status;
}
IngestSummary Job::ingest_summary() const {
    std::lock_guard lock(s_->mu);
    return s_->summary;
}

// ---------------------------------------------------------------------------------------------------------------
// The engine

struct Engine::Impl {
    EngineOptions opt;
    std::string data_dir, backend_note;
    telemetry::Counters counters;
    std::unique_ptr<store::Store> store;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<kv::Workspace> ws;

    // The compute thread: jobs in submission order.
    std::mutex mu;
    std::condition_variable cv;
    struct Queued {
        std::shared_ptr<Job::State> state;
        std::function<Status(Job::State&)> fn;
    };
    std::deque<Queued> queue;
    std::shared_ptr<Job::State> running;  // the job on the compute thread, if any
    bool stopping = false;
    std::thread worker;

    void run_worker();
    Job submit(std::function<Status(Job::State&)> fn);
    Status run_ingest(Job::State& st, const std::string& collection, const std::vector<std::string>& paths);
    Status run_ask(Job::State& st, const AskRequest& req, const AnswerSink& sink, AnswerStats& stats);
    Result<query::AskOptions> ask_options(int64_t collection, const AskRequest& req);
    Status run_archive(Job::State& st, int64_t collection, const AskRequest& req, const query::AskOptions& ao,
                       const AnswerSink& sink, AnswerStats& stats);
    Result<int64_t> collection_id(const std::string& name);
    Result<std::vector<int64_t>> oracle_ids(int64_t collection, const AskRequest& req);
    Result<Retrieved> run_retrieve(const RetrieveRequest& req);
    Result<std::vector<store::SegmentRow>> segment_rows(const std::string& collection, const std::string& document);
    // Runs fn on the compute thread (after the queued jobs) and waits for it.
    Status run_sync(std::function<Status()> fn);
};

void Engine::Impl::run_worker() {
    for (;;) {
        Queued job;
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return stopping || !queue.empty(); });
            if (stopping) return;
            job = std::move(queue.front());
            queue.pop_front();
            running = job.state;
        }
        if (job.state->cancel.load())
            job.state->finish(make_error(ErrorCode::cancelled, "cancelled before it started"));
        else
            job.state->finish(job.fn(*job.state));
        std::lock_guard lock(mu);
        running.reset();
    }
}

Job Engine::Impl::submit(std::function<Status(Job::State&)> fn) {
    auto st = std::make_shared<Job::State>();
    {
        std::lock_guard lock(mu);
        if (stopping) {
            st->finish(make_error(ErrorCode::cancelled, "the engine is shutting down"));
            return Job(st);
        }
        queue.push_back({st, std::move(fn)});
    }
    cv.notify_one();
    return Job(st);
}

Result<int64_t> Engine::Impl::collection_id(const std::string& name) {
    DK_ASSIGN_OR_RETURN(auto id, store->find_collection(name));
    if (!id) return make_error(ErrorCode::not_found, "no collection named '{}'", name);
    return *id;
}

Status Engine::Impl::run_ingest(Job::State& st, const std::string& collection, const std::vector<std::string>& paths) {
    ingest::IngestOptions io;
    io.segmenter.target_tokens = opt.segment_tokens;
    io.segmenter.max_tokens = opt.segment_tokens * 2;
    auto on_progress = [&](const ingest::IngestProgress& p) {
        st.set_progress({"ingest", p.files_total, p.files_done, p.bytes_total, p.bytes_done, p.tokens_done,
                         p.elapsed_s, p.eta_s, p.current});
    };
    DK_ASSIGN_OR_RETURN(ingest::IngestReport r, ingest::run_ingest(*ws, collection, paths, io, &st.cancel, on_progress));
    IngestSummary s;
    for (const auto& f : r.files) s.files.push_back({f.path, f.status, f.error, f.segments, f.tokens});
    s.skipped_unsupported = r.skipped_unsupported;
    s.ingested = r.ingested;
    s.unchanged = r.unchanged;
    s.failed = r.failed;
    s.retired = r.retired;
    s.segments_prefilled = r.segments_prefilled;
    s.segments_reused = r.segments_reused;
    s.tokens = r.tokens;
    {
        std::lock_guard lock(st.mu);
        st.summary = std::move(s);
    }
    if (r.cancelled) return make_error(ErrorCode::cancelled, "ingest cancelled (a re-run resumes it)");
    return Status::ok();
}

Result<std::vector<int64_t>> Engine::Impl::oracle_ids(int64_t collection, const AskRequest& req) {
    std::vector<int64_t> ids;
    for (const auto& [path, ordinal] : req.oracle_segments) {
        DK_ASSIGN_OR_RETURN(auto doc, store->find_document(collection, path));
        if (!doc) return make_error(ErrorCode::not_found, "oracle context: no document {} in the collection", path);
        DK_ASSIGN_OR_RETURN(auto segs, store->segments_of(doc->id));
        if (ordinal < 0 || ordinal >= static_cast<int>(segs.size()))
            return make_error(ErrorCode::not_found, "oracle context: {} has no segment {}", path, ordinal);
        ids.push_back(segs[ordinal].id);
    }
    return ids;
}

Result<query::AskOptions> Engine::Impl::ask_options(int64_t coll, const AskRequest& req) {
    query::AskOptions ao;
    if (req.mode == "docket") ao.mode = query::Mode::docket;
    else if (req.mode == "rag") ao.mode = query::Mode::rag;
    else if (req.mode == "oracle") ao.mode = query::Mode::oracle;
    else return make_error(ErrorCode::invalid_argument, "unknown mode '{}' (docket, rag, oracle)", req.mode);
    DK_ASSIGN_OR_RETURN(ao.retrieval, parse_retrieval(req.retrieval));
    ao.budget_tokens = req.budget_tokens;
    ao.max_answer_tokens = req.max_answer_tokens;
    ao.recompute = req.recompute;
    if (ao.mode == query::Mode::oracle) {
        DK_ASSIGN_OR_RETURN(ao.oracle_segments, oracle_ids(coll, req));
    }
    return ao;
}

Status Engine::Impl::run_archive(Job::State& st, int64_t coll, const AskRequest& req, const query::AskOptions& ao,
                                 const AnswerSink& sink, AnswerStats& stats) {
    const auto t0 = std::chrono::steady_clock::now();
    query::ArchiveEvents ev;
    ev.on_text = sink.on_token;
    ev.on_citation = [&](const query::CitationInfo& c) {
        if (sink.on_citation) sink.on_citation(to_citation(c));
    };
    ev.on_document = [&](const query::DocumentVerdict& v) {
        if (sink.on_document) sink.on_document(to_archive_document(v));
    };
    ev.on_progress = [&](int64_t done, int64_t total, const std::string& current) {
        JobProgress p;
        p.phase = "map";
        p.documents_total = total;
        p.documents_done = done;
        p.current = current;
        p.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (done > 0) p.eta_s = p.elapsed_s / static_cast<double>(done) * static_cast<double>(total - done);
        st.set_progress(p);
    };
    DK_ASSIGN_OR_RETURN(query::ArchiveResult r, query::answer_archive(*ws, coll, req.question, ao, ev, &st.cancel));
    stats.answer = r.text;
    stats.kind = query::archive_kind_name(r.question.kind);
    stats.documents_total = r.documents_total;
    stats.ttft_s = r.ttft_s;
    stats.total_s = r.total_s;
    stats.stop = "done";
    for (const auto& v : r.documents) {
        stats.documents.push_back(to_archive_document(v));
        stats.context_tokens += v.context_tokens;
        stats.recomputed += v.recomputed;
    }
    for (size_t i : r.matched) stats.matched.push_back(stats.documents[i]);
    if (r.chosen >= 0) stats.chosen = r.documents[r.chosen].document;
    return Status::ok();
}

Status Engine::Impl::run_ask(Job::State& st, const AskRequest& req, const AnswerSink& sink, AnswerStats& stats) {
    DK_TRY(check_question(req.question, req.max_answer_tokens));
    if (req.scope != "document" && req.scope != "archive")
        return make_error(ErrorCode::invalid_argument, "unknown scope '{}' (document, archive)", req.scope);
    DK_ASSIGN_OR_RETURN(const int64_t coll, collection_id(req.collection));
    DK_ASSIGN_OR_RETURN(auto docs, store->list_documents(coll));
    if (std::none_of(docs.begin(), docs.end(), [](const auto& d) { return d.status == "ready"; }))
        return make_error(ErrorCode::not_found,
                          "collection '{}' holds no readable document yet ({} listed; see docket-cli documents)",
                          req.collection, docs.size());
    DK_ASSIGN_OR_RETURN(const query::AskOptions ao, ask_options(coll, req));
    if (req.scope == "archive") return run_archive(st, coll, req, ao, sink, stats);
    JobProgress p;
    p.phase = "answer";
    st.set_progress(p);
    query::AnswerEvents ev;
    ev.on_text = sink.on_token;
    ev.on_citation = [&](const query::CitationInfo& c) {
        if (sink.on_citation) sink.on_citation(to_citation(c));
    };
    DK_ASSIGN_OR_RETURN(query::AnswerResult r, query::answer(*ws, coll, req.question, ao, ev, &st.cancel));
    stats.answer = r.text;
    stats.context_tokens = r.context_tokens;
    stats.answer_tokens = r.answer_tokens;
    stats.segments = static_cast<int64_t>(r.context.size());
    stats.recomputed = r.recomputed;
    stats.blended_tokens = r.blended_tokens;
    stats.ttft_s = r.ttft_s;
    stats.total_s = r.total_s;
    stats.stop = r.stop;
    for (const auto& c : r.context) {
        stats.context.push_back(fmt::format("{}, part {}", c.segment.title, c.segment.row.ordinal + 1));
        stats.context_segments.emplace_back(c.segment.document, c.segment.row.ordinal);
    }
    return Status::ok();
}

Status Engine::Impl::run_sync(std::function<Status()> fn) {
    Job job = submit([fn = std::move(fn)](Job::State&) { return fn(); });
    return job.wait();
}

Result<Retrieved> Engine::Impl::run_retrieve(const RetrieveRequest& req) {
    DK_TRY(check_question(req.question, req.max_answer_tokens));
    if (req.top < 0 || req.top > 10000) return make_error(ErrorCode::invalid_argument, "top must be 0-10000");
    DK_ASSIGN_OR_RETURN(const int64_t coll, collection_id(req.collection));
    query::AskOptions ao;
    ao.budget_tokens = req.budget_tokens;
    ao.max_answer_tokens = req.max_answer_tokens;
    Retrieved out;
    DK_ASSIGN_OR_RETURN(out.budget_tokens, query::context_budget(*ws, req.question, ao));
    query::RetrievalOptions ro;
    DK_ASSIGN_OR_RETURN(ro.method, parse_retrieval(req.retrieval));
    ro.budget_tokens = out.budget_tokens;
    DK_ASSIGN_OR_RETURN(auto ranked, query::rank(*ws, coll, req.question, ro, nullptr));
    auto to_api = [](const query::Candidate& c) {
        return RankedSegment{c.segment.document, c.segment.title, c.segment.row.ordinal,
                             c.segment.row.n_tokens, c.fused};
    };
    for (size_t i = 0; i < ranked.size() && i < static_cast<size_t>(req.top); ++i)
        out.ranked.push_back(to_api(ranked[i]));
    for (const auto& c : query::select_under_budget(std::move(ranked), out.budget_tokens))
        out.selected.push_back(to_api(c));
    return out;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
    std::deque<Impl::Queued> dropped;
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
        // The running job stops at its next prefill chunk or decode step; queued ones never start.
        if (impl_->running) impl_->running->cancel.store(true);
        dropped.swap(impl_->queue);
    }
    impl_->cv.notify_all();
    for (auto& q : dropped) q.state->finish(make_error(ErrorCode::cancelled, "the engine was closed"));
    if (impl_->worker.joinable()) impl_->worker.join();
}

Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& opt) {
    log::init();
    if (!std::getenv("DOCKET_LOG") && !opt.log_level.empty() && !log::set_stderr_level(opt.log_level))
        return make_error(ErrorCode::invalid_argument, "unknown log level '{}'", opt.log_level);
    auto impl = std::make_unique<Impl>();
    impl->opt = opt;
    impl->data_dir = opt.data_dir.empty() ? default_data_dir() : opt.data_dir;
    if (impl->opt.model_path.empty()) impl->opt.model_path = default_model_path();
    if (opt.segment_tokens < 64 || opt.segment_tokens > 4096)
        return make_error(ErrorCode::invalid_argument, "segment size must be 64-4096 tokens, not {}", opt.segment_tokens);
    DK_ASSIGN_OR_RETURN(const store::Codec codec, kv_page::parse_codec(opt.codec, "codec"));
    if (opt.backend != "cpu" && opt.backend != "auto" && opt.backend != "cuda")
        return make_error(ErrorCode::invalid_argument, "unknown backend '{}' (cpu, cuda, auto)", opt.backend);
    DK_TRY(prepare_data_dir(impl->data_dir));
    store::StoreOptions so;
    so.byte_budget = opt.store_budget_bytes;
    DK_ASSIGN_OR_RETURN(impl->store, store::Store::open(impl->data_dir + "/store", so));
    DK_ASSIGN_OR_RETURN(impl->model, Model::load(impl->opt.model_path));
    DK_ASSIGN_OR_RETURN(impl->tok, Tokenizer::from_gguf(impl->model->gguf()));
    DK_ASSIGN_OR_RETURN(const Hash128 fp, impl->store->model_fingerprint(impl->opt.model_path));
    DK_ASSIGN_OR_RETURN(auto backend, open_backend(*impl->model, opt.backend, opt.threads));
    impl->backend_note = backend->description();
    kv::WorkspaceOptions wo;
    wo.codec = codec;
    DK_ASSIGN_OR_RETURN(impl->ws, kv::Workspace::create(*impl->model, *impl->tok, std::move(backend), *impl->store,
                                                        fp, impl->counters, wo));
    impl->worker = std::thread([p = impl.get()] { p->run_worker(); });
    DK_LOG_INFO("engine open: data {}, model {}, codec {}, backend {}", impl->data_dir, impl->opt.model_path,
                opt.codec, impl->backend_note);
    return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<std::vector<CollectionInfo>> Engine::collections() {
    DK_ASSIGN_OR_RETURN(auto rows, impl_->store->list_collections());
    std::vector<CollectionInfo> out;
    for (const auto& r : rows) out.push_back({r.name, r.documents, r.segments, r.tokens});
    return out;
}

Result<std::vector<DocumentInfo>> Engine::documents(const std::string& collection) {
    DK_ASSIGN_OR_RETURN(const int64_t id, impl_->collection_id(collection));
    DK_ASSIGN_OR_RETURN(auto rows, impl_->store->list_documents(id));
    std::vector<DocumentInfo> out;
    for (const auto& d : rows)
        out.push_back({d.path, d.title, d.format, d.encoding, d.status, d.error, d.bytes, d.chars, d.segments, d.tokens});
    return out;
}

Result<std::vector<store::SegmentRow>> Engine::Impl::segment_rows(const std::string& collection,
                                                                  const std::string& document) {
    DK_ASSIGN_OR_RETURN(const int64_t id, collection_id(collection));
    DK_ASSIGN_OR_RETURN(auto doc, store->find_document(id, document));
    if (!doc) return make_error(ErrorCode::not_found, "no document {} in collection '{}'", document, collection);
    return store->segments_of(doc->id);
}

Result<std::vector<SegmentInfo>> Engine::segments(const std::string& collection, const std::string& document) {
    DK_ASSIGN_OR_RETURN(auto rows, impl_->segment_rows(collection, document));
    std::vector<SegmentInfo> out;
    for (const auto& r : rows) out.push_back({r.ordinal, r.char_begin, r.char_end, r.line_begin, r.line_end, r.n_tokens});
    return out;
}

Result<std::string> Engine::document_text(const std::string& collection, const std::string& document) {
    DK_ASSIGN_OR_RETURN(auto rows, impl_->segment_rows(collection, document));
    std::string text;
    for (const auto& r : rows) {
        // Spans come in document order and never overlap (the segmenter covers the text contiguously); a
        // catalog saying otherwise is damaged, and highlights placed on it would point at the wrong words.
        const int64_t size = static_cast<int64_t>(text.size());
        if (r.char_begin < size || r.char_end - r.char_begin != static_cast<int64_t>(r.text.size()))
            return make_error(ErrorCode::corrupt_data, "document {}: segment {} spans [{}, {}), which does not fit",
                              document, r.ordinal, r.char_begin, r.char_end);
        text.resize(static_cast<size_t>(r.char_begin), ' ');
        text += r.text;
    }
    return text;
}

Status Engine::remove_collection(const std::string& collection) {
    DK_ASSIGN_OR_RETURN(const int64_t id, impl_->collection_id(collection));
    return impl_->store->remove_collection(id);
}

Job Engine::add_documents(const std::string& collection, const std::vector<std::string>& paths) {
    Impl* p = impl_.get();
    return p->submit([p, collection, paths](Job::State& st) { return p->run_ingest(st, collection, paths); });
}

Job Engine::ask(const AskRequest& request, AnswerSink sink) {
    Impl* p = impl_.get();
    return p->submit([p, request, sink = std::move(sink)](Job::State& st) {
        AnswerStats stats;
        Status s = p->run_ask(st, request, sink, stats);
        if (sink.on_done) sink.on_done(s, stats);
        return s;
    });
}

Result<Retrieved> Engine::retrieve(const RetrieveRequest& request) {
    Retrieved out;
    DK_TRY(impl_->run_sync([&]() -> Status {
        DK_ASSIGN_OR_RETURN(out, impl_->run_retrieve(request));
        return Status::ok();
    }));
    return out;
}

Result<int64_t> Engine::context_budget(const std::string& question, int64_t budget_tokens,
                                       int max_answer_tokens) {
    int64_t budget = 0;
    DK_TRY(impl_->run_sync([&]() -> Status {
        DK_TRY(check_question(question, max_answer_tokens));
        query::AskOptions ao;
        ao.budget_tokens = budget_tokens;
        ao.max_answer_tokens = max_answer_tokens;
        DK_ASSIGN_OR_RETURN(budget, query::context_budget(*impl_->ws, question, ao));
        return Status::ok();
    }));
    return budget;
}

TelemetrySnapshot Engine::telemetry() const {
    const telemetry::CounterValues v = impl_->counters.snapshot();
    TelemetrySnapshot t;
    t.documents_ingested = v.documents_ingested;
    t.documents_skipped = v.documents_skipped;
    t.documents_failed = v.documents_failed;
    t.segments_prefilled = v.segments_prefilled;
    t.segments_reused = v.segments_reused;
    t.segments_recomputed = v.segments_recomputed;
    t.snapshots_loaded = v.snapshots_loaded;
    t.snapshot_bytes_loaded = v.snapshot_bytes_loaded;
    t.tokens_prefilled = v.tokens_prefilled;
    t.tokens_composed = v.tokens_composed;
    t.tokens_generated = v.tokens_generated;
    t.questions_answered = v.questions_answered;
    t.model = impl_->opt.model_path;
    t.backend = impl_->backend_note;
    t.codec = impl_->opt.codec;
    t.data_dir = impl_->data_dir;
    return t;
}

std::vector<std::string> Engine::recent_log(size_t max_lines) const {
    return log::recent(max_lines);
}

ModelDescription Engine::model() const {
    const ModelConfig& c = impl_->model->config();
    return {impl_->opt.model_path, arch_name(c.arch), fs::path(impl_->opt.model_path).stem().string(),
            impl_->ws->n_ctx(), c.n_layer, static_cast<int64_t>(impl_->model->weight_bytes())};
}

const std::string& Engine::data_dir() const {
    return impl_->data_dir;
}

}  // namespace docket

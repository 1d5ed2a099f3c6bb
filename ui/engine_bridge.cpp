#include "engine_bridge.h"

#include <QMetaObject>

namespace docket::ui {
namespace {

QString qs(const std::string& s) {
    return QString::fromStdString(s);
}

DocumentEntry toEntry(const docket::DocumentInfo& d) {
    return {qs(d.path), qs(d.title), qs(d.format), qs(d.encoding), qs(d.status), qs(d.error),
            d.bytes,    d.chars,     d.segments,   d.tokens};
}

CitationEntry toEntry(const docket::Citation& c) {
    return {qs(c.document), qs(c.title), qs(c.quote), c.segment, c.line_begin, c.line_end,
            c.char_begin,   c.char_end,  c.weight};
}

IngestProgress toEntry(const docket::JobProgress& p) {
    return {qs(p.phase),   qs(p.current), p.files_total, p.files_done,      p.bytes_total,   p.bytes_done,
            p.tokens_done, p.elapsed_s,   p.eta_s,       p.documents_total, p.documents_done};
}

AnswerOutcome toOutcome(const docket::Status& s, const docket::AnswerStats& st) {
    AnswerOutcome o;
    o.ok = s.is_ok();
    o.cancelled = s.code() == docket::ErrorCode::cancelled;
    o.error = s.is_ok() ? QString() : qs(s.message());
    o.stop = qs(st.stop);
    o.contextTokens = st.context_tokens;
    o.answerTokens = st.answer_tokens;
    o.segments = st.segments;
    o.ttftSeconds = st.ttft_s;
    o.totalSeconds = st.total_s;
    return o;
}

IngestOutcome toOutcome(const QString& collection, const docket::Status& s, const docket::IngestSummary& sum) {
    IngestOutcome o;
    o.collection = collection;
    o.ok = s.is_ok();
    o.cancelled = s.code() == docket::ErrorCode::cancelled;
    o.error = s.is_ok() ? QString() : qs(s.message());
    for (const auto& f : sum.files) o.files.push_back({qs(f.path), qs(f.status), qs(f.error), f.segments, f.tokens});
    for (const auto& p : sum.skipped_unsupported) o.skippedUnsupported << qs(p);
    o.ingested = sum.ingested;
    o.unchanged = sum.unchanged;
    o.failed = sum.failed;
    return o;
}

}  // namespace

EngineBridge::EngineBridge(QObject* parent) : QObject(parent) {
    m_worker.setMaxThreadCount(1);
    m_worker.setExpiryTimeout(-1);
    m_pollTimer.setInterval(100);
    connect(&m_pollTimer, &QTimer::timeout, this, &EngineBridge::pollJobs);
}

EngineBridge::~EngineBridge() {
    m_pollTimer.stop();
    if (m_answer) m_answer->job.cancel();
    for (auto& j : m_ingests) j.job.cancel();
    m_worker.waitForDone();
    m_engine.reset();  // joins the compute thread: the running job stops at its next chunk or step
}

template <typename Fn>
void EngineBridge::postToSelf(Fn fn) {
    QMetaObject::invokeMethod(this, std::move(fn), Qt::QueuedConnection);
}

template <typename Fn>
void EngineBridge::runOffThread(Fn fn) {
    m_worker.start(std::function<void()>(std::move(fn)));
}

void EngineBridge::open(const docket::EngineOptions& options) {
    m_opening = true;
    if (m_answer) m_answer->job.cancel();
    for (auto& j : m_ingests) j.job.cancel();
    // The old engine goes on the worker too: its destructor waits for the running job to stop.
    auto old = std::make_shared<std::shared_ptr<docket::Engine>>(std::move(m_engine));
    runOffThread([this, old, options] {
        old->reset();
        auto result = docket::Engine::open(options);
        auto engine = result.is_ok() ? std::shared_ptr<docket::Engine>(std::move(*result)) : nullptr;
        const QString error = result.is_ok() ? QString() : qs(result.status().message());
        postToSelf([this, engine, error] {
            m_opening = false;
            m_engine = engine;
            emit opened(engine != nullptr, error);
        });
    });
}

QString EngineBridge::dataDir() const {
    return m_engine ? qs(m_engine->data_dir()) : QString();
}

std::optional<docket::ModelDescription> EngineBridge::model() const {
    if (!m_engine) return std::nullopt;
    return m_engine->model();
}

std::optional<docket::TelemetrySnapshot> EngineBridge::telemetry() const {
    if (!m_engine) return std::nullopt;
    return m_engine->telemetry();
}

void EngineBridge::refresh() {
    if (!m_engine) return;
    runOffThread([this, engine = m_engine] {
        auto colls = engine->collections();
        if (!colls.is_ok()) {
            postToSelf([this, e = qs(colls.status().message())] { emit failed(e); });
            return;
        }
        QVector<CollectionEntry> out;
        QHash<QString, QVector<DocumentEntry>> docs;
        QStringList errors;
        for (const auto& c : *colls) {
            out.push_back({qs(c.name), c.documents, c.segments, c.tokens});
            auto d = engine->documents(c.name);
            if (!d.is_ok()) {
                errors << qs(d.status().message());
                continue;
            }
            auto& list = docs[qs(c.name)];
            for (const auto& row : *d) list.push_back(toEntry(row));
        }
        postToSelf([this, out, docs, errors] {
            emit collectionsLoaded(out, docs);
            for (const QString& e : errors) emit failed(e);
        });
    });
}

void EngineBridge::loadDocumentText(const QString& collection, const QString& path) {
    if (!m_engine) return;
    runOffThread([this, engine = m_engine, collection, path] {
        auto text = engine->document_text(collection.toStdString(), path.toStdString());
        const QByteArray bytes = text.is_ok() ? QByteArray::fromStdString(*text) : QByteArray();
        const QString error = text.is_ok() ? QString() : qs(text.status().message());
        postToSelf([this, collection, path, bytes, error] { emit documentTextLoaded(collection, path, bytes, error); });
    });
}

bool EngineBridge::addDocuments(const QString& collection, const QStringList& paths) {
    if (!m_engine || paths.isEmpty()) return false;
    std::vector<std::string> list;
    for (const QString& p : paths) list.push_back(p.toStdString());
    // Submitting only queues the job (a lock and a push): the ingest itself runs on the compute thread.
    m_ingests.push_back({m_engine->add_documents(collection.toStdString(), list), collection});
    emit ingestStarted(collection, paths);
    ensurePolling();
    return true;
}

void EngineBridge::cancelIngest() {
    for (auto& j : m_ingests) j.job.cancel();
}

quint64 EngineBridge::ask(const QString& collection, const QString& question, int maxAnswerTokens, bool wholeArchive) {
    if (!m_engine) return 0;
    if (m_answer) m_answer->job.cancel();  // one answer at a time: a new question replaces the old
    const quint64 id = m_nextAnswerId++;
    docket::AskRequest req;
    req.collection = collection.toStdString();
    req.question = question.toStdString();
    req.max_answer_tokens = maxAnswerTokens;
    req.scope = wholeArchive ? "archive" : "document";
    docket::AnswerSink sink;
    // These run on the engine's compute thread: copy, then queue to this object's thread.
    sink.on_token = [this, id](const std::string& t) {
        postToSelf([this, id, b = QByteArray::fromStdString(t)] { emit answerToken(id, b); });
    };
    sink.on_citation = [this, id](const docket::Citation& c) {
        postToSelf([this, id, e = toEntry(c)] { emit answerCitation(id, e); });
    };
    sink.on_done = [this, id](const docket::Status& s, const docket::AnswerStats& st) {
        postToSelf([this, id, o = toOutcome(s, st)] {
            if (m_answer && m_answer->id == id) m_answer.reset();
            emit answerFinished(id, o);
        });
    };
    m_answer = AnswerJob{m_engine->ask(req, std::move(sink)), id};
    ensurePolling();
    return id;
}

void EngineBridge::stopAnswer() {
    if (m_answer) m_answer->job.cancel();
}

void EngineBridge::ensurePolling() {
    if (!m_pollTimer.isActive()) m_pollTimer.start();
}

void EngineBridge::pollJobs() {
    if (m_answer && !m_answer->job.done()) emit answerProgress(m_answer->id, toEntry(m_answer->job.progress()));
    if (m_ingests.isEmpty()) {
        if (!m_answer) m_pollTimer.stop();
        return;
    }
    IngestJob& front = m_ingests.front();
    if (!front.job.done()) {
        emit ingestProgress(toEntry(front.job.progress()));
        return;
    }
    // done() is true, so wait() returns at once.
    const IngestOutcome o = toOutcome(front.collection, front.job.wait(), front.job.ingest_summary());
    m_ingests.pop_front();
    emit ingestFinished(o);
}

}  // namespace docket::ui

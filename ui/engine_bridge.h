#pragma once
// EngineBridge: the window's one door to docket::Engine. It owns the engine, runs every engine call that can
// block (open, catalog reads, document text) on its own worker thread, and turns the engine's callbacks (which
// come from the engine's compute thread) into signals queued to the thread the bridge lives in. Jobs (ingest,
// ask) are submitted and cancelled from here; their progress is polled, which is a lock and a copy.
#include <QHash>
#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include <memory>
#include <optional>

#include "api/engine.h"
#include "ui_types.h"

namespace docket::ui {

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject* parent = nullptr);
    ~EngineBridge() override;

    // Opens (or re-opens with new options: running jobs are cancelled first) the engine off this thread.
    void open(const docket::EngineOptions& options);
    bool isOpen() const { return m_engine != nullptr; }
    bool isOpening() const { return m_opening; }
    QString dataDir() const;
    std::optional<docket::ModelDescription> model() const;
    // The engine's counters: relaxed atomic loads, cheap enough for a 10 Hz timer on the UI thread.
    std::optional<docket::TelemetrySnapshot> telemetry() const;

    // Reads collections and each one's documents off this thread: collectionsLoaded (or failed).
    void refresh();
    // Reads a document's stored text off this thread: documentTextLoaded.
    void loadDocumentText(const QString& collection, const QString& path);

    // Queues an ingest of files and folders; progress comes as ingestProgress, the end as ingestFinished.
    bool addDocuments(const QString& collection, const QStringList& paths);
    void cancelIngest();
    bool ingestRunning() const { return !m_ingests.isEmpty(); }

    // Asks a question; returns the answer's id (0 when no engine is open), used by the answer signals.
    // wholeArchive: a question about the whole collection, asked of each document (answerProgress says how far).
    quint64 ask(const QString& collection, const QString& question, int maxAnswerTokens, bool wholeArchive = false);
    void stopAnswer();
    bool answering() const { return m_answer.has_value(); }

signals:
    void opened(bool ok, const QString& error);
    void collectionsLoaded(const QVector<docket::ui::CollectionEntry>& collections,
                           const QHash<QString, QVector<docket::ui::DocumentEntry>>& documents);
    void failed(const QString& what);  // a read that did not work, as one line
    void documentTextLoaded(const QString& collection, const QString& path, const QByteArray& text,
                            const QString& error);
    void ingestStarted(const QString& collection, const QStringList& paths);
    void ingestProgress(const docket::ui::IngestProgress& progress);
    void ingestFinished(const docket::ui::IngestOutcome& outcome);
    void answerToken(quint64 id, const QByteArray& text);
    void answerCitation(quint64 id, const docket::ui::CitationEntry& citation);
    void answerFinished(quint64 id, const docket::ui::AnswerOutcome& outcome);
    void answerProgress(quint64 id, const docket::ui::IngestProgress& progress);

private:
    struct IngestJob {
        docket::Job job;
        QString collection;
    };
    struct AnswerJob {
        docket::Job job;
        quint64 id;
    };

    void pollJobs();
    void ensurePolling();
    template <typename Fn>
    void runOffThread(Fn fn);  // fn runs on m_worker; post results back with postToSelf
    template <typename Fn>
    void postToSelf(Fn fn);

    QThreadPool m_worker;  // one thread: blocking engine calls, in the order they were made
    std::shared_ptr<docket::Engine> m_engine;
    bool m_opening = false;
    QList<IngestJob> m_ingests;
    std::optional<AnswerJob> m_answer;
    quint64 m_nextAnswerId = 1;
    QTimer m_pollTimer;
};

}  // namespace docket::ui

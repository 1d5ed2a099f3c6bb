#include "smoke_test.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>

#include "ui/answer_export.h"
#include "ui/engine_bridge.h"
#include "ui/sample_archive.h"

using namespace docket::ui;

namespace {
constexpr int kTimeoutMs = 15 * 60 * 1000;

void print(const QString& s) {
    std::fputs(s.toUtf8().constData(), stdout);
    std::fflush(stdout);
}
}  // namespace

SmokeTest::SmokeTest(const docket::EngineOptions& options, const QString& question, QObject* parent)
    : QObject(parent), m_bridge(new EngineBridge(this)), m_options(options), m_question(question) {
    connect(m_bridge, &EngineBridge::opened, this, [this](bool ok, const QString& error) {
        if (!ok) return fail(tr("the engine did not open: %1").arg(error));
        print(tr("engine open: %1, data %2\n").arg(QString::fromStdString(m_bridge->model()->name), m_bridge->dataDir()));
        m_bridge->refresh();
    });
    connect(m_bridge, &EngineBridge::failed, this, [this](const QString& e) { fail(e); });
    connect(m_bridge, &EngineBridge::collectionsLoaded, this, &SmokeTest::onCatalog);
    connect(m_bridge, &EngineBridge::ingestFinished, this, [this](const IngestOutcome& o) {
        if (!o.ok) return fail(tr("ingest of the sample archive failed: %1").arg(o.error));
        if (o.failed > 0) return fail(tr("%1 sample contracts could not be read").arg(o.failed));
        print(tr("ingested %1 contracts (%2 unchanged)\n").arg(o.ingested).arg(o.unchanged));
        m_ingested = true;
        m_bridge->refresh();
    });
    connect(m_bridge, &EngineBridge::answerToken, this, [this](quint64, const QByteArray& t) { m_answer += t; });
    connect(m_bridge, &EngineBridge::answerCitation, this,
            [this](quint64, const CitationEntry& c) { m_citations.push_back(c); });
    connect(m_bridge, &EngineBridge::answerFinished, this, [this](quint64, const AnswerOutcome& o) {
        if (!o.ok) return fail(tr("the answer failed: %1").arg(o.error));
        Exchange e;
        e.question = m_question;
        e.answerUtf8 = m_answer;
        e.citations = m_citations;
        e.state = Exchange::State::Done;
        print(exchangeMarkdown(e));
        print(tr("(%1 context tokens, first token after %2 s, %3 s in all)\n")
                  .arg(o.contextTokens)
                  .arg(o.ttftSeconds, 0, 'f', 2)
                  .arg(o.totalSeconds, 0, 'f', 1));
        if (QString::fromUtf8(m_answer).trimmed().isEmpty()) return fail(tr("the answer is empty"));
        if (m_citations.isEmpty()) return fail(tr("the answer has no citation"));
        QCoreApplication::exit(0);
    });
}

void SmokeTest::start() {
    m_archive = sampleArchiveDir();
    if (m_archive.isEmpty()) return fail(tr("the sample archive is not installed (set DOCKET_SAMPLE_ARCHIVE)"));
    print(tr("sample archive: %1\n").arg(m_archive));
    QTimer::singleShot(kTimeoutMs, this, [this] { fail(tr("no answer within %1 minutes").arg(kTimeoutMs / 60000)); });
    m_bridge->open(m_options);
}

void SmokeTest::fail(const QString& why) {
    std::fprintf(stderr, "docket --smoke-test: %s\n", why.toUtf8().constData());
    QCoreApplication::exit(1);
}

void SmokeTest::onCatalog(const QVector<CollectionEntry>&, const QHash<QString, QVector<DocumentEntry>>& documents) {
    int ready = 0;
    const QStringList files = sampleArchiveFiles(m_archive);
    for (const DocumentEntry& d : documents.value(kSampleCollection))
        ready += d.status == QLatin1String("ready") && files.contains(d.path);
    if (ready == files.size()) return ask();
    if (m_ingested) return fail(tr("only %1 of %2 sample contracts are ready after ingest").arg(ready).arg(files.size()));
    print(tr("ingesting the sample archive (%1 contracts, %2 ready)…\n").arg(files.size()).arg(ready));
    m_bridge->addDocuments(kSampleCollection, files);
}

void SmokeTest::ask() {
    print(tr("asking: %1\n").arg(m_question));
    m_bridge->ask(kSampleCollection, m_question, 64);
}

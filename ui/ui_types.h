#pragma once
// Qt-side copies of what crosses the engine seam (api/engine.h), so that models and views hold QStrings and
// never engine structs, and the conversion is written once (engine_bridge.cpp).
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

namespace docket::ui {

struct CollectionEntry {
    QString name;
    qint64 documents = 0, segments = 0, tokens = 0;
};

struct DocumentEntry {
    QString path, title, format, encoding, status, error;
    qint64 bytes = 0, chars = 0, segments = 0, tokens = 0;
};

struct CitationEntry {
    QString document, title, quote;
    int segment = 0, lineBegin = 0, lineEnd = 0;
    qint64 charBegin = 0, charEnd = 0;  // byte span in the document's stored (UTF-8) text
    double weight = 0.0;
};

struct AnswerOutcome {
    bool ok = false, cancelled = false;
    QString error, stop;
    qint64 contextTokens = 0, answerTokens = 0, segments = 0;
    double ttftSeconds = 0.0, totalSeconds = 0.0;
};

// A job's progress (JobProgress): an ingest's files and bytes, or an archive question's documents ("map").
struct IngestProgress {
    QString phase, current;
    qint64 filesTotal = 0, filesDone = 0, bytesTotal = 0, bytesDone = 0, tokensDone = 0;
    double elapsedSeconds = 0.0, etaSeconds = -1.0;  // eta < 0: unknown
    qint64 documentsTotal = 0, documentsDone = 0;
};

struct IngestFileResult {
    QString path, status, error;  // status: ingested, unchanged, failed, retired, cancelled
    qint64 segments = 0, tokens = 0;
};

struct IngestOutcome {
    QString collection;
    bool ok = false, cancelled = false;
    QString error;
    QVector<IngestFileResult> files;
    QStringList skippedUnsupported;
    qint64 ingested = 0, unchanged = 0, failed = 0;
};

}  // namespace docket::ui

// Queued and spied signals carry these by value.
Q_DECLARE_METATYPE(docket::ui::CollectionEntry)
Q_DECLARE_METATYPE(docket::ui::DocumentEntry)
Q_DECLARE_METATYPE(docket::ui::CitationEntry)
Q_DECLARE_METATYPE(docket::ui::AnswerOutcome)
Q_DECLARE_METATYPE(docket::ui::IngestProgress)
Q_DECLARE_METATYPE(docket::ui::IngestOutcome)

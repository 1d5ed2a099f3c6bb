#pragma once
// The question history, kept in the data directory (<data>/ui/history.json) rather than in QSettings: it is
// archive data, not a preference (it names documents of that data directory, moves with it, and shares its
// 0700 privacy), and it can grow past what a settings file should hold. Written new-then-rename (QSaveFile),
// debounced; read with bounds (size, entries per collection, field lengths), a damaged file set aside as .bad.
#include <QObject>
#include <QTimer>

#include "answer_model.h"

namespace docket::ui {

class HistoryFile : public QObject {
    Q_OBJECT
public:
    static constexpr int kMaxPerCollection = 500;
    static constexpr qint64 kMaxFileBytes = 32 << 20;

    explicit HistoryFile(AnswerModel* model, QObject* parent = nullptr);
    ~HistoryFile() override;

    // Loads <dataDir>/ui/history.json into the model (replacing its history). Returns a one-line problem, or "".
    QString load(const QString& dataDir);
    // Writes now (also done, debounced, after each finished exchange).
    QString save();
    QString path() const { return m_path; }

    static QByteArray toJson(const QVector<Exchange>& exchanges);
    static QVector<Exchange> fromJson(const QByteArray& json, QString* error);

private:
    AnswerModel* m_model;
    QString m_path;
    QTimer m_saveTimer;
};

}  // namespace docket::ui

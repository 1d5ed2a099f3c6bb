#pragma once
// docket --smoke-test: through the same EngineBridge the window uses, opens the engine, makes sure the sample
// archive is ingested into "sample" (ingesting what is missing), asks one question and prints the answer with
// its citations. Exit 0 on an answer with at least one citation; otherwise 1 and one line saying why.
#include <QObject>
#include <QString>
#include <QVector>

#include "api/engine.h"
#include "ui/ui_types.h"

namespace docket::ui {
class EngineBridge;
}

class SmokeTest : public QObject {
    Q_OBJECT
public:
    SmokeTest(const docket::EngineOptions& options, const QString& question, QObject* parent = nullptr);
    void start();

private:
    void fail(const QString& why);
    void onCatalog(const QVector<docket::ui::CollectionEntry>& collections,
                   const QHash<QString, QVector<docket::ui::DocumentEntry>>& documents);
    void ask();

    docket::ui::EngineBridge* m_bridge;
    docket::EngineOptions m_options;
    QString m_question, m_archive;
    QByteArray m_answer;
    QVector<docket::ui::CitationEntry> m_citations;
    bool m_ingested = false;
};

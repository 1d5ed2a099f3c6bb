#include "history_file.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

namespace docket::ui {
namespace {

constexpr int kMaxTextChars = 64 * 1024;

QString bounded(const QJsonValue& v) {
    return v.toString().left(kMaxTextChars);
}

QJsonObject citationToJson(const CitationEntry& c) {
    return {{"document", c.document}, {"title", c.title},         {"quote", c.quote},
            {"segment", c.segment},   {"line_begin", c.lineBegin}, {"line_end", c.lineEnd},
            {"char_begin", double(c.charBegin)}, {"char_end", double(c.charEnd)}, {"weight", c.weight}};
}

CitationEntry citationFromJson(const QJsonObject& o) {
    CitationEntry c;
    c.document = bounded(o["document"]);
    c.title = bounded(o["title"]);
    c.quote = bounded(o["quote"]);
    c.segment = o["segment"].toInt();
    c.lineBegin = o["line_begin"].toInt();
    c.lineEnd = o["line_end"].toInt();
    c.charBegin = qint64(o["char_begin"].toDouble());
    c.charEnd = qint64(o["char_end"].toDouble());
    c.weight = o["weight"].toDouble();
    return c;
}

QString stateName(Exchange::State s) {
    switch (s) {
    case Exchange::State::Done: return QStringLiteral("done");
    case Exchange::State::Stopped: return QStringLiteral("stopped");
    default: return QStringLiteral("failed");
    }
}

Exchange::State stateFromName(const QString& s) {
    if (s == QLatin1String("done")) return Exchange::State::Done;
    if (s == QLatin1String("stopped")) return Exchange::State::Stopped;
    return Exchange::State::Failed;
}

}  // namespace

HistoryFile::HistoryFile(AnswerModel* model, QObject* parent) : QObject(parent), m_model(model) {
    m_saveTimer.setSingleShot(true);
    m_saveTimer.setInterval(1000);
    connect(&m_saveTimer, &QTimer::timeout, this, [this] { save(); });
    connect(m_model, &AnswerModel::exchangeFinished, this, [this] { m_saveTimer.start(); });
}

HistoryFile::~HistoryFile() {
    if (m_saveTimer.isActive()) save();
}

QByteArray HistoryFile::toJson(const QVector<Exchange>& exchanges) {
    QJsonArray arr;
    QHash<QString, int> kept;
    // Newest first when capping, written oldest first.
    QVector<const Exchange*> chosen;
    for (auto it = exchanges.crbegin(); it != exchanges.crend(); ++it)
        if (kept[it->collection]++ < kMaxPerCollection) chosen.prepend(&*it);
    for (const Exchange* e : chosen) {
        QJsonArray cites;
        for (const CitationEntry& c : e->citations) cites.append(citationToJson(c));
        arr.append(QJsonObject{{"collection", e->collection},
                               {"question", e->question},
                               {"answer", e->answer()},
                               {"state", stateName(e->state)},
                               {"error", e->error},
                               {"asked_at", e->askedAt.toString(Qt::ISODateWithMs)},
                               {"citations", cites}});
    }
    return QJsonDocument(QJsonObject{{"version", 1}, {"exchanges", arr}}).toJson(QJsonDocument::Compact);
}

QVector<Exchange> HistoryFile::fromJson(const QByteArray& json, QString* error) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    QVector<Exchange> out;
    if (pe.error != QJsonParseError::NoError || !doc.isObject() || doc.object()["version"].toInt() != 1) {
        *error = pe.error != QJsonParseError::NoError ? pe.errorString() : QStringLiteral("not a version 1 history");
        return out;
    }
    QHash<QString, int> count;
    for (const QJsonValue& v : doc.object()["exchanges"].toArray()) {
        const QJsonObject o = v.toObject();
        Exchange e;
        e.collection = bounded(o["collection"]);
        e.question = bounded(o["question"]);
        if (e.collection.isEmpty() || e.question.isEmpty() || count[e.collection]++ >= kMaxPerCollection) continue;
        e.answerUtf8 = bounded(o["answer"]).toUtf8();
        e.state = stateFromName(o["state"].toString());
        e.error = bounded(o["error"]);
        e.askedAt = QDateTime::fromString(o["asked_at"].toString(), Qt::ISODateWithMs);
        for (const QJsonValue& c : o["citations"].toArray()) e.citations.push_back(citationFromJson(c.toObject()));
        out.push_back(e);
    }
    return out;
}

QString HistoryFile::load(const QString& dataDir) {
    m_path = QDir(dataDir).filePath(QStringLiteral("ui/history.json"));
    QFile f(m_path);
    if (!f.exists()) {
        m_model->setHistory({});
        return {};
    }
    if (f.size() > kMaxFileBytes || !f.open(QIODevice::ReadOnly)) {
        m_model->setHistory({});
        return tr("question history %1 is unreadable or over %2 MiB; starting a new one").arg(m_path).arg(kMaxFileBytes >> 20);
    }
    QString error;
    const QVector<Exchange> rows = fromJson(f.readAll(), &error);
    f.close();
    m_model->setHistory(rows);
    if (error.isEmpty()) return {};
    QFile::remove(m_path + QStringLiteral(".bad"));
    QFile::rename(m_path, m_path + QStringLiteral(".bad"));
    return tr("question history %1 is damaged (%2): kept as %1.bad, starting a new one").arg(m_path, error);
}

QString HistoryFile::save() {
    m_saveTimer.stop();
    if (m_path.isEmpty()) return {};
    const QString dir = QFileInfo(m_path).absolutePath();
    if (!QDir().mkpath(dir)) return tr("cannot create %1").arg(dir);
    QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    QSaveFile f(m_path);  // written beside, then renamed over: a crash never leaves half a history
    if (!f.open(QIODevice::WriteOnly)) return tr("cannot write %1: %2").arg(m_path, f.errorString());
    f.write(toJson(m_model->finishedExchanges()));
    if (!f.commit()) return tr("cannot write %1: %2").arg(m_path, f.errorString());
    return {};
}

}  // namespace docket::ui

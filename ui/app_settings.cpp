#include "app_settings.h"

namespace docket::ui {

AppSettings::AppSettings(const QString& file, QObject* parent)
    : QObject(parent),
      m_settings(file.isEmpty() ? std::make_unique<QSettings>(QSettings::IniFormat, QSettings::UserScope,
                                                              QStringLiteral("docket"), QStringLiteral("docket"))
                                : std::make_unique<QSettings>(file, QSettings::IniFormat)) {
    m_syncTimer.setSingleShot(true);
    m_syncTimer.setInterval(500);
    connect(&m_syncTimer, &QTimer::timeout, this, &AppSettings::sync);
}

AppSettings::~AppSettings() {
    sync();
}

void AppSettings::sync() {
    m_syncTimer.stop();
    m_settings->sync();
}

void AppSettings::set(const QString& key, const QVariant& value) {
    if (m_settings->value(key) == value) return;
    m_settings->setValue(key, value);
    m_syncTimer.start();
}

void AppSettings::overrideForSession(const QString& dataDir, const QString& modelPath) {
    m_dataOverride = dataDir;
    m_modelOverride = modelPath;
}

QString AppSettings::modelPath() const {
    return m_modelOverride.isEmpty() ? m_settings->value("engine/model").toString() : m_modelOverride;
}
void AppSettings::setModelPath(const QString& v) {
    m_modelOverride.clear();
    set("engine/model", v);
}

QString AppSettings::codec() const {
    const QString v = m_settings->value("engine/codec", "int8").toString();
    return codecs().contains(v) ? v : QStringLiteral("int8");
}
void AppSettings::setCodec(const QString& v) { set("engine/codec", v); }

int AppSettings::threads() const { return std::clamp(m_settings->value("engine/threads", 0).toInt(), 0, 1024); }
void AppSettings::setThreads(int v) { set("engine/threads", v); }

QString AppSettings::backend() const {
    const QString v = m_settings->value("engine/backend", "auto").toString();
    return backends().contains(v) ? v : QStringLiteral("auto");
}
void AppSettings::setBackend(const QString& v) { set("engine/backend", v); }

QString AppSettings::dataDir() const {
    return m_dataOverride.isEmpty() ? m_settings->value("engine/dataDir").toString() : m_dataOverride;
}
void AppSettings::setDataDir(const QString& v) {
    m_dataOverride.clear();
    set("engine/dataDir", v);
}

int AppSettings::maxAnswerTokens() const {
    return std::clamp(m_settings->value("ask/maxAnswerTokens", 96).toInt(), 1, 4096);
}
void AppSettings::setMaxAnswerTokens(int v) { set("ask/maxAnswerTokens", v); }

bool AppSettings::sampleOffered() const { return m_settings->value("firstRun/sampleOffered", false).toBool(); }
void AppSettings::setSampleOffered(bool v) { set("firstRun/sampleOffered", v); }

QString AppSettings::lastCollection() const { return m_settings->value("window/collection").toString(); }
void AppSettings::setLastCollection(const QString& v) { set("window/collection", v); }

QByteArray AppSettings::windowGeometry() const { return m_settings->value("window/geometry").toByteArray(); }
QByteArray AppSettings::windowState() const { return m_settings->value("window/state").toByteArray(); }
QByteArray AppSettings::splitterState() const { return m_settings->value("window/splitter").toByteArray(); }
void AppSettings::setWindowState(const QByteArray& geometry, const QByteArray& state, const QByteArray& splitter) {
    set("window/geometry", geometry);
    set("window/state", state);
    set("window/splitter", splitter);
}

docket::EngineOptions AppSettings::engineOptions() const {
    docket::EngineOptions o;
    o.model_path = modelPath().toStdString();
    o.data_dir = dataDir().toStdString();
    o.codec = codec().toStdString();
    o.threads = threads();
    o.backend = backend().toStdString();
    return o;
}

}  // namespace docket::ui

#pragma once
// Typed access to the window's settings (QSettings, INI): what the engine is opened with and the window's own
// state. Writes are debounced: a burst of changes is synced once, 500 ms after the last.
#include <QByteArray>
#include <QObject>
#include <QSettings>
#include <QTimer>

#include <memory>

#include "api/engine.h"

namespace docket::ui {

class AppSettings : public QObject {
    Q_OBJECT
public:
    // The user's settings file (~/.config/docket/docket.conf), or the INI file given.
    explicit AppSettings(const QString& file = {}, QObject* parent = nullptr);
    ~AppSettings() override;

    QString modelPath() const;  // "" : the engine's default model
    void setModelPath(const QString& v);
    QString codec() const;
    void setCodec(const QString& v);
    int threads() const;  // 0: all cores
    void setThreads(int v);
    QString backend() const;
    void setBackend(const QString& v);
    QString dataDir() const;  // "" : the engine's default data directory
    void setDataDir(const QString& v);
    int maxAnswerTokens() const;
    void setMaxAnswerTokens(int v);
    bool sampleOffered() const;
    void setSampleOffered(bool v);
    QString lastCollection() const;
    void setLastCollection(const QString& v);
    QByteArray windowGeometry() const;
    QByteArray windowState() const;
    QByteArray splitterState() const;
    void setWindowState(const QByteArray& geometry, const QByteArray& state, const QByteArray& splitter);

    // Command-line --data / --model: used for this session, not written to the settings file.
    void overrideForSession(const QString& dataDir, const QString& modelPath);

    docket::EngineOptions engineOptions() const;
    QString fileName() const { return m_settings->fileName(); }
    void sync();

    static QStringList codecs() { return {"fp16", "int8", "int4", "int2"}; }
    static QStringList backends() { return {"auto", "cpu", "cuda"}; }

private:
    void set(const QString& key, const QVariant& value);
    std::unique_ptr<QSettings> m_settings;
    QString m_dataOverride, m_modelOverride;
    QTimer m_syncTimer;
};

}  // namespace docket::ui

#include "sample_archive.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace docket::ui {

QString sampleArchiveDir() {
    QStringList candidates;
    const QString env = qEnvironmentVariable("DOCKET_SAMPLE_ARCHIVE");
    if (!env.isEmpty()) candidates << env;
    candidates << QCoreApplication::applicationDirPath() + QStringLiteral("/../share/docket/sample-archive");
    candidates << QStringLiteral(DOCKET_SOURCE_DIR "/resources/sample-archive");
    for (const QString& c : candidates)
        if (!sampleArchiveFiles(c).isEmpty()) return QDir(c).absolutePath();
    return {};
}

QStringList sampleArchiveFiles(const QString& dir) {
    QStringList out;
    const QDir d(dir);
    for (const QFileInfo& f : d.entryInfoList({QStringLiteral("[0-9]*.txt")}, QDir::Files, QDir::Name))
        out << f.absoluteFilePath();
    return out;
}

}  // namespace docket::ui

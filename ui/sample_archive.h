#pragma once
// The bundled sample archive (resources/sample-archive: eight CUAD contracts) that a first run ingests into the
// collection "sample", so that a new user can ask a question within a minute.
#include <QString>
#include <QStringList>

namespace docket::ui {

inline const QString kSampleCollection = QStringLiteral("sample");
inline const QString kSampleQuestion = QStringLiteral("Under the laws of which state is the Trademark License Agreement governed?");

// $DOCKET_SAMPLE_ARCHIVE, else <prefix>/share/docket/sample-archive beside the installed binary, else the
// source tree's resources/sample-archive; "" when none exists.
QString sampleArchiveDir();
// The contracts of the archive (its numbered .txt files; not its README or NOTICE), sorted.
QStringList sampleArchiveFiles(const QString& dir);

}  // namespace docket::ui

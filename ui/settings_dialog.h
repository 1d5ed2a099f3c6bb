#pragma once
// Settings: the model (with what the open engine says of it: architecture, context, size), KV codec, threads,
// backend, data directory, answer length. Applied through AppSettings; the main window re-opens the engine
// when an engine option changed.
#include <QDialog>

#include <optional>

#include "api/engine.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace docket::ui {

class AppSettings;

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    SettingsDialog(AppSettings* settings, const std::optional<docket::ModelDescription>& openModel,
                   QWidget* parent = nullptr);
    // Writes the fields to the settings; true when an engine option changed (the engine must re-open).
    bool apply();

private:
    void updateModelInfo();
    AppSettings* m_settings;
    std::optional<docket::ModelDescription> m_openModel;
    QLineEdit* m_model;
    QLabel* m_modelInfo;
    QComboBox* m_codec;
    QSpinBox* m_threads;
    QComboBox* m_backend;
    QLineEdit* m_dataDir;
    QSpinBox* m_answerTokens;
};

QString describeModel(const docket::ModelDescription& m);

}  // namespace docket::ui

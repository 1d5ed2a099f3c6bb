#include "settings_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>

#include "app_settings.h"
#include "catalog_models.h"

namespace docket::ui {

QString describeModel(const docket::ModelDescription& m) {
    return QObject::tr("%1: %2, %3 layers, context %4 tokens, weights %5")
        .arg(QString::fromStdString(m.name), QString::fromStdString(m.architecture))
        .arg(m.n_layer)
        .arg(QLocale().toString(qlonglong(m.context_length)))
        .arg(formatBytes(m.parameters_bytes));
}

namespace {

// A line edit with a Browse button; `pick` opens the file dialog.
QWidget* withBrowse(QLineEdit* edit, QWidget* parent, const std::function<QString()>& pick) {
    auto* box = new QWidget(parent);
    auto* row = new QHBoxLayout(box);
    row->setContentsMargins(0, 0, 0, 0);
    auto* browse = new QPushButton(QObject::tr("Browse…"), box);
    row->addWidget(edit, 1);
    row->addWidget(browse);
    QObject::connect(browse, &QPushButton::clicked, edit, [edit, pick] {
        const QString p = pick();
        if (!p.isEmpty()) edit->setText(p);
    });
    return box;
}

}  // namespace

SettingsDialog::SettingsDialog(AppSettings* settings, const std::optional<docket::ModelDescription>& openModel,
                               QWidget* parent)
    : QDialog(parent), m_settings(settings), m_openModel(openModel) {
    setObjectName(QStringLiteral("settingsDialog"));
    setWindowTitle(tr("Settings — Docket"));
    const QString defaultModel = QString::fromStdString(docket::default_model_path());
    const QString defaultData = QString::fromStdString(docket::default_data_dir());
    m_model = new QLineEdit(settings->modelPath(), this);
    m_model->setObjectName(QStringLiteral("modelPath"));
    m_model->setPlaceholderText(defaultModel);
    m_modelInfo = new QLabel(this);
    m_modelInfo->setWordWrap(true);
    m_modelInfo->setObjectName(QStringLiteral("modelInfo"));
    m_codec = new QComboBox(this);
    m_codec->addItems(AppSettings::codecs());
    m_codec->setCurrentText(settings->codec());
    m_codec->setToolTip(tr("How document snapshots are stored: int8 keeps attention error near 0.005 at a quarter "
                           "of fp32; int4 and int2 are smaller and less exact"));
    m_threads = new QSpinBox(this);
    m_threads->setRange(0, std::max(1, QThread::idealThreadCount()) * 4);
    m_threads->setSpecialValueText(tr("all cores (%1)").arg(QThread::idealThreadCount()));
    m_threads->setValue(settings->threads());
    m_backend = new QComboBox(this);
    m_backend->addItems(AppSettings::backends());
    m_backend->setCurrentText(settings->backend());
    m_dataDir = new QLineEdit(settings->dataDir(), this);
    m_dataDir->setObjectName(QStringLiteral("dataDir"));
    m_dataDir->setPlaceholderText(defaultData);
    m_answerTokens = new QSpinBox(this);
    m_answerTokens->setRange(1, 4096);
    m_answerTokens->setValue(settings->maxAnswerTokens());
    m_answerTokens->setSuffix(tr(" tokens"));

    auto* form = new QFormLayout;
    form->addRow(tr("&Model (GGUF)"), withBrowse(m_model, this, [this, defaultModel] {
        return QFileDialog::getOpenFileName(this, tr("Model"), QFileInfo(defaultModel).absolutePath(),
                                            tr("GGUF models (*.gguf)"));
    }));
    form->addRow(QString(), m_modelInfo);
    form->addRow(tr("Snapshot &codec"), m_codec);
    form->addRow(tr("&Threads"), m_threads);
    form->addRow(tr("&Backend"), m_backend);
    form->addRow(tr("&Data directory"), withBrowse(m_dataDir, this, [this, defaultData] {
        return QFileDialog::getExistingDirectory(this, tr("Data directory"), defaultData);
    }));
    form->addRow(tr("&Answer length"), m_answerTokens);
    auto* note = new QLabel(tr("The data directory is created private to you (mode 0700). Changing the model, "
                               "codec, threads, backend or data directory re-opens the engine."), this);
    note->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(buttons);
    connect(m_model, &QLineEdit::textChanged, this, &SettingsDialog::updateModelInfo);
    updateModelInfo();
    resize(640, sizeHint().height());
}

void SettingsDialog::updateModelInfo() {
    const QString path = m_model->text().isEmpty() ? m_model->placeholderText() : m_model->text();
    if (m_openModel && QFileInfo(path) == QFileInfo(QString::fromStdString(m_openModel->path))) {
        m_modelInfo->setText(tr("Open now — %1").arg(describeModel(*m_openModel)));
    } else if (!QFileInfo::exists(path)) {
        m_modelInfo->setText(tr("No file at %1 (installer/setup.sh fetches the default model)").arg(path));
    } else {
        m_modelInfo->setText(tr("%1, %2: checked when the engine re-opens (an unsupported model is refused with "
                                "the reason)").arg(QFileInfo(path).fileName(), formatBytes(QFileInfo(path).size())));
    }
}

bool SettingsDialog::apply() {
    const docket::EngineOptions before = m_settings->engineOptions();
    m_settings->setModelPath(m_model->text().trimmed());
    m_settings->setCodec(m_codec->currentText());
    m_settings->setThreads(m_threads->value());
    m_settings->setBackend(m_backend->currentText());
    m_settings->setDataDir(m_dataDir->text().trimmed());
    m_settings->setMaxAnswerTokens(m_answerTokens->value());
    const docket::EngineOptions after = m_settings->engineOptions();
    return before.model_path != after.model_path || before.codec != after.codec || before.threads != after.threads ||
           before.backend != after.backend || before.data_dir != after.data_dir;
}

}  // namespace docket::ui

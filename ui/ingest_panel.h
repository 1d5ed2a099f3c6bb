#pragma once
// The ingest progress panel (a dock of the main window): the running job's progress (files, bytes, ETA from the
// engine's JobProgress), a Cancel button, and a table of files with their status; when the job ends, the table
// holds what happened to each file, failures first with their reasons.
#include <QAbstractTableModel>
#include <QWidget>

#include "ui_types.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QTableView;

namespace docket::ui {

class EngineBridge;

class IngestFileModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { FileColumn, StatusColumn, SegmentsColumn, TokensColumn, ReasonColumn, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;
    void clear();
    void markCurrent(const QString& path);  // the file being read; the one before it is done
    void setResults(const IngestOutcome& outcome);
    const IngestFileResult* entry(int row) const;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QVector<IngestFileResult> m_rows;
};

class IngestPanel : public QWidget {
    Q_OBJECT
public:
    explicit IngestPanel(EngineBridge* bridge, QWidget* parent = nullptr);
    IngestFileModel* files() { return &m_files; }
    QString summaryText() const;

signals:
    void finished(const docket::ui::IngestOutcome& outcome);

private:
    void onStarted(const QString& collection, const QStringList& paths);
    void onProgress(const IngestProgress& p);
    void onFinished(const IngestOutcome& o);

    EngineBridge* m_bridge;
    IngestFileModel m_files;
    QLabel* m_summary;
    QLabel* m_eta;
    QProgressBar* m_bar;
    QPushButton* m_cancel;
    QTableView* m_table;
};

QString formatDuration(double seconds);

}  // namespace docket::ui

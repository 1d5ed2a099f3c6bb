#include "ingest_panel.h"

#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

#include "catalog_models.h"
#include "engine_bridge.h"

namespace docket::ui {

QString formatDuration(double seconds) {
    if (seconds < 0) return QObject::tr("unknown");
    const int s = int(seconds + 0.5);
    if (s < 60) return QObject::tr("%1 s").arg(s);
    return QObject::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

void IngestFileModel::clear() {
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

void IngestFileModel::markCurrent(const QString& path) {
    if (path.isEmpty() || (!m_rows.isEmpty() && m_rows.back().path == path)) return;
    if (!m_rows.isEmpty()) {
        m_rows.back().status = tr("read");
        emit dataChanged(index(int(m_rows.size()) - 1, 0), index(int(m_rows.size()) - 1, ColumnCount - 1));
    }
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()));
    m_rows.push_back({path, tr("reading…"), {}, 0, 0});
    endInsertRows();
}

void IngestFileModel::setResults(const IngestOutcome& o) {
    beginResetModel();
    m_rows.clear();
    for (const auto& f : o.files)
        if (f.status == QLatin1String("failed")) m_rows.push_back(f);
    for (const auto& f : o.files)
        if (f.status != QLatin1String("failed")) m_rows.push_back(f);
    for (const QString& p : o.skippedUnsupported) m_rows.push_back({p, tr("skipped"), tr("not a supported format"), 0, 0});
    endResetModel();
}

const IngestFileResult* IngestFileModel::entry(int row) const {
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int IngestFileModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

int IngestFileModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant IngestFileModel::data(const QModelIndex& index, int role) const {
    const IngestFileResult* f = entry(index.row());
    if (!index.isValid() || !f) return {};
    if (role == Qt::ForegroundRole && f->status == QLatin1String("failed")) return errorColor();
    if (role == Qt::ToolTipRole) return f->error.isEmpty() ? f->path : tr("%1\n%2").arg(f->path, f->error);
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
    case FileColumn: return f->path.section(QLatin1Char('/'), -1);
    case StatusColumn: return f->status;
    case SegmentsColumn: return f->segments ? QVariant(f->segments) : QVariant();
    case TokensColumn: return f->tokens ? QVariant(QLocale().toString(f->tokens)) : QVariant();
    case ReasonColumn: return f->error;
    default: return {};
    }
}

QVariant IngestFileModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* names[] = {"File", "Status", "Segments", "Tokens", "Reason"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

IngestPanel::IngestPanel(EngineBridge* bridge, QWidget* parent) : QWidget(parent), m_bridge(bridge) {
    setObjectName(QStringLiteral("ingestPanel"));
    m_summary = new QLabel(tr("No ingest yet. Add files with File > Add Files (Ctrl+O) or drop them on the window."), this);
    m_summary->setWordWrap(true);
    m_eta = new QLabel(this);
    m_bar = new QProgressBar(this);
    m_bar->setRange(0, 1000);
    m_bar->setValue(0);
    m_bar->setVisible(false);
    m_cancel = new QPushButton(tr("&Cancel ingest"), this);
    m_cancel->setObjectName(QStringLiteral("cancelIngest"));
    m_cancel->setEnabled(false);
    connect(m_cancel, &QPushButton::clicked, m_bridge, &EngineBridge::cancelIngest);
    m_table = new QTableView(this);
    m_table->setObjectName(QStringLiteral("ingestFiles"));
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(&m_files);
    m_table->setModel(proxy);
    m_table->setSortingEnabled(false);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->horizontalHeader()->setSectionResizeMode(IngestFileModel::FileColumn, QHeaderView::ResizeToContents);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(false);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_summary);
    layout->addWidget(m_bar);
    auto* row = new QHBoxLayout;
    row->addWidget(m_eta, 1);
    row->addWidget(m_cancel);
    layout->addLayout(row);
    layout->addWidget(m_table, 1);
    connect(m_bridge, &EngineBridge::ingestStarted, this, &IngestPanel::onStarted);
    connect(m_bridge, &EngineBridge::ingestProgress, this, &IngestPanel::onProgress);
    connect(m_bridge, &EngineBridge::ingestFinished, this, &IngestPanel::onFinished);
}

QString IngestPanel::summaryText() const {
    return m_summary->text();
}

void IngestPanel::onStarted(const QString& collection, const QStringList& paths) {
    m_files.clear();
    m_summary->setText(tr("Ingesting %n item(s) into “%1”…", nullptr, int(paths.size())).arg(collection));
    m_bar->setValue(0);
    m_bar->setVisible(true);
    m_cancel->setEnabled(true);
    m_eta->setText(tr("Waiting for the engine…"));
}

void IngestPanel::onProgress(const IngestProgress& p) {
    if (p.phase != QLatin1String("ingest")) return;
    m_files.markCurrent(p.current);
    if (p.bytesTotal > 0) m_bar->setValue(int(1000.0 * double(p.bytesDone) / double(p.bytesTotal)));
    m_bar->setFormat(tr("%1 of %2 files — %p%").arg(p.filesDone).arg(p.filesTotal));
    m_eta->setText(tr("%1 of %2 read, %3 tokens; %4 elapsed, about %5 left")
                       .arg(formatBytes(p.bytesDone), formatBytes(p.bytesTotal), QLocale().toString(p.tokensDone),
                            formatDuration(p.elapsedSeconds), formatDuration(p.etaSeconds)));
}

void IngestPanel::onFinished(const IngestOutcome& o) {
    m_files.setResults(o);
    m_bar->setVisible(m_bridge->ingestRunning());
    m_cancel->setEnabled(m_bridge->ingestRunning());
    QString text = tr("“%1”: %2 ingested, %3 unchanged, %4 failed").arg(o.collection).arg(o.ingested).arg(o.unchanged).arg(o.failed);
    if (o.cancelled) text = tr("Cancelled (adding the same files again resumes it). ") + text;
    else if (!o.ok) text = tr("Ingest failed: %1").arg(o.error);
    if (!o.skippedUnsupported.isEmpty()) text += tr(", %1 skipped (unsupported format)").arg(o.skippedUnsupported.size());
    m_summary->setText(text);
    m_eta->clear();
    emit finished(o);
}

}  // namespace docket::ui

#include "catalog_models.h"

#include <QLocale>
#include <QColor>

namespace docket::ui {

QColor errorColor() {
    // A red that reads on light and dark palettes alike (the palette has no role for errors).
    return QColor(0xd0, 0x40, 0x40);
}

QString formatBytes(qint64 bytes) {
    return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat);
}

void CollectionModel::setCollections(const QVector<CollectionEntry>& collections) {
    beginResetModel();
    m_rows = collections;
    endResetModel();
}

int CollectionModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant CollectionModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_rows.size()) return {};
    const CollectionEntry& c = m_rows[index.row()];
    switch (role) {
    case Qt::DisplayRole:
        return tr("%1  (%2 documents)").arg(c.name).arg(c.documents);
    case Qt::ToolTipRole:
        return tr("%1: %2 documents, %3 segments, %4 tokens")
            .arg(c.name)
            .arg(c.documents)
            .arg(c.segments)
            .arg(QLocale().toString(c.tokens));
    case NameRole:
        return c.name;
    default:
        return {};
    }
}

int CollectionModel::rowOf(const QString& name) const {
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].name == name) return i;
    return -1;
}

void DocumentModel::setDocuments(const QVector<DocumentEntry>& documents) {
    beginResetModel();
    m_rows = documents;
    endResetModel();
}

const DocumentEntry* DocumentModel::entry(int row) const {
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int DocumentModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

int DocumentModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant DocumentModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= m_rows.size()) return {};
    const DocumentEntry& d = m_rows[index.row()];
    if (role == PathRole) return d.path;
    if (role == Qt::ToolTipRole) return d.error.isEmpty() ? d.path : tr("%1\n%2").arg(d.path, d.error);
    if (role == Qt::ForegroundRole && d.status == QLatin1String("error"))
        return errorColor();
    if (role == Qt::TextAlignmentRole && index.column() >= SegmentsColumn && index.column() <= SizeColumn)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    const bool sort = role == SortRole;
    if (role != Qt::DisplayRole && !sort) return {};
    switch (index.column()) {
    case TitleColumn: return d.title.isEmpty() ? d.path.section(QLatin1Char('/'), -1) : d.title;
    case StatusColumn: return d.status;
    case FormatColumn: return d.format;
    case SegmentsColumn: return sort ? QVariant(d.segments) : QVariant(QLocale().toString(d.segments));
    case TokensColumn: return sort ? QVariant(d.tokens) : QVariant(QLocale().toString(d.tokens));
    case SizeColumn: return sort ? QVariant(d.bytes) : QVariant(formatBytes(d.bytes));
    case ErrorColumn: return d.error;
    default: return {};
    }
}

QVariant DocumentModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case TitleColumn: return tr("Document");
    case StatusColumn: return tr("Status");
    case FormatColumn: return tr("Format");
    case SegmentsColumn: return tr("Segments");
    case TokensColumn: return tr("Tokens");
    case SizeColumn: return tr("Size");
    case ErrorColumn: return tr("Error");
    default: return {};
    }
}

}  // namespace docket::ui

#pragma once
// The catalog as Qt models: the collections (a list) and the documents of one collection (a table). Both are
// replaced wholesale from EngineBridge::collectionsLoaded; views sort and filter them through proxies.
#include <QAbstractListModel>
#include <QAbstractTableModel>
#include <QColor>

#include "ui_types.h"

namespace docket::ui {

class CollectionModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { NameRole = Qt::UserRole + 1 };
    using QAbstractListModel::QAbstractListModel;
    void setCollections(const QVector<CollectionEntry>& collections);
    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    int rowOf(const QString& name) const;

private:
    QVector<CollectionEntry> m_rows;
};

class DocumentModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { TitleColumn, StatusColumn, SegmentsColumn, TokensColumn, SizeColumn, FormatColumn, ErrorColumn,
                  ColumnCount };
    enum Role { PathRole = Qt::UserRole + 1, SortRole };
    using QAbstractTableModel::QAbstractTableModel;
    void setDocuments(const QVector<DocumentEntry>& documents);
    const DocumentEntry* entry(int row) const;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QVector<DocumentEntry> m_rows;
};

QString formatBytes(qint64 bytes);
QColor errorColor();

}  // namespace docket::ui

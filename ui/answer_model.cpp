#include "answer_model.h"

namespace docket::ui {

int AnswerModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant AnswerModel::data(const QModelIndex& index, int role) const {
    const Exchange* e = exchange(index.row());
    if (!index.isValid() || !e) return {};
    switch (role) {
    case Qt::DisplayRole:
    case QuestionRole: return e->question;
    case Qt::ToolTipRole: return tr("%1\n\n%2").arg(e->askedAt.toString(Qt::ISODate), e->answer().left(400));
    case CollectionRole: return e->collection;
    case AnswerRole: return e->answer();
    case StateRole: return int(e->state);
    case AskedAtRole: return e->askedAt;
    default: return {};
    }
}

const Exchange* AnswerModel::exchange(int row) const {
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int AnswerModel::rowOfId(quint64 id) const {
    if (id == 0) return -1;
    for (int i = int(m_rows.size()) - 1; i >= 0; --i)
        if (m_rows[i].id == id) return i;
    return -1;
}

void AnswerModel::setHistory(const QVector<Exchange>& exchanges) {
    beginResetModel();
    m_rows = exchanges;
    endResetModel();
}

QVector<Exchange> AnswerModel::finishedExchanges() const {
    QVector<Exchange> out;
    for (const Exchange& e : m_rows)
        if (e.state != Exchange::State::Streaming) out.push_back(e);
    return out;
}

int AnswerModel::addQuestion(quint64 id, const QString& collection, const QString& question) {
    const int row = int(m_rows.size());
    beginInsertRows({}, row, row);
    Exchange e;
    e.id = id;
    e.collection = collection;
    e.question = question;
    e.askedAt = QDateTime::currentDateTimeUtc();
    m_rows.push_back(e);
    endInsertRows();
    return row;
}

void AnswerModel::touch(int row) {
    const QModelIndex i = index(row);
    emit dataChanged(i, i);
}

void AnswerModel::appendText(quint64 id, const QByteArray& utf8) {
    const int row = rowOfId(id);
    if (row < 0) return;
    m_rows[row].answerUtf8 += utf8;
    touch(row);
}

void AnswerModel::addCitation(quint64 id, const CitationEntry& citation) {
    const int row = rowOfId(id);
    if (row < 0) return;
    m_rows[row].citations.push_back(citation);
    touch(row);
}

void AnswerModel::finish(quint64 id, const AnswerOutcome& outcome) {
    const int row = rowOfId(id);
    if (row < 0) return;
    Exchange& e = m_rows[row];
    e.outcome = outcome;
    e.state = outcome.ok ? Exchange::State::Done : outcome.cancelled ? Exchange::State::Stopped : Exchange::State::Failed;
    e.error = outcome.error;
    touch(row);
    emit exchangeFinished(row);
}

void ExchangeFilterProxy::setCollection(const QString& collection) {
    m_collection = collection;
    invalidateFilter();
}

void ExchangeFilterProxy::setSearchText(const QString& text) {
    m_search = text.trimmed();
    invalidateFilter();
}

bool ExchangeFilterProxy::filterAcceptsRow(int row, const QModelIndex& parent) const {
    const QModelIndex i = sourceModel()->index(row, 0, parent);
    if (i.data(AnswerModel::CollectionRole).toString() != m_collection) return false;
    if (m_search.isEmpty()) return true;
    return i.data(AnswerModel::QuestionRole).toString().contains(m_search, Qt::CaseInsensitive) ||
           i.data(AnswerModel::AnswerRole).toString().contains(m_search, Qt::CaseInsensitive);
}

}  // namespace docket::ui

#pragma once
// Every question asked and its answer (streamed in as it comes), for all collections: the chat pane shows one
// collection's exchanges through a proxy, the history panel searches them through another. Finished exchanges
// are the question history: loaded from and saved to a file in the data directory (history_file.h).
#include <QAbstractListModel>
#include <QDateTime>
#include <QSortFilterProxyModel>

#include "ui_types.h"

namespace docket::ui {

struct Exchange {
    enum class State { Streaming, Done, Stopped, Failed };
    quint64 id = 0;  // the bridge's answer id this session; 0 for exchanges loaded from history
    QString collection, question;
    QByteArray answerUtf8;  // as streamed (a token may end inside a UTF-8 sequence)
    QVector<CitationEntry> citations;
    State state = State::Streaming;
    QString error;
    AnswerOutcome outcome;
    QDateTime askedAt;
    QString answer() const { return QString::fromUtf8(answerUtf8); }
};

class AnswerModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { CollectionRole = Qt::UserRole + 1, QuestionRole, AnswerRole, StateRole, AskedAtRole };
    using QAbstractListModel::QAbstractListModel;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    const Exchange* exchange(int row) const;
    int rowOfId(quint64 id) const;

    // Loaded history (finished exchanges), replacing what is there.
    void setHistory(const QVector<Exchange>& exchanges);
    QVector<Exchange> finishedExchanges() const;

    int addQuestion(quint64 id, const QString& collection, const QString& question);
    void appendText(quint64 id, const QByteArray& utf8);
    void addCitation(quint64 id, const CitationEntry& citation);
    void finish(quint64 id, const AnswerOutcome& outcome);

signals:
    void exchangeFinished(int row);

private:
    void touch(int row);
    QVector<Exchange> m_rows;
};

// The exchanges of one collection whose question or answer contains a text (case-insensitive).
class ExchangeFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setCollection(const QString& collection);
    void setSearchText(const QString& text);

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

private:
    QString m_collection, m_search;
};

}  // namespace docket::ui

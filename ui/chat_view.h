#pragma once
// The chat pane's transcript: the exchanges of the current collection (an ExchangeFilterProxy over the
// AnswerModel) rendered as HTML, re-rendered at most every 40 ms while an answer streams in. Citations are
// links "cite:<row>/<index>" (row in the AnswerModel) that emit citationActivated.
#include <QTextBrowser>
#include <QTimer>

namespace docket::ui {

class AnswerModel;
class ExchangeFilterProxy;

class ChatView : public QTextBrowser {
    Q_OBJECT
public:
    static constexpr int kMaxShown = 30;
    ChatView(AnswerModel* model, ExchangeFilterProxy* proxy, QWidget* parent = nullptr);
    void setEmptyText(const QString& html);
    // Makes sure the exchange (AnswerModel row) is rendered and scrolls to it.
    void showExchange(int sourceRow);
    static QString citationHref(int sourceRow, int index);

signals:
    void citationActivated(int sourceRow, int index);

private:
    void scheduleRender();
    void render();
    AnswerModel* m_model;
    ExchangeFilterProxy* m_proxy;
    QTimer m_renderTimer;
    QString m_emptyText;
    int m_firstShownSourceRow = -1;  // a history pick older than the last kMaxShown
    int m_scrollTo = -1;
};

}  // namespace docket::ui

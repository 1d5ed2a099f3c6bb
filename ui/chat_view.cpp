#include "chat_view.h"

#include <QScrollBar>
#include <QUrl>

#include "answer_export.h"
#include "answer_model.h"

namespace docket::ui {

ChatView::ChatView(AnswerModel* model, ExchangeFilterProxy* proxy, QWidget* parent)
    : QTextBrowser(parent), m_model(model), m_proxy(proxy) {
    setOpenLinks(false);
    setOpenExternalLinks(false);
    setObjectName(QStringLiteral("chatView"));
    m_renderTimer.setSingleShot(true);
    m_renderTimer.setInterval(40);
    connect(&m_renderTimer, &QTimer::timeout, this, &ChatView::render);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &ChatView::scheduleRender);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &ChatView::scheduleRender);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &ChatView::scheduleRender);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &ChatView::scheduleRender);
    connect(m_proxy, &QAbstractItemModel::dataChanged, this, &ChatView::scheduleRender);
    connect(this, &QTextBrowser::anchorClicked, this, [this](const QUrl& url) {
        if (url.scheme() != QLatin1String("cite")) return;
        const QStringList parts = url.path().split(QLatin1Char('/'));
        bool okRow = false, okIndex = false;
        const int row = parts.value(0).toInt(&okRow), index = parts.value(1).toInt(&okIndex);
        const Exchange* e = m_model->exchange(row);
        if (parts.size() == 2 && okRow && okIndex && e && index >= 0 && index < e->citations.size())
            emit citationActivated(row, index);
    });
}

QString ChatView::citationHref(int sourceRow, int index) {
    return QStringLiteral("cite:%1/%2").arg(sourceRow).arg(index);
}

void ChatView::setEmptyText(const QString& html) {
    m_emptyText = html;
    scheduleRender();
}

void ChatView::showExchange(int sourceRow) {
    m_firstShownSourceRow = sourceRow;
    m_scrollTo = sourceRow;
    render();
}

void ChatView::scheduleRender() {
    if (!m_renderTimer.isActive()) m_renderTimer.start();
}

void ChatView::render() {
    m_renderTimer.stop();
    QScrollBar* bar = verticalScrollBar();
    const bool atBottom = bar->value() >= bar->maximum() - 4;
    const int keep = bar->value();
    const int n = m_proxy->rowCount();
    int first = std::max(0, n - kMaxShown);
    for (int i = 0; i < first; ++i)
        if (m_proxy->mapToSource(m_proxy->index(i, 0)).row() == m_firstShownSourceRow) first = i;
    QString html;
    for (int i = first; i < n; ++i) {
        const int row = m_proxy->mapToSource(m_proxy->index(i, 0)).row();
        const Exchange* e = m_model->exchange(row);
        if (!e) continue;
        html += QStringLiteral("<a name=\"x%1\"></a>").arg(row);
        html += exchangeHtmlFragment(*e, [row](int c) { return citationHref(row, c); });
        if (i + 1 < n) html += QStringLiteral("<hr>");
    }
    setHtml(html.isEmpty() ? m_emptyText : html);
    if (m_scrollTo >= 0) {
        scrollToAnchor(QStringLiteral("x%1").arg(m_scrollTo));
        m_scrollTo = -1;
    } else {
        bar->setValue(atBottom ? bar->maximum() : keep);
    }
}

}  // namespace docket::ui

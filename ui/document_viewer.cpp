#include "document_viewer.h"

#include <QAction>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QShortcut>
#include <QTextBlock>
#include <QToolButton>
#include <QVBoxLayout>

#include "answer_export.h"
#include "catalog_models.h"
#include "engine_bridge.h"

namespace docket::ui {

int utf16Offset(const QByteArray& utf8, qint64 byteOffset) {
    const qint64 end = std::clamp<qint64>(byteOffset, 0, utf8.size());
    int units = 0;
    for (qint64 i = 0; i < end; ++i) {
        const auto b = static_cast<unsigned char>(utf8[i]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte
        units += b >= 0xF0 ? 2 : 1;        // a 4-byte sequence is a surrogate pair in UTF-16
    }
    return units;
}

DocumentViewer::DocumentViewer(EngineBridge* bridge, QWidget* parent) : QWidget(parent, Qt::Window), m_bridge(bridge) {
    setObjectName(QStringLiteral("documentViewer"));
    setWindowTitle(tr("Document — Docket"));
    m_title = new QLabel(this);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_title->setWordWrap(true);
    m_position = new QLabel(this);
    m_prev = new QToolButton(this);
    m_next = new QToolButton(this);
    auto* prevAction = new QAction(tr("&Previous citation"), this);
    prevAction->setShortcut(QKeySequence(Qt::ALT | Qt::Key_Up));
    auto* nextAction = new QAction(tr("&Next citation"), this);
    nextAction->setShortcut(QKeySequence(Qt::ALT | Qt::Key_Down));
    m_prev->setDefaultAction(prevAction);
    m_next->setDefaultAction(nextAction);
    connect(prevAction, &QAction::triggered, this, [this] { step(-1); });
    connect(nextAction, &QAction::triggered, this, [this] { step(+1); });
    m_find = new QLineEdit(this);
    m_find->setObjectName(QStringLiteral("findInDocument"));
    m_find->setPlaceholderText(tr("Find in document (Ctrl+F, Enter: next, Shift+Enter: previous)"));
    m_find->setClearButtonEnabled(true);
    connect(m_find, &QLineEdit::returnPressed, this, [this] { find(m_find->text()); });
    connect(m_find, &QLineEdit::textChanged, this, [this] { updateFindSelection(); });
    auto* findShortcut = new QShortcut(QKeySequence::Find, this);
    connect(findShortcut, &QShortcut::activated, this, [this] { m_find->setFocus(); m_find->selectAll(); });
    auto* findNext = new QShortcut(QKeySequence::FindNext, this);
    connect(findNext, &QShortcut::activated, this, [this] { find(m_find->text()); });
    auto* findPrev = new QShortcut(QKeySequence::FindPrevious, this);
    connect(findPrev, &QShortcut::activated, this, [this] { find(m_find->text(), true); });
    auto* findPrevEnter = new QShortcut(QKeySequence(Qt::SHIFT | Qt::Key_Return), m_find);
    findPrevEnter->setContext(Qt::WidgetShortcut);
    connect(findPrevEnter, &QShortcut::activated, this, [this] { find(m_find->text(), true); });
    auto* close = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    connect(close, &QShortcut::activated, this, &QWidget::close);

    m_text = new QPlainTextEdit(this);
    m_text->setObjectName(QStringLiteral("documentText"));
    m_text->setReadOnly(true);
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    m_text->setLineWrapMode(QPlainTextEdit::WidgetWidth);

    auto* bar = new QHBoxLayout;
    bar->addWidget(m_prev);
    bar->addWidget(m_next);
    bar->addWidget(m_position);
    bar->addStretch();
    bar->addWidget(m_find, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_title);
    layout->addLayout(bar);
    layout->addWidget(m_text, 1);
    setTabOrder(m_text, m_find);
    setTabOrder(m_find, m_prev);
    setTabOrder(m_prev, m_next);
    resize(900, 700);
    connect(m_bridge, &EngineBridge::documentTextLoaded, this, &DocumentViewer::onTextLoaded);
}

void DocumentViewer::showCitations(const QString& collection, const QVector<CitationEntry>& citations, int index) {
    m_citations = citations;
    m_index = std::clamp(index, 0, int(citations.size()) - 1);
    if (collection != m_collection) m_path.clear();
    m_collection = collection;
    showCurrent();
}

void DocumentViewer::step(int delta) {
    if (m_citations.isEmpty()) return;
    m_index = (m_index + delta + int(m_citations.size())) % int(m_citations.size());
    showCurrent();
}

void DocumentViewer::showCurrent() {
    if (m_index < 0 || m_index >= m_citations.size()) return;
    const CitationEntry& c = m_citations[m_index];
    m_position->setText(tr("Citation %1 of %2").arg(m_index + 1).arg(m_citations.size()));
    m_prev->setEnabled(m_citations.size() > 1);
    m_next->setEnabled(m_citations.size() > 1);
    m_title->setText(QStringLiteral("<b>%1</b><br><small>%2</small>")
                         .arg(citationLabel(c).toHtmlEscaped(), c.document.toHtmlEscaped()));
    if (c.document == m_path) {
        applyHighlight();
        return;
    }
    m_pendingPath = c.document;
    m_text->setPlainText(tr("Loading %1…").arg(c.document));
    m_highlightBegin = m_highlightEnd = -1;
    m_bridge->loadDocumentText(m_collection, c.document);
}

void DocumentViewer::onTextLoaded(const QString& collection, const QString& path, const QByteArray& text,
                                  const QString& error) {
    if (collection != m_collection || path != m_pendingPath) return;  // an answer to an older request
    m_pendingPath.clear();
    if (!error.isEmpty()) {
        m_path.clear();
        m_text->setPlainText(tr("Cannot show %1: %2").arg(path, error));
        return;
    }
    m_path = path;
    m_utf8 = text;
    m_text->setPlainText(QString::fromUtf8(text));
    applyHighlight();
}

void DocumentViewer::applyHighlight() {
    const CitationEntry& c = m_citations[m_index];
    m_highlightBegin = utf16Offset(m_utf8, c.charBegin);
    m_highlightEnd = std::max(m_highlightBegin, utf16Offset(m_utf8, c.charEnd));
    QTextCursor cursor(m_text->document());
    cursor.setPosition(m_highlightBegin);
    cursor.setPosition(m_highlightEnd, QTextCursor::KeepAnchor);
    // Scroll so the passage sits a few lines below the top, then leave the caret at its start.
    QTextCursor top(m_text->document());
    top.setPosition(m_highlightBegin);
    m_text->setTextCursor(top);
    m_text->moveCursor(QTextCursor::End);
    m_text->setTextCursor(top);
    m_text->centerCursor();
    updateFindSelection();
    emit citationShown(m_index);
}

void DocumentViewer::updateFindSelection() {
    QList<QTextEdit::ExtraSelection> selections;
    if (m_highlightBegin >= 0) {
        QTextEdit::ExtraSelection cited;
        cited.cursor = QTextCursor(m_text->document());
        cited.cursor.setPosition(m_highlightBegin);
        cited.cursor.setPosition(m_highlightEnd, QTextCursor::KeepAnchor);
        // Highlight colours of the palette: readable in light and dark themes.
        cited.format.setBackground(palette().color(QPalette::Highlight));
        cited.format.setForeground(palette().color(QPalette::HighlightedText));
        selections << cited;
    }
    const QString needle = m_find->text();
    if (!needle.isEmpty()) {
        QTextCursor at(m_text->document());
        for (int n = 0; n < 1000; ++n) {  // bounded: a one-letter search in a large file stays cheap
            at = m_text->document()->find(needle, at);
            if (at.isNull()) break;
            QTextEdit::ExtraSelection hit;
            hit.cursor = at;
            hit.format.setBackground(QColor(0xf0, 0xc0, 0x40, 0x90));
            selections << hit;
        }
    }
    m_text->setExtraSelections(selections);
}

QString DocumentViewer::highlightedText() const {
    if (m_highlightBegin < 0) return {};
    QTextCursor c(m_text->document());
    c.setPosition(m_highlightBegin);
    c.setPosition(m_highlightEnd, QTextCursor::KeepAnchor);
    return c.selectedText();
}

bool DocumentViewer::find(const QString& text, bool backward) {
    if (text.isEmpty()) return false;
    const auto flags = backward ? QTextDocument::FindBackward : QTextDocument::FindFlags();
    if (m_text->find(text, flags)) return true;
    // Wrap around once.
    QTextCursor c(m_text->document());
    if (backward) c.movePosition(QTextCursor::End);
    m_text->setTextCursor(c);
    return m_text->find(text, flags);
}

}  // namespace docket::ui

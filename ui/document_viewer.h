#pragma once
// The document viewer: a document's stored text (Engine::document_text, through the bridge) with the cited
// span highlighted and scrolled into view; previous/next citation of the answer (across documents); find in
// document. Plain text for every format ingest reads today (PDF pages arrive with the formats issue).
#include <QPointer>
#include <QWidget>

#include "ui_types.h"

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QToolButton;

namespace docket::ui {

class EngineBridge;

// The UTF-16 position (QString / QTextCursor) of a byte offset into UTF-8 text, clamped to the text.
int utf16Offset(const QByteArray& utf8, qint64 byteOffset);

class DocumentViewer : public QWidget {
    Q_OBJECT
public:
    explicit DocumentViewer(EngineBridge* bridge, QWidget* parent = nullptr);
    void showCitations(const QString& collection, const QVector<CitationEntry>& citations, int index);

    // For tests and the status line: the highlighted span in the text (UTF-16 positions) and its text.
    int highlightBegin() const { return m_highlightBegin; }
    int highlightEnd() const { return m_highlightEnd; }
    QString highlightedText() const;
    QString documentPath() const { return m_path; }
    int citationIndex() const { return m_index; }
    bool find(const QString& text, bool backward = false);

signals:
    void citationShown(int index);

private:
    void onTextLoaded(const QString& collection, const QString& path, const QByteArray& text, const QString& error);
    void step(int delta);
    void showCurrent();
    void applyHighlight();
    void updateFindSelection();

    EngineBridge* m_bridge;
    QLabel* m_title;
    QLabel* m_position;
    QPlainTextEdit* m_text;
    QLineEdit* m_find;
    QToolButton* m_prev;
    QToolButton* m_next;
    QString m_collection, m_path, m_pendingPath;
    QByteArray m_utf8;
    QVector<CitationEntry> m_citations;
    int m_index = -1;
    int m_highlightBegin = -1, m_highlightEnd = -1;
};

}  // namespace docket::ui

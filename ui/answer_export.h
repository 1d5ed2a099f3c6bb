#pragma once
// An exchange (question, answer, citations) as Markdown or HTML: for the clipboard, for export files, and (the
// HTML fragment, with its citations linked to the viewer) for the chat pane. One formatter for all three.
#include <functional>

#include <QMimeData>
#include <QString>

#include "answer_model.h"

namespace docket::ui {

QString citationLabel(const CitationEntry& c);
QString exchangeMarkdown(const Exchange& e);
// The exchange as an HTML fragment; citationHref(i) gives the link of citation i ("" for none).
QString exchangeHtmlFragment(const Exchange& e, const std::function<QString(int)>& citationHref);
// A whole HTML document, citations linked to their files.
QString exchangeHtmlDocument(const Exchange& e);
// Both forms for the clipboard (text/plain is the Markdown).
QMimeData* exchangeMimeData(const Exchange& e);

}  // namespace docket::ui

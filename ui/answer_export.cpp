#include "answer_export.h"

#include <QUrl>

namespace docket::ui {
namespace {

QString stateNote(const Exchange& e) {
    switch (e.state) {
    case Exchange::State::Streaming: return QObject::tr("answering…");
    case Exchange::State::Stopped: return QObject::tr("stopped");
    case Exchange::State::Failed: return QObject::tr("failed: %1").arg(e.error);
    case Exchange::State::Done: return {};
    }
    return {};
}

}  // namespace

QString citationLabel(const CitationEntry& c) {
    const QString title = c.title.isEmpty() ? c.document.section(QLatin1Char('/'), -1) : c.title;
    if (c.lineBegin == c.lineEnd) return QObject::tr("%1, part %2, line %3").arg(title).arg(c.segment + 1).arg(c.lineBegin);
    return QObject::tr("%1, part %2, lines %3–%4").arg(title).arg(c.segment + 1).arg(c.lineBegin).arg(c.lineEnd);
}

QString exchangeMarkdown(const Exchange& e) {
    QString md = QObject::tr("**Question:** %1\n\n**Answer:** %2\n").arg(e.question, e.answer().trimmed());
    const QString note = stateNote(e);
    if (!note.isEmpty()) md += QStringLiteral("\n_(%1)_\n").arg(note);
    if (!e.citations.isEmpty()) md += QObject::tr("\n**Citations:**\n\n");
    for (int i = 0; i < e.citations.size(); ++i) {
        const CitationEntry& c = e.citations[i];
        md += QStringLiteral("%1. %2 — “%3” (`%4`)\n").arg(i + 1).arg(citationLabel(c), c.quote, c.document);
    }
    return md;
}

QString exchangeHtmlFragment(const Exchange& e, const std::function<QString(int)>& citationHref) {
    QString h = QStringLiteral("<p><b>%1</b> %2</p>").arg(QObject::tr("Question:"), e.question.toHtmlEscaped());
    QString answer = e.answer().trimmed().toHtmlEscaped().replace(QLatin1Char('\n'), QLatin1String("<br>"));
    const QString note = stateNote(e);
    if (!note.isEmpty()) answer += QStringLiteral(" <i>(%1)</i>").arg(note.toHtmlEscaped());
    h += QStringLiteral("<p><b>%1</b> %2</p>").arg(QObject::tr("Answer:"), answer);
    if (e.citations.isEmpty()) return h;
    h += QStringLiteral("<ol>");
    for (int i = 0; i < e.citations.size(); ++i) {
        const CitationEntry& c = e.citations[i];
        const QString href = citationHref(i);
        const QString label = citationLabel(c).toHtmlEscaped();
        const QString link = href.isEmpty() ? label : QStringLiteral("<a href=\"%1\">%2</a>").arg(href.toHtmlEscaped(), label);
        h += QStringLiteral("<li>%1 — “%2”</li>").arg(link, c.quote.toHtmlEscaped());
    }
    return h + QStringLiteral("</ol>");
}

QString exchangeHtmlDocument(const Exchange& e) {
    const QString body = exchangeHtmlFragment(e, [&](int i) {
        const CitationEntry& c = e.citations[i];
        return QUrl::fromLocalFile(c.document).toString() + QStringLiteral("#line=%1").arg(c.lineBegin);
    });
    return QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%1</title></head>"
                          "<body>%2</body></html>\n")
        .arg(e.question.toHtmlEscaped(), body);
}

QMimeData* exchangeMimeData(const Exchange& e) {
    auto* mime = new QMimeData;
    mime->setText(exchangeMarkdown(e));
    mime->setHtml(exchangeHtmlDocument(e));
    return mime;
}

}  // namespace docket::ui

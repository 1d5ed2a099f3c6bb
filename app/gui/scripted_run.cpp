#include "scripted_run.h"

#include <QApplication>
#include <QGuiApplication>
#include <QPixmap>
#include <QPlainTextEdit>
#include <QScreen>
#include <QTimer>

#include <cstdio>

#include "ui/answer_model.h"
#include "ui/document_viewer.h"
#include "ui/engine_bridge.h"
#include "ui/main_window.h"

using namespace docket::ui;

ScriptedRun::ScriptedRun(MainWindow* window, const QString& question, bool openCitation, const QString& screenshot,
                         int delaySeconds)
    : QObject(window), m_window(window), m_question(question), m_screenshot(screenshot), m_openCitation(openCitation) {
    if (question.isEmpty()) {
        QTimer::singleShot(delaySeconds * 1000, this, &ScriptedRun::finish);
        return;
    }
    connect(window, &MainWindow::catalogRefreshed, this, &ScriptedRun::maybeAsk);
    connect(window->bridge(), &EngineBridge::answerFinished, this, [this] {
        if (!m_asked) return;
        if (m_openCitation) m_window->openCitation(m_window->currentExchangeRow(), 0);
        QTimer::singleShot(1500, this, &ScriptedRun::finish);  // let the viewer and the charts paint
    });
}

void ScriptedRun::maybeAsk() {
    if (m_asked || m_window->bridge()->ingestRunning() || m_window->currentCollection().isEmpty()) return;
    m_asked = true;
    m_window->questionEdit()->setPlainText(m_question);
    m_window->askCurrentQuestion();
}

void ScriptedRun::finish() {
    if (!m_screenshot.isEmpty()) {
        QScreen* screen = QGuiApplication::primaryScreen();
        QPixmap shot = screen ? screen->grabWindow(0) : QPixmap();
        if (shot.isNull()) shot = m_window->grab();
        if (!shot.save(m_screenshot)) std::fprintf(stderr, "docket: cannot save the screenshot %s\n", qPrintable(m_screenshot));
    }
    const Exchange* e = m_window->answers()->exchange(m_window->currentExchangeRow());
    QApplication::exit(m_question.isEmpty() || (e && e->state == Exchange::State::Done) ? 0 : 1);
}

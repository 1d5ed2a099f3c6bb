#pragma once
// Hidden options of docket for screenshots and demos. docket --ask TEXT [--open-citation] [--screenshot FILE]:
// once the engine is open and no ingest runs, asks the question in the window as a user would, optionally
// opens the first citation in the viewer, then saves a screenshot of the screen (under Xvfb the whole display,
// viewer included) and quits, 0 when the answer came. docket --screenshot FILE --screenshot-delay S (no --ask):
// the screenshot S seconds after the start (e.g. during an ingest), then quits.
#include <QObject>
#include <QString>

namespace docket::ui {
class MainWindow;
}

class ScriptedRun : public QObject {
    Q_OBJECT
public:
    ScriptedRun(docket::ui::MainWindow* window, const QString& question, bool openCitation, const QString& screenshot,
                int delaySeconds);

private:
    void maybeAsk();
    void finish();
    docket::ui::MainWindow* m_window;
    QString m_question, m_screenshot;
    bool m_openCitation, m_asked = false;
};

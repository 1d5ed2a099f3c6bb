// The Docket window against the real engine (SmolLM2 and two contracts of the sample archive), offscreen,
// driven by QTest input events as a user would: the engine opens off the UI thread; File > Add Folder
// (Ctrl+Shift+O) ingests with progress and lists the documents; a bad file dropped on the window is listed with
// its reason; Ctrl+Enter asks and the answer streams in with citations; clicking a citation opens the viewer
// with the cited span highlighted; Esc stops an answer; settings and the question history survive a restart;
// the window state is restored; the UI event loop stays responsive (p99 latency) during ingest and answers.
#include <QtTest>

#include <QApplication>
#include <QDropEvent>
#include <QFileDialog>
#include <QLineEdit>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <QCheckBox>
#include <QClipboard>
#include <QProgressBar>
#include <QComboBox>
#include <QPushButton>
#include <QStatusBar>
#include <QLabel>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "test_paths.h"
#include "ui/answer_model.h"
#include "ui/app_settings.h"
#include "ui/catalog_models.h"
#include "ui/chat_view.h"
#include "ui/dashboard.h"
#include "ui/document_viewer.h"
#include "ui/engine_bridge.h"
#include "ui/history_file.h"
#include "ui/ingest_panel.h"
#include "ui/main_window.h"
#include "ui/settings_dialog.h"

using namespace docket::ui;
namespace fs = std::filesystem;

namespace {

const char* kTrademark = "03-trademark-license-palmer-square.txt";
const char* kQuestion = "Which state's laws govern the Trademark License Agreement?";

// Records how late a 10 ms timer fires: the UI event loop's latency while work runs elsewhere.
class LatencyProbe : public QObject {
public:
    LatencyProbe() {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(10);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            const qint64 now = m_clock.nsecsElapsed();
            if (m_last) m_gaps.push_back(double(now - m_last) / 1e6 - 10.0);
            m_last = now;
        });
    }
    void start() {
        m_gaps.clear();
        m_clock.start();
        m_last = 0;
        m_timer.start();
    }
    void stop() { m_timer.stop(); }
    double p99() const {
        if (m_gaps.isEmpty()) return -1;
        QVector<double> g = m_gaps;
        std::sort(g.begin(), g.end());
        return g[qsizetype(double(g.size() - 1) * 0.99)];
    }
    int samples() const { return int(m_gaps.size()); }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = 0;
    QVector<double> m_gaps;
};

QString folded(QString s) {
    return s.replace(QChar::ParagraphSeparator, QLatin1Char(' ')).simplified();
}

// Waits for the modal folder dialog File > Add Folder opened, goes to `dir` and accepts it there (a folder
// dialog accepted with no name typed answers its current directory).
void acceptFolderDialogAt(const QString& dir) {
    QTimer* poll = new QTimer;
    QObject::connect(poll, &QTimer::timeout, poll, [poll, dir] {
        auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
        if (!dialog) return;
        dialog->setDirectory(dir);
        if (auto* name = dialog->findChild<QLineEdit*>(QStringLiteral("fileNameEdit"))) name->clear();
        static_cast<QDialog*>(dialog)->accept();  // QFileDialog::accept, public through QDialog
        poll->deleteLater();
    });
    poll->start(50);
}

void dropFiles(QWidget* target, const QStringList& paths) {
    QMimeData mime;
    QList<QUrl> urls;
    for (const QString& p : paths) urls << QUrl::fromLocalFile(p);
    mime.setUrls(urls);
    const QPoint at = target->rect().center();
    QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(target, &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(at), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(target, &drop);
    QVERIFY(drop.isAccepted());
}

// The position in the chat's document of the first character of link `href`; -1 when absent.
int anchorPosition(QTextDocument* doc, const QString& href) {
    for (QTextBlock b = doc->begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it)
            if (it.fragment().charFormat().anchorHref() == href) return it.fragment().position();
    return -1;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
    QString m_root, m_docs, m_bad, m_settingsFile;
    std::unique_ptr<AppSettings> m_settings;
    std::unique_ptr<MainWindow> m_window;
    LatencyProbe m_probe;

    std::unique_ptr<MainWindow> openWindow() {
        MainWindow::Options o;
        o.offerSample = false;  // the first-run sample ingest is the smoke test's; here two contracts
        auto w = std::make_unique<MainWindow>(m_settings.get(), o);
        w->show();
        w->openEngine();
        return w;
    }

    // Asks `question` by typing it and pressing Ctrl+Enter in the question box; returns the answer's row.
    int askWithCtrlEnter(const QString& question) {
        QPlainTextEdit* box = m_window->questionEdit();
        box->setFocus();
        box->selectAll();
        QTest::keyClick(box, Qt::Key_Delete);
        QTest::keyClicks(box, question);
        const int before = m_window->answers()->rowCount();
        QTest::keyClick(box, Qt::Key_Return, Qt::ControlModifier);
        return m_window->answers()->rowCount() == before + 1 ? before : -1;
    }

private slots:
    void initTestCase() {
        QApplication::setAttribute(Qt::AA_DontUseNativeDialogs);
        m_root = QString::fromStdString(docket::test::binary_dir()) + "/test-scratch/ui-window-" +
                 QString::number(::getpid());
        fs::remove_all(m_root.toStdString());
        m_docs = m_root + "/contracts";
        m_bad = m_root + "/bad/scanned-fax.txt";
        fs::create_directories(m_docs.toStdString());
        fs::create_directories((m_root + "/bad").toStdString());
        const std::string archive = docket::test::source_dir() + "/resources/sample-archive/";
        for (const char* f : {kTrademark, "04-endorsement-lifeway-foods.txt"})
            fs::copy_file(archive + f, m_docs.toStdString() + "/" + f);
        std::ofstream(m_bad.toStdString(), std::ios::binary)
            << std::string("\x7f" "ELF\0\0\0\x01\x02\x03", 10) + std::string(4000, '\0');
        m_settingsFile = m_root + "/docket.conf";
        m_settings = std::make_unique<AppSettings>(m_settingsFile);
        m_settings->setDataDir(m_root + "/data");
        m_settings->setModelPath(QString::fromStdString(docket::test::smollm2_path()));
        m_settings->setMaxAnswerTokens(48);
        m_window = openWindow();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        // The window is up and responsive before the engine is: it opens off the UI thread.
        QVERIFY(!m_window->bridge()->isOpen());
        QTRY_VERIFY_WITH_TIMEOUT(m_window->bridge()->isOpen(), 120000);
        QCOMPARE(QFileInfo(m_root + "/data").permissions() & (QFile::ReadGroup | QFile::ReadOther), QFile::Permissions());
    }

    void add_folder_action_ingests_with_progress_and_lists_the_documents() {
        QSignalSpy progress(m_window->bridge(), &EngineBridge::ingestProgress);
        QSignalSpy finished(m_window->bridge(), &EngineBridge::ingestFinished);
        QSignalSpy refreshed(m_window.get(), &MainWindow::catalogRefreshed);
        QSignalSpy started(m_window->bridge(), &EngineBridge::ingestStarted);
        acceptFolderDialogAt(m_docs);
        m_probe.start();
        QTest::keyClick(m_window.get(), Qt::Key_O, Qt::ControlModifier | Qt::ShiftModifier);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 300000);
        m_probe.stop();
        QCOMPARE(started.count(), 1);
        QCOMPARE(started.at(0).at(1).toStringList(), QStringList{m_docs});
        const auto outcome = finished.at(0).at(0).value<IngestOutcome>();
        QVERIFY2(outcome.ok, qPrintable(outcome.error));
        QCOMPARE(outcome.ingested, qint64(2));
        QVERIFY2(progress.count() > 0, "no progress reached the panel while the ingest ran");
        QTRY_VERIFY2_WITH_TIMEOUT(refreshed.count() >= 1 && m_window->documents()->rowCount() == 2,
                                  qPrintable(QString("%1 refreshes, %2 documents in '%3'")
                                                 .arg(refreshed.count())
                                                 .arg(m_window->documents()->rowCount())
                                                 .arg(m_window->currentCollection())),
                                  30000);
        for (int r = 0; r < 2; ++r) {
            QCOMPARE(m_window->documents()->entry(r)->status, QStringLiteral("ready"));
            QVERIFY(m_window->documents()->entry(r)->segments > 0);
        }
        QCOMPARE(m_window->currentCollection(), QStringLiteral("documents"));
        qInfo("UI event loop during ingest: p99 latency %.1f ms over %d ticks", m_probe.p99(), m_probe.samples());
        QVERIFY2(m_probe.p99() < 50.0, qPrintable(QString("p99 latency %1 ms during ingest").arg(m_probe.p99())));
    }

    void a_bad_file_dropped_on_the_window_is_listed_with_its_reason() {
        QSignalSpy finished(m_window->bridge(), &EngineBridge::ingestFinished);
        QSignalSpy refreshed(m_window.get(), &MainWindow::catalogRefreshed);
        dropFiles(m_window.get(), {m_bad});
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 60000);
        const IngestFileResult* row = m_window->ingestPanel()->files()->entry(0);
        QVERIFY(row);
        QCOMPARE(row->status, QStringLiteral("failed"));
        QVERIFY(row->path.endsWith("scanned-fax.txt"));
        QVERIFY2(!row->error.isEmpty(), "a failed file must say why");
        QTRY_VERIFY_WITH_TIMEOUT(refreshed.count() >= 1 && m_window->documents()->rowCount() == 3, 30000);
        bool listed = false;
        for (int r = 0; r < 3; ++r) {
            const DocumentEntry* d = m_window->documents()->entry(r);
            listed |= d->status == "error" && d->error == row->error;
        }
        QVERIFY2(listed, "the documents table shows the unreadable file with its reason");
    }

    void ctrl_enter_asks_and_the_answer_streams_in_with_citations() {
        QSignalSpy tokens(m_window->bridge(), &EngineBridge::answerToken);
        QSignalSpy finished(m_window->bridge(), &EngineBridge::answerFinished);
        // Streamed: the chat shows part of the answer while it is still being written.
        bool sawPartial = false;
        auto watch = connect(m_window->chatView()->document(), &QTextDocument::contentsChanged, this, [&] {
            const QString text = m_window->chatView()->toPlainText();
            sawPartial |= text.contains(QStringLiteral("answering…")) && tokens.count() > 0;
        });
        m_probe.start();
        const int row = askWithCtrlEnter(kQuestion);
        QVERIFY2(row >= 0, "Ctrl+Enter in the question box did not ask");
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 120000);
        m_probe.stop();
        disconnect(watch);
        const Exchange* e = m_window->answers()->exchange(row);
        QVERIFY2(e->state == Exchange::State::Done, qPrintable(e->error));
        QVERIFY2(tokens.count() > 1, "the answer came in one piece, not streamed");
        QVERIFY(sawPartial);
        QVERIFY2(e->answer().contains("New York", Qt::CaseInsensitive), qPrintable(e->answer()));
        QVERIFY(!e->citations.isEmpty());
        QTRY_VERIFY(m_window->chatView()->toPlainText().contains(e->answer().trimmed().left(20)));
        QTRY_VERIFY(anchorPosition(m_window->chatView()->document(), ChatView::citationHref(row, 0)) >= 0);
        qInfo("UI event loop during the answer: p99 latency %.1f ms over %d ticks", m_probe.p99(), m_probe.samples());
        QVERIFY2(m_probe.p99() < 50.0, qPrintable(QString("p99 latency %1 ms while answering").arg(m_probe.p99())));
    }

    void clicking_a_citation_opens_the_viewer_with_the_cited_span_highlighted() {
        const int row = m_window->currentExchangeRow();
        const Exchange* e = m_window->answers()->exchange(row);
        QVERIFY(e && !e->citations.isEmpty());
        ChatView* chat = m_window->chatView();
        const int pos = anchorPosition(chat->document(), ChatView::citationHref(row, 0));
        QVERIFY(pos >= 0);
        QTextCursor c(chat->document());
        c.setPosition(pos + 1);
        chat->setTextCursor(c);
        chat->ensureCursorVisible();
        const QPoint at = chat->cursorRect(c).center();
        QTest::mouseClick(chat->viewport(), Qt::LeftButton, Qt::NoModifier, at);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->viewer() && m_window->viewer()->isVisible(), 5000);
        DocumentViewer* v = m_window->viewer();
        QTRY_VERIFY_WITH_TIMEOUT(v->highlightBegin() >= 0 && v->documentPath() == e->citations[0].document, 10000);
        QCOMPARE(v->citationIndex(), 0);
        QVERIFY(v->highlightEnd() > v->highlightBegin());
        // The highlighted text is the cited passage: the citation's quote is that span, whitespace folded.
        QCOMPARE(folded(v->highlightedText()), folded(e->citations[0].quote));
        // Find in the document, and the next citation (Alt+Down) when there is one.
        QVERIFY(v->find(QStringLiteral("Agreement")));
        if (e->citations.size() > 1) {
            QTest::keyClick(v, Qt::Key_Down, Qt::AltModifier);
            QTRY_COMPARE(v->citationIndex(), 1);
            QTRY_VERIFY(v->highlightBegin() >= 0 && v->documentPath() == e->citations[1].document);
        }
        v->close();
    }

    void the_dashboard_samples_the_engine_counters_at_2_hz() {
        Dashboard* d = m_window->dashboard();
        const int before = d->sampleCount();
        QTest::qWait(2100);
        QVERIFY2(d->sampleCount() - before >= 4, qPrintable(QString("%1 samples in 2.1 s").arg(d->sampleCount() - before)));
        const docket::TelemetrySnapshot& t = d->samples().back().v;
        QVERIFY(t.questions_answered >= 1 && t.tokens_generated > 0 && t.segments_prefilled > 0);
        QVERIFY(t.snapshots_loaded > 0 && t.snapshot_bytes_loaded > 0);
        QVERIFY(d->notMeasuredNote().contains("issue 10"));
    }

    void copy_answer_puts_markdown_and_html_with_citations_on_the_clipboard() {
        const Exchange* e = m_window->answers()->exchange(m_window->currentExchangeRow());
        QVERIFY(e && !e->citations.isEmpty());
        QApplication::clipboard()->clear();
        m_window->activateWindow();  // the viewer had the focus; window shortcuts need their window active
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        QTest::keyClick(m_window->questionEdit(), Qt::Key_C, Qt::ControlModifier | Qt::ShiftModifier);
        QCOMPARE(m_window->statusBar()->currentMessage(), QStringLiteral("Answer copied with its citations (Markdown and HTML)"));
        const QMimeData* mime = QApplication::clipboard()->mimeData();
        QVERIFY2(mime && mime->hasHtml() && mime->hasText(), mime ? qPrintable(mime->formats().join(' ')) : "no mime data");
        QVERIFY2(mime->text().contains("**Citations:**") && mime->text().contains(e->citations[0].quote.left(30)),
                 qPrintable(mime->text()));
        QVERIFY(mime->html().contains("<ol>") && mime->html().contains(QUrl::fromLocalFile(e->citations[0].document).toString()));
    }

    void a_whole_archive_question_shows_its_progress_over_the_documents() {
        QSignalSpy progress(m_window->bridge(), &EngineBridge::answerProgress);
        QSignalSpy finished(m_window->bridge(), &EngineBridge::answerFinished);
        QTest::mouseClick(m_window->wholeArchiveBox(), Qt::LeftButton);
        QVERIFY(m_window->wholeArchiveBox()->isChecked());
        auto uncheck = qScopeGuard([&] { m_window->wholeArchiveBox()->setChecked(false); });
        bool barShown = false;
        auto watch = connect(m_window->bridge(), &EngineBridge::answerProgress, this,
                             [&] { barShown |= m_window->archiveProgress()->isVisible(); });
        const int row = askWithCtrlEnter(QStringLiteral("Which contracts are governed by the laws of New York?"));
        QVERIFY(row >= 0);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 180000);
        disconnect(watch);
        const Exchange* e = m_window->answers()->exchange(row);
        QVERIFY2(e->state == Exchange::State::Done, qPrintable(e->error));
        qint64 total = 0;
        for (const auto& args : progress) total = std::max(total, args.at(1).value<IngestProgress>().documentsTotal);
        QVERIFY2(total >= 2, qPrintable(QString("archive progress over %1 documents").arg(total)));
        QVERIFY(barShown);
        QVERIFY(!m_window->archiveProgress()->isVisible());
        QVERIFY(!e->answer().trimmed().isEmpty());
    }

    void cancel_in_the_ingest_panel_stops_an_ingest() {
        // Two contracts not read yet (their snapshots cannot be reused), so the ingest runs long enough.
        const QString more = m_root + "/more";
        QDir().mkpath(more);
        for (const char* f : {"05-joint-venture-novo-harvest-gold.txt", "07-master-services-clear-capital-radialspark.txt"})
            QFile::copy(QString::fromStdString(docket::test::source_dir()) + "/resources/sample-archive/" + f, more + "/" + f);
        m_window->selectCollection(QStringLiteral("second"));
        auto back = qScopeGuard([&] { m_window->selectCollection(QStringLiteral("documents")); });
        QSignalSpy progress(m_window->bridge(), &EngineBridge::ingestProgress);
        QSignalSpy finished(m_window->bridge(), &EngineBridge::ingestFinished);
        dropFiles(m_window.get(), {more});
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() > 0 || finished.count() > 0, 60000);
        QVERIFY2(finished.count() == 0, "the ingest ended before it could be cancelled");
        auto* cancel = m_window->ingestPanel()->findChild<QPushButton*>(QStringLiteral("cancelIngest"));
        QVERIFY(cancel && cancel->isEnabled());
        QTest::mouseClick(cancel, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
        const auto outcome = finished.at(0).at(0).value<IngestOutcome>();
        QVERIFY2(outcome.cancelled, qPrintable(outcome.error));
        QVERIFY(outcome.ingested < 2);
        QVERIFY(m_window->ingestPanel()->summaryText().startsWith("Cancelled"));
    }

    void esc_stops_the_answer() {
        m_settings->setMaxAnswerTokens(400);
        QSignalSpy tokens(m_window->bridge(), &EngineBridge::answerToken);
        QSignalSpy finished(m_window->bridge(), &EngineBridge::answerFinished);
        const int row = askWithCtrlEnter(QStringLiteral("Describe every obligation of each party in detail."));
        QVERIFY(row >= 0);
        QTRY_VERIFY_WITH_TIMEOUT(tokens.count() >= 1 || finished.count() == 1, 120000);
        QVERIFY2(finished.count() == 0, "the answer ended before Esc could stop it");
        QTest::keyClick(m_window->questionEdit(), Qt::Key_Escape);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 10000);
        const Exchange* e = m_window->answers()->exchange(row);
        QVERIFY2(e->state == Exchange::State::Stopped, qPrintable(e->error));
        QVERIFY(e->outcome.cancelled);
        QVERIFY(tokens.count() < 400);
        m_settings->setMaxAnswerTokens(48);
    }

    void settings_round_trip_through_the_dialog() {
        SettingsDialog dialog(m_settings.get(), m_window->bridge()->model());
        auto* info = dialog.findChild<QLabel*>(QStringLiteral("modelInfo"));
        QVERIFY(info);
        QVERIFY2(info->text().contains("llama") && info->text().contains("context"), qPrintable(info->text()));
        auto* codec = dialog.findChildren<QComboBox*>().value(0);
        QVERIFY(codec);
        codec->setCurrentText(QStringLiteral("int4"));
        QVERIFY2(dialog.apply(), "a new codec is an engine option: the engine must re-open");
        m_settings->sync();
        AppSettings reread(m_settingsFile);
        QCOMPARE(reread.codec(), QStringLiteral("int4"));
        QCOMPARE(reread.dataDir(), m_root + "/data");
        m_settings->setCodec(QStringLiteral("int8"));
        SettingsDialog unchanged(m_settings.get(), m_window->bridge()->model());
        QVERIFY(!unchanged.apply());
    }

    void history_and_window_state_survive_a_restart() {
        m_window->resize(1290, 990);
        const QSize size = m_window->size();
        const QString collection = m_window->currentCollection();
        m_window->close();
        m_window.reset();  // engine closed, history and window state written
        AnswerModel model;
        HistoryFile history(&model);
        QCOMPARE(history.load(m_root + "/data"), QString());
        QCOMPARE(model.rowCount(), 3);
        ExchangeFilterProxy search;
        search.setSourceModel(&model);
        search.setCollection(collection);
        search.setSearchText(QStringLiteral("STATE'S LAWS"));  // case-insensitive
        QCOMPARE(search.rowCount(), 1);
        QCOMPARE(search.index(0, 0).data(AnswerModel::QuestionRole).toString(), QString(kQuestion));

        m_window = openWindow();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        QCOMPARE(m_window->size(), size);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->bridge()->isOpen(), 120000);
        QTRY_COMPARE(m_window->currentCollection(), collection);
        QTRY_COMPARE(m_window->answers()->rowCount(), 3);  // the history is back in the chat
    }

    void a_damaged_history_file_is_set_aside_and_an_oversized_one_is_capped() {
        const QString dir = m_root + "/history-data";
        QDir().mkpath(dir + "/ui");
        const QString path = dir + "/ui/history.json";
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("{\"version\": 1, \"exchanges\": [ {\"collection\": \"c\", \"quest");  // cut mid-write
        }
        AnswerModel model;
        HistoryFile history(&model);
        const QString problem = history.load(dir);
        QVERIFY2(problem.contains("damaged") && problem.contains(".bad"), qPrintable(problem));
        QVERIFY(QFile::exists(path + ".bad"));
        QVERIFY(!QFile::exists(path));
        QCOMPARE(model.rowCount(), 0);
        // More exchanges than a collection keeps: the newest kMaxPerCollection stay, oldest first.
        QVector<Exchange> many(HistoryFile::kMaxPerCollection + 20);
        for (int i = 0; i < many.size(); ++i) {
            many[i].collection = "c";
            many[i].question = QString("question %1").arg(i);
            many[i].state = Exchange::State::Done;
        }
        QString error;
        const QVector<Exchange> back = HistoryFile::fromJson(HistoryFile::toJson(many), &error);
        QVERIFY(error.isEmpty());
        QCOMPARE(back.size(), HistoryFile::kMaxPerCollection);
        QCOMPARE(back.front().question, QString("question 20"));
        QCOMPARE(back.back().question, QString("question %1").arg(many.size() - 1));
    }

    void cleanupTestCase() {
        m_window.reset();
        fs::remove_all(m_root.toStdString());
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"

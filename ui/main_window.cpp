#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QInputDialog>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QUrl>
#include <QVBoxLayout>

#include "answer_export.h"
#include "answer_model.h"
#include "app_settings.h"
#include "catalog_models.h"
#include "chat_view.h"
#include "dashboard.h"
#include "document_viewer.h"
#include "engine_bridge.h"
#include "history_file.h"
#include "ingest_panel.h"
#include "sample_archive.h"
#include "settings_dialog.h"

namespace docket::ui {
namespace {

constexpr auto kDefaultCollection = "documents";

QStringList localPaths(const QMimeData* mime) {
    QStringList out;
    if (!mime || !mime->hasUrls()) return out;
    for (const QUrl& u : mime->urls())
        if (u.isLocalFile()) out << u.toLocalFile();
    return out;
}

// A labelled column: a bold caption above the widget.
QWidget* captioned(const QString& caption, QWidget* content, QWidget* extra = nullptr) {
    auto* box = new QWidget;
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* label = new QLabel(QStringLiteral("<b>%1</b>").arg(caption), box);
    label->setBuddy(content);
    layout->addWidget(label);
    if (extra) layout->addWidget(extra);
    layout->addWidget(content, 1);
    return box;
}

}  // namespace

MainWindow::MainWindow(AppSettings* settings, Options options, QWidget* parent)
    : QMainWindow(parent), m_settings(settings), m_options(options) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("Docket"));
    setAcceptDrops(true);
    m_bridge = new EngineBridge(this);
    m_collections = new CollectionModel(this);
    m_documents = new DocumentModel(this);
    m_answers = new AnswerModel(this);
    m_history = new HistoryFile(m_answers, this);
    m_collectionProxy = new QSortFilterProxyModel(this);
    m_collectionProxy->setSourceModel(m_collections);
    m_collectionProxy->setSortRole(CollectionModel::NameRole);
    m_collectionProxy->sort(0);
    m_documentProxy = new QSortFilterProxyModel(this);
    m_documentProxy->setSourceModel(m_documents);
    m_documentProxy->setSortRole(DocumentModel::SortRole);
    m_documentProxy->setFilterKeyColumn(-1);
    m_documentProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_chatProxy = new ExchangeFilterProxy(this);
    m_chatProxy->setSourceModel(m_answers);
    m_historyProxy = new ExchangeFilterProxy(this);
    m_historyProxy->setSourceModel(m_answers);
    m_collection = settings->lastCollection();

    buildActions();
    buildCentral();
    buildDocks();
    restoreWindowState();

    connect(m_bridge, &EngineBridge::opened, this, &MainWindow::onOpened);
    connect(m_bridge, &EngineBridge::collectionsLoaded, this, &MainWindow::onCatalog);
    connect(m_bridge, &EngineBridge::failed, this, &MainWindow::showStatus);
    connect(m_bridge, &EngineBridge::ingestFinished, this, &MainWindow::onIngestFinished);
    connect(m_bridge, &EngineBridge::ingestStarted, this, &MainWindow::updateActions);
    // Each file that lands shows up in the documents table without waiting for the whole ingest.
    connect(m_bridge, &EngineBridge::ingestProgress, this, [this](const IngestProgress& p) {
        if (p.filesDone == m_filesDoneShown) return;
        m_filesDoneShown = p.filesDone;
        if (p.filesDone > 0) m_bridge->refresh();
    });
    connect(m_bridge, &EngineBridge::answerToken, m_answers, &AnswerModel::appendText);
    connect(m_bridge, &EngineBridge::answerCitation, m_answers, &AnswerModel::addCitation);
    connect(m_bridge, &EngineBridge::answerFinished, this, &MainWindow::onAnswerFinished);
    connect(m_bridge, &EngineBridge::answerProgress, this, [this](quint64 id, const IngestProgress& p) {
        if (id != m_answerId || p.phase != QLatin1String("map") || p.documentsTotal <= 0) return;
        m_archiveProgress->setVisible(true);
        m_archiveProgress->setRange(0, int(p.documentsTotal));
        m_archiveProgress->setValue(int(p.documentsDone));
        m_archiveProgress->setFormat(tr("Asked %1 of %2 documents — %3 left")
                                         .arg(p.documentsDone)
                                         .arg(p.documentsTotal)
                                         .arg(formatDuration(p.etaSeconds)));
    });
    connect(m_chat, &ChatView::citationActivated, this, &MainWindow::openCitation);
    updateActions();
    updateEmptyChat();
}

MainWindow::~MainWindow() {
    m_history->save();
}

void MainWindow::buildActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    m_addFiles = file->addAction(tr("&Add Files…"), this, &MainWindow::addFilesDialog);
    m_addFiles->setShortcut(QKeySequence::Open);
    m_addFolder = file->addAction(tr("Add &Folder…"), this, &MainWindow::addFolderDialog);
    m_addFolder->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    m_newCollection = file->addAction(tr("&New Collection…"), this, &MainWindow::newCollectionDialog);
    m_newCollection->setShortcut(QKeySequence::New);
    file->addSeparator();
    m_export = file->addAction(tr("&Export Answer…"), this, &MainWindow::exportAnswer);
    m_export->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    file->addSeparator();
    m_settingsAction = file->addAction(tr("&Settings…"), this, &MainWindow::showSettings);
    m_settingsAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Comma));
    file->addSeparator();
    m_quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    m_quit->setShortcut(QKeySequence::Quit);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    m_copy = edit->addAction(tr("&Copy Answer with Citations"), this, &MainWindow::copyAnswer);
    m_copy->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
    QAction* search = edit->addAction(tr("&Search History"));
    search->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_F));
    connect(search, &QAction::triggered, this, [this] {
        m_historyDock->show();
        m_historyDock->raise();
        m_historySearch->setFocus();
    });
    QAction* focusDocs = edit->addAction(tr("Filter &Documents"));
    focusDocs->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    connect(focusDocs, &QAction::triggered, this, [this] { m_documentFilter->setFocus(); });

    QMenu* ask = menuBar()->addMenu(tr("&Ask"));
    m_ask = ask->addAction(tr("&Ask"), this, &MainWindow::askCurrentQuestion);
    m_ask->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter)});
    m_stop = ask->addAction(tr("&Stop Answer"), this, &MainWindow::stopAnswer);
    m_stop->setShortcut(QKeySequence(Qt::Key_Escape));
    QAction* focusQuestion = ask->addAction(tr("&Question Box"));
    focusQuestion->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));
    connect(focusQuestion, &QAction::triggered, this, [this] { m_question->setFocus(); });

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Docket"), this, [this] {
        QMessageBox::about(this, tr("About Docket"),
                           tr("<b>Docket</b> %1<br>Questions about your documents, answered by a language model on "
                              "this machine. Citations open the passage they cite.")
                               .arg(QCoreApplication::applicationVersion()));
    });
}

QWidget* MainWindow::buildCatalogPane() {
    m_collectionView = new QListView;
    m_collectionView->setObjectName(QStringLiteral("collections"));
    m_collectionView->setModel(m_collectionProxy);
    m_collectionView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    connect(m_collectionView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& i) {
                if (i.isValid()) selectCollection(i.data(CollectionModel::NameRole).toString());
            });
    m_documentFilter = new QLineEdit;
    m_documentFilter->setObjectName(QStringLiteral("documentFilter"));
    m_documentFilter->setPlaceholderText(tr("Filter documents (Ctrl+L)"));
    m_documentFilter->setClearButtonEnabled(true);
    connect(m_documentFilter, &QLineEdit::textChanged, m_documentProxy, &QSortFilterProxyModel::setFilterFixedString);
    m_documentView = new QTableView;
    m_documentView->setObjectName(QStringLiteral("documents"));
    m_documentView->setModel(m_documentProxy);
    m_documentView->setSortingEnabled(true);
    m_documentView->sortByColumn(DocumentModel::TitleColumn, Qt::AscendingOrder);
    m_documentView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_documentView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_documentView->verticalHeader()->hide();
    m_documentView->horizontalHeader()->setStretchLastSection(true);
    m_documentView->setWordWrap(false);
    m_documentView->setAlternatingRowColors(true);

    auto* left = new QSplitter(Qt::Vertical);
    left->addWidget(captioned(tr("&Collections"), m_collectionView));
    left->addWidget(captioned(tr("D&ocuments"), m_documentView, m_documentFilter));
    left->setStretchFactor(1, 3);
    return left;
}

QWidget* MainWindow::buildChatPane() {
    m_chat = new ChatView(m_answers, m_chatProxy);
    m_question = new QPlainTextEdit;
    m_question->setObjectName(QStringLiteral("question"));
    m_question->setPlaceholderText(tr("Ask a question about this collection — Ctrl+Enter asks, Esc stops"));
    m_question->setTabChangesFocus(true);
    m_question->setFixedHeight(m_question->fontMetrics().lineSpacing() * 4 + 12);
    m_question->installEventFilter(this);
    m_question->viewport()->installEventFilter(this);  // drags and drops arrive at the viewport
    m_askButton = new QPushButton(tr("Ask"));
    m_askButton->setObjectName(QStringLiteral("askButton"));
    m_askButton->setToolTip(tr("Ctrl+Enter"));
    connect(m_askButton, &QPushButton::clicked, m_ask, &QAction::trigger);
    m_stopButton = new QPushButton(tr("Stop"));
    m_stopButton->setToolTip(tr("Esc"));
    connect(m_stopButton, &QPushButton::clicked, m_stop, &QAction::trigger);
    auto* askRow = new QHBoxLayout;
    askRow->addWidget(m_question, 1);
    auto* buttons = new QVBoxLayout;
    m_wholeArchive = new QCheckBox(tr("&Whole archive"));
    m_wholeArchive->setObjectName(QStringLiteral("wholeArchive"));
    m_wholeArchive->setToolTip(tr("A question about the whole collection (which contracts…, how many…, which was "
                                  "signed earlier…): asked of every document, then combined"));
    buttons->addWidget(m_askButton);
    buttons->addWidget(m_stopButton);
    buttons->addWidget(m_wholeArchive);
    buttons->addStretch();
    askRow->addLayout(buttons);
    m_archiveProgress = new QProgressBar;
    m_archiveProgress->setObjectName(QStringLiteral("archiveProgress"));
    m_archiveProgress->setVisible(false);
    auto* chatBox = new QWidget;
    auto* chatLayout = new QVBoxLayout(chatBox);
    chatLayout->setContentsMargins(0, 0, 0, 0);
    auto* chatLabel = new QLabel(tr("<b>Ch&at</b>"));
    chatLabel->setBuddy(m_chat);
    chatLayout->addWidget(chatLabel);
    chatLayout->addWidget(m_chat, 1);
    chatLayout->addWidget(m_archiveProgress);
    chatLayout->addLayout(askRow);
    return chatBox;
}

void MainWindow::buildCentral() {
    m_splitter = new QSplitter(Qt::Horizontal);
    m_splitter->setObjectName(QStringLiteral("mainSplitter"));
    m_splitter->addWidget(buildCatalogPane());
    m_splitter->addWidget(buildChatPane());
    m_splitter->setStretchFactor(0, 1);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setSizes({430, 470});
    setCentralWidget(m_splitter);
    setTabOrder(m_question, m_askButton);
    setTabOrder(m_askButton, m_stopButton);
    setTabOrder(m_stopButton, m_wholeArchive);
    setTabOrder(m_wholeArchive, m_chat);
    setTabOrder(m_chat, m_collectionView);
    setTabOrder(m_collectionView, m_documentFilter);
    setTabOrder(m_documentFilter, m_documentView);

    m_engineStatus = new QLabel;
    statusBar()->addPermanentWidget(m_engineStatus);
}

void MainWindow::buildDocks() {
    auto dock = [this](const QString& title, const QString& name, QWidget* content, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(content);
        addDockWidget(area, d);
        m_viewMenu->addAction(d->toggleViewAction());
        return d;
    };
    m_historySearch = new QLineEdit;
    m_historySearch->setObjectName(QStringLiteral("historySearch"));
    m_historySearch->setPlaceholderText(tr("Search questions and answers (Ctrl+Shift+F)"));
    m_historySearch->setClearButtonEnabled(true);
    connect(m_historySearch, &QLineEdit::textChanged, m_historyProxy, &ExchangeFilterProxy::setSearchText);
    m_historyView = new QListView;
    m_historyView->setObjectName(QStringLiteral("history"));
    m_historyView->setModel(m_historyProxy);
    m_historyView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_historyView->setWordWrap(true);
    connect(m_historyView, &QListView::activated, this, [this](const QModelIndex& i) {
        m_pickedExchange = m_historyProxy->mapToSource(i).row();
        m_chat->showExchange(m_pickedExchange);
        m_question->setPlainText(i.data(AnswerModel::QuestionRole).toString());
    });
    auto* history = new QWidget;
    auto* hl = new QVBoxLayout(history);
    hl->addWidget(m_historySearch);
    hl->addWidget(m_historyView, 1);
    m_ingest = new IngestPanel(m_bridge);
    QDockWidget* ingest = dock(tr("Ingest"), QStringLiteral("ingestDock"), m_ingest, Qt::BottomDockWidgetArea);
    QDockWidget* historyDock = dock(tr("History"), QStringLiteral("historyDock"), history, Qt::BottomDockWidgetArea);
    tabifyDockWidget(ingest, historyDock);
    ingest->raise();
    m_dashboard = new Dashboard(m_bridge);
    auto* scroll = new QScrollArea;  // the charts keep a legible height; the dock scrolls when it is short
    scroll->setWidget(m_dashboard);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    QDockWidget* dashboard = dock(tr("Engine Dashboard"), QStringLiteral("dashboardDock"), scroll, Qt::RightDockWidgetArea);
    resizeDocks({dashboard}, {460}, Qt::Horizontal);
    resizeDocks({ingest}, {190}, Qt::Vertical);
    m_historyDock = historyDock;
    setTabOrder(m_documentView, m_historySearch);
    setTabOrder(m_historySearch, m_historyView);
}

void MainWindow::restoreWindowState() {
    resize(1360, 860);
    if (!m_settings->windowGeometry().isEmpty()) restoreGeometry(m_settings->windowGeometry());
    if (!m_settings->windowState().isEmpty()) restoreState(m_settings->windowState());
    if (!m_settings->splitterState().isEmpty()) m_splitter->restoreState(m_settings->splitterState());
}

void MainWindow::closeEvent(QCloseEvent* e) {
    m_settings->setWindowState(saveGeometry(), saveState(), m_splitter->saveState());
    m_settings->setLastCollection(m_collection);
    m_settings->sync();
    m_history->save();
    if (m_viewer) m_viewer->close();
    QMainWindow::closeEvent(e);
}

void MainWindow::openEngine() {
    m_engineStatus->setText(tr("Opening the engine…"));
    m_engineError.clear();
    m_sampleChecked = false;
    m_bridge->open(m_settings->engineOptions());
    updateActions();
    updateEmptyChat();
}

void MainWindow::onOpened(bool ok, const QString& error) {
    if (!ok) {
        m_engineError = error;
        m_engineStatus->setText(tr("Engine not open"));
        showStatus(tr("The engine could not open: %1").arg(error));
    } else {
        const auto m = m_bridge->model();
        m_engineStatus->setText(tr("%1 · %2").arg(m ? QString::fromStdString(m->name) : QString(), m_bridge->dataDir()));
        const QString historyProblem = m_history->load(m_bridge->dataDir());
        if (!historyProblem.isEmpty()) showStatus(historyProblem);
        m_bridge->refresh();
    }
    updateActions();
    updateEmptyChat();
    emit engineReady(ok);
}

void MainWindow::onCatalog(const QVector<CollectionEntry>& collections,
                           const QHash<QString, QVector<DocumentEntry>>& docs) {
    m_catalog = docs;
    m_collections->setCollections(collections);
    // Keep the current collection while it exists, or while it is the new one documents are being added to.
    QString pick = m_collection;
    if (m_collections->rowOf(pick) < 0 && pick != m_pendingCollection && !collections.isEmpty())
        pick = collections.front().name;
    if (!pick.isEmpty()) selectCollection(pick);
    maybeIngestSample(collections);
    updateEmptyChat();
    emit catalogRefreshed();
}

void MainWindow::maybeIngestSample(const QVector<CollectionEntry>& collections) {
    if (m_sampleChecked) return;
    m_sampleChecked = true;
    bool present = false;
    for (const CollectionEntry& c : collections) present |= c.name == kSampleCollection;
    const bool firstRun = m_options.offerSample && !m_settings->sampleOffered() && !present;
    const QStringList files = sampleArchiveFiles(sampleArchiveDir());
    if ((!firstRun && !m_options.forceSample) || files.isEmpty()) return;
    m_settings->setSampleOffered(true);
    selectCollection(kSampleCollection);
    if (m_question->toPlainText().isEmpty()) m_question->setPlainText(kSampleQuestion);
    QStringList missing = files;
    for (const DocumentEntry& d : m_catalog.value(kSampleCollection))
        if (d.status == QLatin1String("ready")) missing.removeAll(d.path);
    if (missing.isEmpty()) return;
    // Read the bundled contracts now, so that the first question can be asked within a minute.
    m_bridge->addDocuments(kSampleCollection, missing);
    showStatus(tr("Reading %1 sample contracts into “%2” (about a minute); ask once they are ready.")
                   .arg(missing.size())
                   .arg(kSampleCollection));
}

void MainWindow::selectCollection(const QString& name) {
    const bool changed = name != m_collection;
    m_collection = name;
    m_documents->setDocuments(m_catalog.value(name));
    m_documentView->resizeColumnsToContents();
    // Long titles are elided rather than pushing status and sizes out of view.
    m_documentView->setColumnWidth(DocumentModel::TitleColumn,
                                   std::min(m_documentView->columnWidth(DocumentModel::TitleColumn), 230));
    m_chatProxy->setCollection(name);
    m_historyProxy->setCollection(name);
    const int row = m_collections->rowOf(name);
    if (row >= 0) {
        const QModelIndex i = m_collectionProxy->mapFromSource(m_collections->index(row));
        if (m_collectionView->currentIndex() != i) m_collectionView->setCurrentIndex(i);
    }
    if (changed) m_pickedExchange = -1;
    setWindowTitle(name.isEmpty() ? tr("Docket") : tr("%1 — Docket").arg(name));
    updateEmptyChat();
    updateActions();
}

void MainWindow::updateEmptyChat() {
    QString html;
    if (!m_engineError.isEmpty())
        html = tr("<p><b>The engine could not open.</b></p><p>%1</p><p>Pick a model and data directory in File &gt; "
                  "Settings (Ctrl+,). <code>installer/setup.sh</code> fetches the default model.</p>")
                   .arg(m_engineError.toHtmlEscaped());
    else if (!m_bridge->isOpen())
        html = tr("<p>Opening the engine (loading the model)…</p>");
    else if (m_collection.isEmpty())
        html = tr("<p>No documents yet. Add files or a folder with File &gt; Add Files (Ctrl+O) or drop them on this "
                  "window.</p>");
    else if (m_bridge->ingestRunning())
        html = tr("<p>Reading documents into “%1”… You can ask once a document is ready.</p>").arg(m_collection.toHtmlEscaped());
    else
        html = tr("<p>Ask a question about the documents of “%1” below; Ctrl+Enter asks, Esc stops. Citations "
                  "open the passage they cite.</p>").arg(m_collection.toHtmlEscaped());
    m_chat->setEmptyText(html);
}

void MainWindow::updateActions() {
    const bool open = m_bridge->isOpen();
    for (QAction* a : {m_addFiles, m_addFolder}) a->setEnabled(open);
    m_ask->setEnabled(open && !m_collection.isEmpty());
    m_askButton->setEnabled(m_ask->isEnabled());
    m_stop->setEnabled(m_bridge->answering());
    m_stopButton->setEnabled(m_bridge->answering());
    const bool haveExchange = currentExchangeRow() >= 0;
    m_copy->setEnabled(haveExchange);
    m_export->setEnabled(haveExchange);
}

void MainWindow::addPaths(const QStringList& paths) {
    if (paths.isEmpty()) return;
    if (!m_bridge->isOpen()) {
        showStatus(tr("The engine is not open: nothing can be added yet"));
        return;
    }
    QString target = m_collection.isEmpty() ? QString::fromLatin1(kDefaultCollection) : m_collection;
    QStringList absolute;
    for (const QString& p : paths) absolute << QFileInfo(p).absoluteFilePath();
    if (m_collection.isEmpty()) selectCollection(target);
    m_pendingCollection = target;
    m_bridge->addDocuments(target, absolute);
    showStatus(tr("Adding %n item(s) to “%1”", nullptr, int(paths.size())).arg(target));
    updateEmptyChat();
}

void MainWindow::onIngestFinished(const IngestOutcome& o) {
    m_filesDoneShown = -1;
    showStatus(m_ingest->summaryText());
    if (!m_bridge->ingestRunning()) m_bridge->refresh();
    updateActions();
    updateEmptyChat();
}

void MainWindow::askCurrentQuestion() {
    const QString q = m_question->toPlainText().trimmed();
    if (q.isEmpty()) {
        showStatus(tr("Type a question first"));
        return;
    }
    if (!m_bridge->isOpen() || m_collection.isEmpty()) {
        showStatus(tr("Add documents to a collection first"));
        return;
    }
    m_answerId = m_bridge->ask(m_collection, q, m_settings->maxAnswerTokens(), m_wholeArchive->isChecked());
    m_archiveProgress->setVisible(false);
    m_answers->addQuestion(m_answerId, m_collection, q);
    m_pickedExchange = -1;
    m_question->selectAll();
    // The engine runs one job at a time, in order: say so rather than look stuck.
    showStatus(m_bridge->ingestRunning() ? tr("The question is answered once the running ingest ends") : tr("Answering…"));
    updateActions();
}

void MainWindow::stopAnswer() {
    if (!m_bridge->answering()) return;
    m_bridge->stopAnswer();
    showStatus(tr("Stopping the answer…"));
}

void MainWindow::onAnswerFinished(quint64 id, const AnswerOutcome& o) {
    m_answers->finish(id, o);
    if (id == m_answerId) m_archiveProgress->setVisible(false);
    if (id == m_answerId) {
        if (o.ok)
            showStatus(tr("Answered in %1 s (first token after %2 s; %3 context tokens from %4 passages)")
                           .arg(o.totalSeconds, 0, 'f', 1)
                           .arg(o.ttftSeconds, 0, 'f', 2)
                           .arg(o.contextTokens)
                           .arg(o.segments));
        else
            showStatus(o.cancelled ? tr("Answer stopped") : tr("The answer failed: %1").arg(o.error));
    }
    updateActions();
}

DocumentViewer* MainWindow::viewer() const {
    return m_viewer;
}

int MainWindow::currentExchangeRow() const {
    if (m_pickedExchange >= 0 && m_answers->exchange(m_pickedExchange)) return m_pickedExchange;
    const int n = m_chatProxy->rowCount();
    return n > 0 ? m_chatProxy->mapToSource(m_chatProxy->index(n - 1, 0)).row() : -1;
}

void MainWindow::openCitation(int exchangeRow, int index) {
    const Exchange* e = m_answers->exchange(exchangeRow);
    if (!e || index < 0 || index >= e->citations.size()) return;
    if (!m_viewer) {
        m_viewer = new DocumentViewer(m_bridge, this);
        // Beside the chat rather than over it (a window manager may still place it elsewhere).
        const QRect g = geometry();
        m_viewer->resize(std::min(900, g.width() * 2 / 3), g.height() - 60);
        m_viewer->move(g.x() + g.width() - m_viewer->width() - 20, g.y() + 40);
    }
    m_viewer->showCitations(e->collection, e->citations, index);
    m_viewer->show();
    m_viewer->raise();
    m_viewer->activateWindow();
}

void MainWindow::copyAnswer() {
    const Exchange* e = m_answers->exchange(currentExchangeRow());
    if (!e) return;
    QApplication::clipboard()->setMimeData(exchangeMimeData(*e));
    showStatus(tr("Answer copied with its citations (Markdown and HTML)"));
}

void MainWindow::exportAnswer() {
    const Exchange* e = m_answers->exchange(currentExchangeRow());
    if (!e) return;
    QString filter;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Answer"), QDir::homePath() + "/answer.md",
                                                      tr("Markdown (*.md);;HTML (*.html)"), &filter);
    if (path.isEmpty()) return;
    const bool html = path.endsWith(QLatin1String(".html"), Qt::CaseInsensitive) || filter.startsWith("HTML");
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        showStatus(tr("Cannot write %1: %2").arg(path, f.errorString()));
        return;
    }
    f.write((html ? exchangeHtmlDocument(*e) : exchangeMarkdown(*e)).toUtf8());
    showStatus(f.commit() ? tr("Exported to %1").arg(path) : tr("Cannot write %1: %2").arg(path, f.errorString()));
}

void MainWindow::addFilesDialog() {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add Files"), QDir::homePath(),
                                                            tr("Documents (*.txt *.md *.text);;All files (*)"));
    addPaths(files);
}

void MainWindow::addFolderDialog() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add Folder"), QDir::homePath());
    if (!dir.isEmpty()) addPaths({dir});
}

void MainWindow::newCollectionDialog() {
    bool ok = false;
    const QString name = QInputDialog::getText(this, tr("New Collection"),
                                               tr("Name (documents added next go into it):"), QLineEdit::Normal,
                                               QString(), &ok)
                             .trimmed();
    if (!ok || name.isEmpty()) return;
    if (name.size() > 200) {
        showStatus(tr("A collection name is at most 200 characters"));
        return;
    }
    m_pendingCollection = name;
    selectCollection(name);
    showStatus(tr("New collection “%1”: add files or a folder to it (Ctrl+O, Ctrl+Shift+O, or drop them)").arg(name));
}

void MainWindow::showSettings() {
    SettingsDialog dialog(m_settings, m_bridge->model(), this);
    if (dialog.exec() != QDialog::Accepted) return;
    if (dialog.apply()) openEngine();
}

void MainWindow::showStatus(const QString& text) {
    statusBar()->showMessage(text, 15000);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
    if (!localPaths(e->mimeData()).isEmpty()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
    const QStringList paths = localPaths(e->mimeData());
    if (paths.isEmpty()) return;
    e->acceptProposedAction();
    addPaths(paths);
}

bool MainWindow::eventFilter(QObject* watched, QEvent* e) {
    if (watched == m_question && e->type() == QEvent::KeyPress) {
        auto* k = static_cast<QKeyEvent*>(e);
        const bool enter = k->key() == Qt::Key_Return || k->key() == Qt::Key_Enter;
        if (enter && (k->modifiers() & Qt::ControlModifier)) {
            m_ask->trigger();
            return true;
        }
        if (k->key() == Qt::Key_Escape && m_bridge->answering()) {
            stopAnswer();
            return true;
        }
    }
    // Files dropped on the question box are documents to add, not text to paste.
    const bool questionBox = watched == m_question || watched == m_question->viewport();
    if (questionBox && (e->type() == QEvent::DragEnter || e->type() == QEvent::Drop)) {
        auto* d = static_cast<QDropEvent*>(e);
        if (!localPaths(d->mimeData()).isEmpty()) {
            d->acceptProposedAction();
            if (e->type() == QEvent::Drop) addPaths(localPaths(d->mimeData()));
            return true;
        }
    }
    return QMainWindow::eventFilter(watched, e);
}

}  // namespace docket::ui

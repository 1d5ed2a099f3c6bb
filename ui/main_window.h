#pragma once
// The Docket window: collections and their documents on the left, the chat (streamed answers, citations that
// open the document viewer at the cited passage) in the middle, and docks for the question history, ingest
// progress and the engine dashboard. It talks to the engine only through EngineBridge.
#include <QHash>
#include <QMainWindow>
#include <QPointer>

#include "ui_types.h"

class QAction;
class QCheckBox;
class QProgressBar;
class QDockWidget;
class QLabel;
class QLineEdit;
class QListView;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;

namespace docket::ui {

class AnswerModel;
class AppSettings;
class CollectionModel;
class ChatView;
class Dashboard;
class DocumentModel;
class DocumentViewer;
class EngineBridge;
class ExchangeFilterProxy;
class HistoryFile;
class IngestPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    struct Options {
        bool offerSample = true;   // first run: ingest the sample archive (once; remembered in the settings)
        bool forceSample = false;  // docket --sample: open on "sample", ingesting what of it is missing
    };
    MainWindow(AppSettings* settings, Options options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens the engine with the settings' options (done once by the constructor's caller).
    void openEngine();
    // Ingests files and folders into the current collection (File > Add and drops end here).
    void addPaths(const QStringList& paths);
    // Asks the question in the question box about the current collection.
    void askCurrentQuestion();
    void stopAnswer();
    void selectCollection(const QString& name);
    QString currentCollection() const { return m_collection; }

    EngineBridge* bridge() const { return m_bridge; }
    AnswerModel* answers() const { return m_answers; }
    DocumentModel* documents() const { return m_documents; }
    DocumentViewer* viewer() const;
    IngestPanel* ingestPanel() const { return m_ingest; }
    Dashboard* dashboard() const { return m_dashboard; }
    ChatView* chatView() const { return m_chat; }
    QPlainTextEdit* questionEdit() const { return m_question; }
    QCheckBox* wholeArchiveBox() const { return m_wholeArchive; }
    QProgressBar* archiveProgress() const { return m_archiveProgress; }
    // The exchange that Copy/Export act on: the one picked in the history, else the last of the collection.
    int currentExchangeRow() const;
    void openCitation(int exchangeRow, int index);

signals:
    void engineReady(bool ok);
    void catalogRefreshed();

protected:
    void closeEvent(QCloseEvent* e) override;
    void dragEnterEvent(QDragEnterEvent* e) override;
    void dropEvent(QDropEvent* e) override;
    bool eventFilter(QObject* watched, QEvent* e) override;

private:
    void buildActions();
    void buildCentral();
    QWidget* buildCatalogPane();
    QWidget* buildChatPane();
    void buildDocks();
    void restoreWindowState();
    void onOpened(bool ok, const QString& error);
    void onCatalog(const QVector<CollectionEntry>& collections, const QHash<QString, QVector<DocumentEntry>>& docs);
    void onIngestFinished(const IngestOutcome& o);
    void onAnswerFinished(quint64 id, const AnswerOutcome& o);
    void maybeIngestSample(const QVector<CollectionEntry>& collections);
    void updateActions();
    void updateEmptyChat();
    void addFilesDialog();
    void addFolderDialog();
    void newCollectionDialog();
    void copyAnswer();
    void exportAnswer();
    void showSettings();
    void showStatus(const QString& text);

    AppSettings* m_settings;
    Options m_options;
    EngineBridge* m_bridge;
    CollectionModel* m_collections;
    DocumentModel* m_documents;
    AnswerModel* m_answers;
    ExchangeFilterProxy* m_chatProxy;
    ExchangeFilterProxy* m_historyProxy;
    HistoryFile* m_history;
    QSortFilterProxyModel* m_collectionProxy;
    QSortFilterProxyModel* m_documentProxy;
    QHash<QString, QVector<DocumentEntry>> m_catalog;
    QString m_collection;
    QString m_pendingCollection;  // named by New Collection or an add; it exists once a document is in it
    QString m_engineError;
    bool m_sampleChecked = false;
    int m_pickedExchange = -1;
    qint64 m_filesDoneShown = -1;  // files of the running ingest the catalog was refreshed for
    quint64 m_answerId = 0;

    QSplitter* m_splitter = nullptr;
    QListView* m_collectionView = nullptr;
    QTableView* m_documentView = nullptr;
    QLineEdit* m_documentFilter = nullptr;
    ChatView* m_chat = nullptr;
    QPlainTextEdit* m_question = nullptr;
    QPushButton* m_askButton = nullptr;
    QPushButton* m_stopButton = nullptr;
    QCheckBox* m_wholeArchive = nullptr;
    QProgressBar* m_archiveProgress = nullptr;
    QLabel* m_engineStatus = nullptr;
    QLineEdit* m_historySearch = nullptr;
    QListView* m_historyView = nullptr;
    QDockWidget* m_historyDock = nullptr;
    IngestPanel* m_ingest = nullptr;
    Dashboard* m_dashboard = nullptr;
    QPointer<DocumentViewer> m_viewer;

    QAction* m_addFiles = nullptr;
    QAction* m_addFolder = nullptr;
    QAction* m_newCollection = nullptr;
    QAction* m_ask = nullptr;
    QAction* m_stop = nullptr;
    QAction* m_copy = nullptr;
    QAction* m_export = nullptr;
    QAction* m_settingsAction = nullptr;
    QAction* m_quit = nullptr;
    QMenu* m_viewMenu = nullptr;
};

}  // namespace docket::ui

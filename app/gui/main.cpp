// docket: the desktop window. Also `docket --smoke-test` (offscreen: sample archive, one question, the answer
// with its citations on stdout) and `docket --sample` (opens on the sample archive, ingesting it if needed).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QIcon>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <cstring>

#include "scripted_run.h"
#include "smoke_test.h"
#include "ui/app_settings.h"
#include "ui/main_window.h"
#include "ui/sample_archive.h"

using namespace docket::ui;

namespace {

bool hasArg(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return true;
    return false;
}

QCommandLineOption hidden(QCommandLineOption o) {
    o.setFlags(QCommandLineOption::HiddenFromHelp);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    const bool smoke = hasArg(argc, argv, "--smoke-test");
    const bool textOnly = hasArg(argc, argv, "--help") || hasArg(argc, argv, "-h") || hasArg(argc, argv, "--version") ||
                          hasArg(argc, argv, "-v") || hasArg(argc, argv, "--help-all");
    if ((smoke || textOnly) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && qEnvironmentVariableIsEmpty("DISPLAY") &&
        qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")) {
        // Qt would abort; say what to do instead.
        std::fprintf(stderr, "docket: no display ($DISPLAY and $WAYLAND_DISPLAY are unset): use docket-cli, or "
                             "docket --smoke-test\n");
        return 1;
    }
    QGuiApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("docket"));
    QApplication::setOrganizationName(QStringLiteral("docket"));
    QApplication::setApplicationDisplayName(QStringLiteral("Docket"));
    QApplication::setApplicationVersion(QStringLiteral(DOCKET_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/docket/docket.svg")));
    QApplication::setDesktopFileName(QStringLiteral("docket"));

    QCommandLineParser args;
    args.setApplicationDescription(QStringLiteral("Docket: questions about your documents, answered on this machine."));
    args.addHelpOption();
    args.addVersionOption();
    const QCommandLineOption smokeOpt("smoke-test", "Offscreen: load the sample archive, ask one question, print the "
                                                    "answer with its citations, exit 0 (1 with a reason on failure).");
    const QCommandLineOption sampleOpt("sample", "Open on the sample archive (collection \"sample\"), ingesting it if needed.");
    const QCommandLineOption dataOpt("data", "Data directory (default: the settings', else $XDG_DATA_HOME/docket; "
                                             "--smoke-test: a temporary one).", "dir");
    const QCommandLineOption modelOpt("model", "GGUF model (default: the settings', else the default model).", "file");
    const QCommandLineOption questionOpt("question", "The --smoke-test question.", "text", kSampleQuestion);
    const QCommandLineOption settingsOpt(hidden({"settings", "Settings file (INI) instead of the user's.", "file"}));
    const QCommandLineOption askOpt(hidden({"ask", "Ask this question once ready (demos, screenshots).", "text"}));
    const QCommandLineOption citeOpt(hidden({"open-citation", "With --ask: open the first citation."}));
    const QCommandLineOption shotOpt(hidden({"screenshot", "Save a screenshot there and quit.", "file"}));
    const QCommandLineOption delayOpt(hidden({"screenshot-delay", "Without --ask: seconds before it.", "s", "30"}));
    args.addOptions({smokeOpt, sampleOpt, dataOpt, modelOpt, questionOpt, settingsOpt, askOpt, citeOpt, shotOpt, delayOpt});
    args.process(app);  // --help, --version and unknown options exit here (unknown: status 1 with the reason)
    if (!args.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "docket: unexpected argument '%s' (see docket --help)\n",
                     qPrintable(args.positionalArguments().front()));
        return 2;
    }

    if (args.isSet(smokeOpt)) {
        docket::EngineOptions o;
        QTemporaryDir tmp;
        if (args.isSet(dataOpt)) {
            o.data_dir = QDir(args.value(dataOpt)).absolutePath().toStdString();
        } else if (tmp.isValid()) {
            o.data_dir = (tmp.path() + QStringLiteral("/data")).toStdString();
        } else {
            std::fprintf(stderr, "docket --smoke-test: cannot create a temporary data directory\n");
            return 1;
        }
        o.model_path = args.value(modelOpt).toStdString();
        o.log_level = "warn";
        SmokeTest test(o, args.value(questionOpt));
        QTimer::singleShot(0, &test, &SmokeTest::start);
        return app.exec();
    }

    AppSettings settings(args.value(settingsOpt));
    settings.overrideForSession(args.isSet(dataOpt) ? QDir(args.value(dataOpt)).absolutePath() : QString(),
                                args.isSet(modelOpt) ? QFileInfo(args.value(modelOpt)).absoluteFilePath() : QString());
    MainWindow::Options options;
    options.forceSample = args.isSet(sampleOpt);
    MainWindow window(&settings, options);
    bool delayOk = false;
    const int delay = args.value(delayOpt).toInt(&delayOk);
    if (!delayOk || delay < 0 || delay > 3600) {
        std::fprintf(stderr, "docket: --screenshot-delay takes 0-3600 seconds, not '%s'\n", qPrintable(args.value(delayOpt)));
        return 2;
    }
    if (args.isSet(askOpt) || args.isSet(shotOpt))
        new ScriptedRun(&window, args.value(askOpt), args.isSet(citeOpt), args.value(shotOpt), delay);
    window.show();
    window.openEngine();
    return app.exec();
}

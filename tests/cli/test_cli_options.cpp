// Every docket-cli command rejects a malformed or out-of-range option value with one error line naming the
// option and exit code 1, instead of silently running with the default or a truncated value.
#include <QProcess>
#include <QtTest>

#include "cli_program.h"

namespace {

struct CliResult {
    int code = -1;
    QString out, err;
};

CliResult run_cli(const QStringList& args) {
    QProcess p;
    p.start(QString::fromStdString(docket::test::cli_program(args.value(0).toStdString())), args);
    p.waitForFinished(60000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

// A model path that does not exist: option errors must be reported before the model is opened.
const QString kModel = "/nonexistent/model.gguf";

}  // namespace

class TestCliOptions : public QObject {
    Q_OBJECT
private slots:
    void bad_values_are_one_line_errors() {
        QFETCH(QStringList, args);
        QFETCH(QString, want);
        const CliResult r = run_cli(args);
        QVERIFY2(r.code == 1, qPrintable(QString("exit %1, stderr: %2").arg(r.code).arg(r.err)));
        QVERIFY2(r.err.count('\n') == 1, qPrintable(r.err));
        const QString cmd = args[0] == "bench" ? args[0] + " " + args[1] : args[0];
        const QString program = QString::fromStdString(docket::test::program_name(args[0].toStdString()));
        QVERIFY2(r.err.startsWith(program + " " + cmd + ": option "), qPrintable(r.err));
        QVERIFY2(r.err.contains(want), qPrintable(QString("stderr lacks '%1': %2").arg(want, r.err)));
        QVERIFY(r.out.isEmpty());
    }
    void bad_values_are_one_line_errors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("want");
        const QStringList gen = {"generate", "--model", kModel, "--prompt", "hi"};
        QTest::newRow("ask --scope galaxy")
            << QStringList{"ask", "--model", kModel, "--collection", "c", "--scope", "galaxy", "q"}
            << "option --scope: 'galaxy' is not document or archive";
        QTest::newRow("eval --scope galaxy")
            << QStringList{"eval", "--model",   kModel,    "--collection", "c",
                           "--qa", "/dev/null", "--scope", "galaxy"}
            << "option --scope: 'galaxy' is not document or archive";
        QTest::newRow("-n abc") << (gen + QStringList{"-n", "abc"}) << "option -n: 'abc' is not an integer";
        QTest::newRow("bare -n") << (gen + QStringList{"-n"}) << "option -n needs a value";
        QTest::newRow("-n 5e9") << (gen + QStringList{"-n", "5000000000"}) << "out of range [1, 2147483647]";
        QTest::newRow("-n 0") << (gen + QStringList{"-n", "0"}) << "out of range";
        QTest::newRow("-n 1e99") << (gen + QStringList{"-n", "99999999999999999999999"}) << "out of range";
        QTest::newRow("-n 12x") << (gen + QStringList{"-n", "12x"}) << "'12x' is not an integer";
        QTest::newRow("--temp nan") << (gen + QStringList{"--temp", "nan"}) << "'nan' is not a finite number";
        QTest::newRow("--temp inf") << (gen + QStringList{"--temp", "inf"}) << "not a finite number";
        QTest::newRow("--temp -1") << (gen + QStringList{"--temp", "-1"})
                                   << "option --temp: -1 is out of range";
        QTest::newRow("--repeat-penalty 0") << (gen + QStringList{"--repeat-penalty", "0"})
                                            << "option --repeat-penalty: 0 is out of range (0,";
        QTest::newRow("--top-p 0") << (gen + QStringList{"--top-p", "0"}) << "out of range (0, 1]";
        QTest::newRow("--top-p 1.5") << (gen + QStringList{"--top-p=1.5"}) << "out of range (0, 1]";
        QTest::newRow("--min-p -0.1") << (gen + QStringList{"--min-p", "-0.1"}) << "out of range [0, 1]";
        QTest::newRow("--ctx abc") << (gen + QStringList{"--ctx", "abc"}) << "option --ctx: 'abc'";
        QTest::newRow("--ctx 0") << (gen + QStringList{"--ctx", "0"}) << "option --ctx: 0 is out of range";
        QTest::newRow("--threads 100000") << (gen + QStringList{"--threads", "100000"})
                                          << "option --threads: 100000 is out of range [0, 1024]";
        QTest::newRow("--seed -1") << (gen + QStringList{"--seed", "-1"}) << "option --seed";
        QTest::newRow("--top-k empty") << (gen + QStringList{"--top-k", ""}) << "'' is not an integer";
        QTest::newRow("logits --top 0")
            << QStringList{"logits", "--model", kModel, "--prompt", "x", "--top", "0"} << "option --top";
        QTest::newRow("logits --threads x")
            << QStringList{"logits", "--model", kModel, "--prompt", "x", "--threads", "x"}
            << "option --threads";
        QTest::newRow("tokenize bare --text")
            << QStringList{"tokenize", "--model", kModel, "--text"} << "option --text needs a value";
        QTest::newRow("model-info bare --model")
            << QStringList{"model-info", "--model"} << "option --model needs a value";
        QTest::newRow("make-model --threads -1")
            << QStringList{"make-model",          "--shape",   "tiny", "--type", "q8_0", "--out",
                           "/nonexistent/x.gguf", "--threads", "-1"}
            << "option --threads: -1 is out of range";
        QTest::newRow("make-model --seed abc")
            << QStringList{"make-model",          "--shape", "tiny", "--type", "q8_0", "--out",
                           "/nonexistent/x.gguf", "--seed",  "abc"}
            << "option --seed: 'abc' is not an integer";
        QTest::newRow("compact --min-dead 2")
            << QStringList{"compact", "--store", "/nonexistent", "--min-dead", "2"}
            << "option --min-dead: 2 is out of range [0, 1]";
        QTest::newRow("compact --budget x")
            << QStringList{"compact", "--store", "/nonexistent", "--budget", "x"}
            << "option --budget: 'x' is not an integer";
        QTest::newRow("bench store --tokens 0") << QStringList{"bench", "store", "--tokens", "0"}
                                                << "option --tokens: 0 is out of range [1, 8192]";
        QTest::newRow("bench cpu --gen 1")
            << QStringList{"bench", "cpu", "--model", kModel, "--gen", "1"} << "option --gen";
    }

    // spdlog maps an unknown level name to "off", which silenced every warning: now it is reported and info
    // used.
    void unknown_log_level_is_reported() {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("DOCKET_LOG", "garbage");
        p.setProcessEnvironment(env);
        p.start(QString::fromStdString(docket::test::cli_program("model-info")),
                {"model-info", "--model", kModel});
        QVERIFY(p.waitForFinished(60000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(err.contains("DOCKET_LOG='garbage' is not a level"), qPrintable(err));
        QCOMPARE(p.exitCode(), 1);
    }

    // Values at the edges of their ranges pass the option check (the run then fails on the missing model).
    void edge_values_pass_the_option_check() {
        const CliResult r = run_cli({"generate", "--model", kModel, "--prompt", "hi", "-n", "2147483647",
                                     "--temp", "0", "--top-p", "1", "--min-p", "0", "--repeat-penalty",
                                     "1e-3", "--threads", "1024", "--ctx", "1"});
        QCOMPARE(r.code, 1);
        QVERIFY2(!r.err.contains("option "), qPrintable(r.err));
        QVERIFY2(r.err.contains("model.gguf"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliOptions)
#include "test_cli_options.moc"

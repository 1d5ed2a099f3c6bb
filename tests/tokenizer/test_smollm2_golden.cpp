// SmolLM2's tokenizer against Hugging Face's (tests/golden/data/smollm2_tokenizer.json, made by transformers
// from the same GGUF; schema in tests/golden/README.md): every case's text must encode to exactly its ids,
// with no BOS and special-token text parsed as special tokens.
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "tok_test_util.h"

using namespace docket;
using namespace docket::test;

class SmolLM2HfGolden : public QObject {
    Q_OBJECT

private slots:
    void tokenizer_cases();
    void logit_case_prompts();
};

namespace {
QJsonObject load_json(const QString& path, bool* ok) {
    QFile f(path);
    *ok = f.open(QIODevice::ReadOnly);
    if (!*ok) return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}
std::vector<TokenId> to_ids(const QJsonArray& a) {
    std::vector<TokenId> v;
    for (const auto& x : a) v.push_back(x.toInt());
    return v;
}
}  // namespace

void SmolLM2HfGolden::tokenizer_cases() {
    const QString path = QString::fromStdString(source_dir() + "/tests/golden/data/smollm2_tokenizer.json");
    if (!QFile::exists(path)) QSKIP("tests/golden/data/smollm2_tokenizer.json is not generated yet");
    bool ok = false;
    const QJsonObject root = load_json(path, &ok);
    QVERIFY2(ok, qPrintable(path));
    QCOMPARE(root["format"].toString(), QString("docket-golden-tokenizer/1"));
    QCOMPARE(root["add_bos"].toBool(true), false);
    const bool parse_special = root["parse_special"].toBool(true);
    DK_REQUIRE_TOKENIZER(lt, smollm2_path());
    const QJsonArray cases = root["cases"].toArray();
    QVERIFY(!cases.isEmpty());
    int passed = 0;
    for (const auto& c : cases) {
        const QJsonObject o = c.toObject();
        const std::string text = o["text"].toString().toStdString();
        const auto expected = to_ids(o["ids"].toArray());
        const auto got = lt.tok->encode(text, false, parse_special);
        if (got == expected) {
            ++passed;
            continue;
        }
        qWarning("case '%s': input '%s'\n  expected: %s\n  got:      %s", qPrintable(o["name"].toString()),
                 text.c_str(), ids_to_string(expected).c_str(), ids_to_string(got).c_str());
    }
    qInfo("SmolLM2 vs HF: %d/%lld cases pass", passed, static_cast<long long>(cases.size()));
    QCOMPARE(passed, static_cast<int>(cases.size()));
}

void SmolLM2HfGolden::logit_case_prompts() {
    // The logit goldens also record HF's token ids of each prompt: they must match too.
    DK_REQUIRE_TOKENIZER(lt, smollm2_path());
    int checked = 0;
    for (const char* name : {"smollm2_logits.json", "smollm2_logits_cuad2k.json"}) {
        const QString path = QString::fromStdString(source_dir() + "/tests/golden/data/" + name);
        if (!QFile::exists(path)) continue;
        bool ok = false;
        const QJsonObject root = load_json(path, &ok);
        QVERIFY2(ok, qPrintable(path));
        for (const auto& c : root["cases"].toArray()) {
            const QJsonObject o = c.toObject();
            if (!o["prompt"].isString()) continue;
            const std::string text = o["prompt"].toString().toStdString();
            const auto expected = to_ids(o["token_ids"].toArray());
            const auto got = lt.tok->encode(text, false, true);
            QVERIFY2(got == expected, qPrintable(QString("%1 case '%2'\n  expected: %3\n  got:      %4")
                                                     .arg(name, o["name"].toString(),
                                                          QString::fromStdString(ids_to_string(expected)),
                                                          QString::fromStdString(ids_to_string(got)))));
            ++checked;
        }
    }
    if (checked == 0) QSKIP("tests/golden/data/smollm2_logits*.json are not generated yet");
    qInfo("%d logit-golden prompts tokenize as HF does", checked);
}

QTEST_GUILESS_MAIN(SmolLM2HfGolden)
#include "test_smollm2_golden.moc"

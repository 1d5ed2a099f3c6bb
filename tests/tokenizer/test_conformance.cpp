// Reproduces llama.cpp's vocabulary conformance files exactly: each input of ggml-vocab-<v>.gguf.inp
// (separated by "\n__ggml_vocab_test__\n", nothing else stripped) must encode to the ids on the same line of
// .out, with no BOS/EOS and special-token text treated as plain text (test-tokenizer-0's add_special =
// parse_special = false).
#include <QtTest>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

#include "tok_test_util.h"

using namespace docket;
using namespace docket::test;

class TokenizerConformance : public QObject {
    Q_OBJECT

private slots:
    void run();
};

namespace {

std::vector<std::string> split_inputs(const std::string& raw) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < raw.size()) {
        const size_t next = raw.find(sep, pos);
        if (next == std::string::npos) {
            out.push_back(raw.substr(pos));
            break;
        }
        out.push_back(raw.substr(pos, next - pos));
        pos = next + sep.size();
    }
    return out;
}

std::set<std::string> registered_vocabs() {
    std::set<std::string> s;
    std::stringstream ss(DOCKET_TOKENIZER_VOCABS);
    for (std::string v; std::getline(ss, v, ',');) s.insert(v);
    return s;
}

}  // namespace

void TokenizerConformance::run() {
    const char* env = std::getenv("DOCKET_TOKENIZER_VOCAB");
    if (!env || !*env) {
        // Coverage: every conformance pair in the shared data has a registered per-vocabulary test.
        const auto registered = registered_vocabs();
        const std::string dir = shared_dir() + "/data/tokenizer";
        QVERIFY2(std::filesystem::is_directory(dir), dir.c_str());
        int pairs = 0;
        for (const auto& e : std::filesystem::directory_iterator(dir)) {
            const std::string name = e.path().filename().string();
            const std::string prefix = "ggml-vocab-", suffix = ".gguf.inp";
            if (name.rfind(prefix, 0) != 0 || name.size() <= prefix.size() + suffix.size() ||
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
                continue;
            const std::string v = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
            ++pairs;
            const std::string msg = fmt::format(
                "conformance pair for '{}' has no ctest; add it to DOCKET_TOKENIZER_VOCABS in "
                "tests/tokenizer/CMakeLists.txt",
                v);
            QVERIFY2(registered.count(v), msg.c_str());
        }
        QVERIFY(pairs >= static_cast<int>(registered.size()));
        // gpt-neox ships without a pair: it must at least load (no tokenizer.ggml.pre: default family) and
        // round-trip text.
        DK_REQUIRE_TOKENIZER(neox, vocab_path("gpt-neox"));
        const std::string text = "Hello, world! 12345 \xF0\x9F\xA6\x99 tabs\t\tand\nnewlines";
        QCOMPARE(neox.tok->decode(neox.tok->encode(text, false, false)), text);
        return;
    }

    const std::string vocab = env;
    const std::string base = vocab_path(vocab);
    DK_REQUIRE_TOKENIZER(t, base);
    bool ok_in = false, ok_out = false;
    const std::string raw_in = read_file(base + ".inp", &ok_in);
    const std::string raw_out = read_file(base + ".out", &ok_out);
    QVERIFY2(ok_in && ok_out, fmt::format("cannot read {}.inp/.out", base).c_str());

    const auto inputs = split_inputs(raw_in);
    std::vector<std::string> lines;
    std::stringstream ss(raw_out);
    for (std::string l; std::getline(ss, l);) lines.push_back(l);
    QCOMPARE(inputs.size(), lines.size());
    QVERIFY(!inputs.empty());

    int passed = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        std::vector<TokenId> expected;
        std::stringstream ls(lines[i]);
        for (TokenId id; ls >> id;) expected.push_back(id);
        const auto got = t.tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
        if (got == expected) {
            ++passed;
            continue;
        }
        qWarning("%s case %zu: input '%s'\n  expected: %s\n  got:      %s", vocab.c_str(), i,
                 inputs[i].c_str(), ids_to_string(expected).c_str(), ids_to_string(got).c_str());
    }
    qInfo("%s: %d/%zu conformance cases pass", vocab.c_str(), passed, inputs.size());
    QCOMPARE(passed, static_cast<int>(inputs.size()));
}

QTEST_GUILESS_MAIN(TokenizerConformance)
#include "test_conformance.moc"

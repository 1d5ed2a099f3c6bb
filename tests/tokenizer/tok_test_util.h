#pragma once
// Helpers shared by the tokenizer tests: loading a tokenizer from a GGUF and reading files whole.
#include <QtTest>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "test_paths.h"

namespace docket::test {

struct LoadedTokenizer {
    std::unique_ptr<GgufFile> gguf;
    std::unique_ptr<Tokenizer> tok;
    std::string error;  // non-empty when loading failed
};

inline LoadedTokenizer load_tokenizer(const std::string& path) {
    LoadedTokenizer r;
    auto g = GgufFile::open(path);
    if (!g) {
        r.error = g.status().to_string();
        return r;
    }
    r.gguf = std::move(*g);
    auto t = Tokenizer::from_gguf(*r.gguf);
    if (!t) {
        r.error = t.status().to_string();
        return r;
    }
    r.tok = std::move(*t);
    return r;
}

inline std::string vocab_path(const std::string& name) {
    return shared_dir() + "/data/tokenizer/ggml-vocab-" + name + ".gguf";
}

inline std::string read_file(const std::string& path, bool* ok = nullptr) {
    std::ifstream in(path, std::ios::binary);
    if (ok) *ok = static_cast<bool>(in);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string ids_to_string(const std::vector<TokenId>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) s += ' ';
        s += std::to_string(ids[i]);
    }
    return s;
}

// A CUAD contract used by round-trip and speed tests (the largest of the dev set, ~335 KB of English).
inline std::string cuad_contract_path() {
    return shared_dir() + "/data/cuad-dev/docs/CERES,INC_01_25_2012-EX-10.20-Collaboration Agreement.txt";
}

}  // namespace docket::test

#define DK_REQUIRE_TOKENIZER(var, path)              \
    auto var = ::docket::test::load_tokenizer(path); \
    QVERIFY2(var.tok != nullptr, qPrintable(QString::fromStdString(std::string(path) + ": " + var.error)))

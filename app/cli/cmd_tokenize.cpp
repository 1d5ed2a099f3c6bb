// docket-cli tokenize: token ids of a text under a model's (or vocabulary file's) tokenizer.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "command.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-cli tokenize --model FILE.gguf (--text-file F | --text T) [--no-special] "
    "[--no-parse-special]\n"
    "                           [--pieces]\n"
    "Prints the token ids, space-separated, on one line.\n"
    "  --model             a model or a vocabulary-only GGUF (e.g. ggml-vocab-*.gguf)\n"
    "  --text / --text-file the text (the file is read as raw bytes: no newline is stripped)\n"
    "  --no-special        do not add BOS/EOS (by default they are added as the model's metadata says)\n"
    "  --no-parse-special  special-token text such as <|im_start|> is tokenized as plain text (by default "
    "it\n"
    "                      becomes the special token)\n"
    "  --pieces            also print one line per token: id and its piece\n"
    "The defaults are those of prompting a model. The llama.cpp vocabulary conformance files\n"
    "(ggml-vocab-*.gguf.inp/.out) use --no-special --no-parse-special.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv);
    if (args.has("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (auto bad = args.unknown(
            {"--model", "--text", "--text-file", "--no-special", "--no-parse-special", "--pieces", "--help"});
        !bad.empty())
        return fail("tokenize", "unknown option " + bad[0]);
    OptionReader o(args);
    const std::string path = o.get_string("--model");
    const std::string text_arg = o.get_string("--text"), tf = o.get_string("--text-file");
    if (!o.ok()) return fail("tokenize", o.error());
    if (path.empty()) return fail("tokenize", "--model FILE.gguf is required");
    const bool has_text = args.has("--text"), has_file = args.has("--text-file");
    if (has_text == has_file) return fail("tokenize", "give exactly one of --text T or --text-file F");

    std::string text;
    if (has_text) {
        text = text_arg;
    } else {
        std::ifstream in(tf, std::ios::binary);
        if (!in) return fail("tokenize", "cannot open text file " + tf);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    auto g = GgufFile::open(path);
    if (!g) return fail("tokenize", g.status().to_string());
    auto tok = Tokenizer::from_gguf(**g);
    if (!tok) return fail("tokenize", tok.status().to_string());

    const auto ids = (*tok)->encode(text, !args.has("--no-special"), !args.has("--no-parse-special"));
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
    if (args.has("--pieces")) {
        for (TokenId id : ids) {
            std::string piece = (*tok)->token_to_piece(id);
            std::printf("%6d '%s'\n", id, piece.c_str());
        }
    }
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("tokenize", "print the token ids of a text under a model's tokenizer", run);

}  // namespace docket::cli

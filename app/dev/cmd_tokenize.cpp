// docket-dev tokenize: token ids of a text under a model's (or vocabulary file's) tokenizer.
#include <cstdio>
#include <string>

#include "command.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "prompt_input.h"
#include "util/file_read.h"
#include "util/text_escape.h"

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-dev tokenize --model FILE.gguf (--text-file F | --text T) [--no-special] "
    "[--no-parse-special]\n"
    "                           [--pieces]\n"
    "Prints the token ids, space-separated, on one line.\n"
    "  --model             a model or a vocabulary-only GGUF (e.g. ggml-vocab-*.gguf)\n"
    "  --text / --text-file the text (the file is read as raw bytes: no newline is stripped)\n"
    "  --no-special        do not add BOS/EOS (by default they are added as the model's metadata says)\n"
    "  --no-parse-special  special-token text such as <|im_start|> is tokenized as plain text (by default "
    "it\n"
    "                      becomes the special token)\n"
    "  --pieces            also print one line per token: id and its piece (control characters escaped)\n"
    "The defaults are those of prompting a model. The llama.cpp vocabulary conformance files\n"
    "(ggml-vocab-*.gguf.inp/.out) use --no-special --no-parse-special. Texts are limited to 16 MiB.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model", "--text", "--text-file"},
                     .flags = {"--no-special", "--no-parse-special", "--pieces"}});
    if (args.has("--help")) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("tokenize", s.message(), kUsage);
    OptionReader o(args);
    const std::string path = o.get_string("--model");
    const std::string text_arg = o.get_string("--text"), tf = o.get_string("--text-file");
    if (!o.ok()) return fail("tokenize", o.error());
    if (path.empty()) return fail("tokenize", "--model FILE.gguf is required");
    const bool has_text = args.has("--text"), has_file = args.has("--text-file");
    if (has_text == has_file) return fail("tokenize", "give exactly one of --text T or --text-file F");

    // Bounded before reading: a 1 GB or endless input is refused by its size, not by running out of memory.
    auto text = has_file ? read_regular_file(tf, kMaxTextBytes, "text file") : Result<std::string>(text_arg);
    if (!text) return fail("tokenize", text.status().to_string());
    if (text->size() > kMaxTextBytes)
        return fail("tokenize",
                    fmt::format("--text is {} bytes, more than the {} allowed", text->size(), kMaxTextBytes));

    auto g = GgufFile::open(path);
    if (!g) return fail("tokenize", g.status().to_string());
    auto tok = Tokenizer::from_gguf(**g);
    if (!tok) return fail("tokenize", tok.status().to_string());

    const auto encoded =
        (*tok)->try_encode(*text, !args.has("--no-special"), !args.has("--no-parse-special"));
    if (!encoded) return fail("tokenize", encoded.status().to_string());
    const std::vector<TokenId>& ids = *encoded;
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
    }
    std::printf("%s\n", line.c_str());
    if (args.has("--pieces")) {
        for (TokenId id : ids) {
            const std::string piece = escape_control((*tok)->token_to_piece(id));
            std::printf("%6d '%s'\n", id, piece.c_str());
        }
    }
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("tokenize", "print the token ids of a text under a model's tokenizer", run);

}  // namespace docket::cli

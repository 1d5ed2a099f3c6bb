#pragma once
// Pre-tokenizers for byte-level BPE: the split regexes of each model family (as in the family's
// tokenizer.json and llama.cpp's llama-vocab.cpp), run with PCRE2 (UTF + UCP + JIT). A family is a sequence
// of regexes; each one splits every piece left by the previous one, keeping both the matches and the text
// between them ("isolated" splitting, as HF's Split pre-tokenizer and llama.cpp's unicode_regex_split do).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docket::tok {

struct PreFamily {
    std::string name;                  // "llama3", "gpt2", "smollm", ...
    std::vector<std::string> regexes;  // applied in order
    bool ignore_merges = false;        // a piece that is itself a vocabulary token is emitted whole (llama3)
    bool add_bos = false;              // the family's default for tokenizer.ggml.add_bos_token
};

// The family for a tokenizer.ggml.pre value ("" and "default" give the default family); unsupported when
// unknown.
Result<PreFamily> pre_family_for(std::string_view pre);

struct Piece {
    size_t begin = 0;
    size_t len = 0;
};

class PreTokenizer {
public:
    static Result<std::unique_ptr<PreTokenizer>> create(const PreFamily& family);
    ~PreTokenizer();
    PreTokenizer(const PreTokenizer&) = delete;
    PreTokenizer& operator=(const PreTokenizer&) = delete;

    const PreFamily& family() const { return family_; }

    // Appends the pieces of `text` (offsets into `text`, in order, covering every byte exactly once) to
    // `out`. Invalid UTF-8 never matches a regex item, so such bytes end up in pieces of their own.
    // Thread-safe.
    void split(std::string_view text, std::vector<Piece>& out) const;

private:
    PreTokenizer() = default;
    void split_level(size_t level, std::string_view text, size_t begin, size_t end,
                     std::vector<Piece>& out) const;

    PreFamily family_;
    std::vector<void*> codes_;  // pcre2_code_8*, one per regex (void* keeps pcre2.h out of this header)
};

}  // namespace docket::tok

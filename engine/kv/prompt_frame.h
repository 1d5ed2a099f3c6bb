#pragma once
// The prompt every answer is composed in, and so the frame every snapshot is prefilled in:
//
//   [prefix: chat template + system prompt + user turn opening "Documents:"]   shared, cached once
//   [segment: "[<title>, part k]\n<text>\n\n"] ...                            one snapshot each
//   [question: "Question: <q>\n<answer rule>" + end of user turn + assistant opening]
//
// A segment is prefilled alone right after the prefix, so its KV depends only on (model, prefix, its own
// tokens): the prefix hash and the segment's token hash are the snapshot key's prefix and content fields.
#include <memory>
#include <string>
#include <vector>

#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "util/hash128.h"
#include "util/status.h"

namespace docket::kv {

class PromptFrame {
public:
    // The model's chat template (from its GGUF) frames the prompt; a model without a recognized template
    // gets plain text framing.
    static Result<PromptFrame> create(const Tokenizer& tok, const GgufFile& gguf);

    const std::vector<TokenId>& prefix() const { return prefix_; }
    const Hash128& prefix_hash() const { return prefix_hash_; }
    // The first line of a segment: names its document so the model (and a reader) can tell sources apart.
    static std::string segment_header(const std::string& title, int ordinal);
    // Tokens of one segment as prefilled: header + text + a blank line. header_bytes (optional) receives the
    // byte length of the header, so that token byte offsets can be mapped back into `text`.
    std::vector<TokenId> segment_tokens(const std::string& title, int ordinal, const std::string& text,
                                        size_t* header_bytes = nullptr) const;
    // Tokens of the question turn that follows the documents, up to the assistant's first token.
    std::vector<TokenId> question_tokens(const std::string& question) const;
    static Hash128 hash_tokens(const std::vector<TokenId>& ids);

private:
    const Tokenizer* tok_ = nullptr;
    std::vector<TokenId> prefix_;
    Hash128 prefix_hash_;
    std::vector<ChatSegment> tail_;  // template markup after the user message (e.g. "<|im_end|>\n...")
};

}  // namespace docket::kv

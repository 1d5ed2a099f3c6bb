#pragma once
// Prompt options shared by `generate` and `logits` (defined in cmd_generate.cpp).
#include <string>
#include <vector>

#include "command.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "util/status.h"

namespace docket::cli {

// --prompt TEXT or --prompt-file FILE (the file wins).
Result<std::string> read_prompt(const Args& args, const std::string& cmd);
// With --chat: the chat template (--chat-format, --system) applied and encoded with special tokens parsed;
// otherwise plain text with the model's BOS.
Result<std::vector<TokenId>> prompt_tokens(const Args& args, const GgufFile& gguf, const Tokenizer& tok,
                                           const std::string& prompt);

}  // namespace docket::cli

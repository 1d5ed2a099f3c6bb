#pragma once
// Prompt input shared by `generate`, `logits` and `tokenize` (prompt_input.cpp): reading it with a bound
// known before the first byte, tokenizing it as a value, checking it against the context, and SIGINT as a
// cancel.
#include <cstdint>
#include <string>
#include <vector>

#include "command.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "runtime/model.h"
#include "util/cancel.h"
#include "util/status.h"

namespace docket::cli {

// Most bytes of text any command reads to tokenize, whatever the context (~4M tokens of English).
inline constexpr uint64_t kMaxTextBytes = 16ull << 20;

// Bytes that can possibly tokenize to at most `ctx` tokens (a token encodes at most max_token_bytes bytes),
// capped at kMaxTextBytes: anything longer is refused before it is read.
uint64_t text_byte_limit(const Tokenizer& tok, int64_t ctx);

// --prompt TEXT or --prompt-file FILE (the file wins), at most `max_bytes` bytes.
Result<std::string> read_prompt(const Args& args, uint64_t max_bytes);
// With --chat: the chat template (--chat-format, --system) applied and encoded with special tokens parsed;
// otherwise plain text with the model's BOS.
Result<std::vector<TokenId>> prompt_tokens(const Args& args, const GgufFile& gguf, const Tokenizer& tok,
                                           const std::string& prompt);

// The prompt against --ctx, before anything is allocated for it: an error past `ctx` tokens; a warning on
// stderr when the run (prompt + up to `max_new` tokens, within ctx) can go past the model's trained context
// length, where quality degrades.
Status check_context(int64_t prompt_tokens, int64_t max_new, int64_t ctx, const ModelConfig& config,
                     const std::string& cmd);

// read_prompt within text_byte_limit(ctx), prompt_tokens, then check_context: the prompt's ids, never empty.
Result<std::vector<TokenId>> bounded_prompt(const Args& args, const Model& model, const Tokenizer& tok,
                                            int64_t ctx, int64_t max_new, const std::string& cmd);

// The exit code of a command stopped by SIGINT (128 + SIGINT, as a shell reports it).
inline constexpr int kExitInterrupted = 130;
// Installs the SIGINT handler: the first SIGINT sets the returned flag (the run stops within one prefill
// chunk or decode step, and the command exits kExitInterrupted); a second one kills the process as usual.
const CancelFlag* cancel_on_sigint();

}  // namespace docket::cli

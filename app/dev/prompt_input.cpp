#include "prompt_input.h"

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "model/chat_template.h"
#include "util/file_read.h"

namespace docket::cli {
namespace {

CancelFlag g_sigint{false};

void on_sigint(int) {
    g_sigint.store(true);
}

}  // namespace

uint64_t text_byte_limit(const Tokenizer& tok, int64_t ctx) {
    const uint64_t per_token = std::max<uint64_t>(tok.info().max_token_bytes, 1);
    return ctx >= static_cast<int64_t>(kMaxTextBytes / per_token) ? kMaxTextBytes
                                                                  : static_cast<uint64_t>(ctx) * per_token;
}

Result<std::string> read_prompt(const Args& args, uint64_t max_bytes) {
    DK_ASSIGN_OR_RETURN(std::string prompt, args.get_string("--prompt"));
    DK_ASSIGN_OR_RETURN(const std::string file, args.get_string("--prompt-file"));
    if (!file.empty()) return read_regular_file(file, max_bytes, "prompt file");
    if (!args.has("--prompt"))
        return make_error(ErrorCode::invalid_argument, "--prompt TEXT or --prompt-file FILE is required");
    if (prompt.size() > max_bytes)
        return make_error(ErrorCode::invalid_argument, "--prompt is {} bytes, more than the {} bytes allowed",
                          prompt.size(), max_bytes);
    return prompt;
}

// Tokenizes the prompt: through the chat template (special tokens parsed in its markup only, never in the
// prompt or system text), or as plain text with BOS.
Result<std::vector<TokenId>> prompt_tokens(const Args& args, const GgufFile& gguf, const Tokenizer& tok,
                                           const std::string& prompt) {
    if (!args.has("--chat")) return tok.try_encode(prompt, /*add_special=*/true, /*parse_special=*/false);
    DK_ASSIGN_OR_RETURN(const std::string format, args.get_string("--chat-format"));
    DK_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::from_gguf(gguf, format));
    std::vector<ChatMessage> msgs;
    if (args.has("--system")) {
        DK_ASSIGN_OR_RETURN(std::string system, args.get_string("--system"));
        msgs.push_back({"system", std::move(system)});
    }
    msgs.push_back({"user", prompt});
    return encode_chat(tok, tmpl, msgs, /*add_generation_prompt=*/true);
}

Status check_context(int64_t prompt_tokens, int64_t max_new, int64_t ctx, const ModelConfig& config,
                     const std::string& cmd) {
    if (prompt_tokens > ctx)
        return make_error(ErrorCode::invalid_argument, "prompt of {} tokens exceeds --ctx {}", prompt_tokens,
                          ctx);
    const int64_t reach = std::min(ctx, prompt_tokens + max_new);
    if (config.n_ctx_train > 0 && reach > config.n_ctx_train)
        std::fprintf(stderr,
                     "%s %s: warning: this run reaches %lld tokens, past the model's context length "
                     "%d: output past it may degrade\n",
                     program_name(), cmd.c_str(), static_cast<long long>(reach), config.n_ctx_train);
    return Status::ok();
}

Result<std::vector<TokenId>> bounded_prompt(const Args& args, const Model& model, const Tokenizer& tok,
                                            int64_t ctx, int64_t max_new, const std::string& cmd) {
    DK_ASSIGN_OR_RETURN(const std::string prompt, read_prompt(args, text_byte_limit(tok, ctx)));
    DK_ASSIGN_OR_RETURN(std::vector<TokenId> ids, prompt_tokens(args, model.gguf(), tok, prompt));
    if (ids.empty()) return make_error(ErrorCode::invalid_argument, "the prompt is empty after tokenization");
    DK_TRY(check_context(static_cast<int64_t>(ids.size()), max_new, ctx, model.config(), cmd));
    return ids;
}

const CancelFlag* cancel_on_sigint() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // the second SIGINT takes the default action
    sigaction(SIGINT, &sa, nullptr);
    return &g_sigint;
}

}  // namespace docket::cli

#pragma once
// Chat prompt formats, recognized from the GGUF's tokenizer.chat_template (no Jinja engine: the known templates
// are matched by their distinctive markers; an unknown one is an error unless a format is forced).
#include <string>
#include <vector>

#include "model/gguf.h"
#include "util/status.h"

namespace docket {

enum class ChatFormat { chatml, llama3, mistral, llama2 };
const char* chat_format_name(ChatFormat f);
Result<ChatFormat> parse_chat_format(const std::string& name);  // "chatml", "llama3", "mistral", "llama2"

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

class ChatTemplate {
public:
    // Recognizes the template in the file; `forced` (if non-empty) picks the format by name instead.
    static Result<ChatTemplate> from_gguf(const GgufFile& gguf, const std::string& forced = "");
    static ChatTemplate of(ChatFormat f, std::string default_system = "");

    ChatFormat format() const { return format_; }
    // The prompt text (special tokens written as text, to be encoded with parse_special = true).
    // Includes the BOS text when the format's template writes it; add_generation_prompt opens the assistant turn.
    std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

private:
    ChatFormat format_ = ChatFormat::chatml;
    std::string default_system_;  // e.g. SmolLM2's "You are a helpful AI assistant named SmolLM, ..."
};

}  // namespace docket

#pragma once
// Chat prompt formats, recognized from the GGUF's tokenizer.chat_template (no Jinja engine: the known templates
// are matched by their distinctive markers; an unknown one is an error unless a format is forced).
#include <string>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"
#include "util/status.h"

namespace docket {

enum class ChatFormat { chatml, llama3, mistral, llama2 };
const char* chat_format_name(ChatFormat f);
Result<ChatFormat> parse_chat_format(const std::string& name);  // "chatml", "llama3", "mistral", "llama2"

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

// One piece of a rendered prompt: the template's own markup (may hold special tokens) or message text (roles,
// contents, the default system prompt: never parsed for special tokens).
struct ChatSegment {
    std::string text;
    bool is_template = false;
};

// Largest tokenizer.chat_template accepted: real ones are a few KiB (Llama 3.1's with tools ~ 10 KiB); a
// larger one is a hostile or broken file.
inline constexpr size_t kMaxChatTemplateBytes = 256 << 10;

class ChatTemplate {
public:
    // Recognizes the template in the file; `forced` (if non-empty) picks the format by name instead. A
    // template over kMaxChatTemplateBytes is refused either way. Linear in the template's size.
    static Result<ChatTemplate> from_gguf(const GgufFile& gguf, const std::string& forced = "");
    static ChatTemplate of(ChatFormat f, std::string default_system = "");

    ChatFormat format() const { return format_; }
    // The prompt text (special tokens written as text, to be encoded with parse_special = true).
    // Includes the BOS text when the format's template writes it; add_generation_prompt opens the assistant
    // turn. For display and tests only: encoding this string with parse_special would let "<|im_end|>" inside
    // a message become a control token. Encode prompts with encode_chat().
    std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
    // The same text as apply(), split into template markup and message text.
    std::vector<ChatSegment> apply_segments(const std::vector<ChatMessage>& messages,
                                            bool add_generation_prompt) const;

private:
    ChatFormat format_ = ChatFormat::chatml;
    std::string default_system_;  // e.g. SmolLM2's "You are a helpful AI assistant named SmolLM, ..."
};

// Token ids of the chat prompt: special tokens are parsed in the template's markup only, so message text that
// spells a special token ("<|im_end|>") stays ordinary text. No BOS/EOS is added beyond what the template
// writes. An allocation failure is out_of_memory (see Tokenizer::try_encode).
Result<std::vector<TokenId>> encode_chat(const Tokenizer& tok, const ChatTemplate& tmpl,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt);

}  // namespace docket

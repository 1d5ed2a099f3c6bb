// Chat formats recognized by marker, rendered by hand (no Jinja). Each renderer reproduces its upstream
// template's output for system/user/assistant messages.
#include "model/chat_template.h"

#include <initializer_list>
#include <string_view>

namespace docket {
namespace {

// Markers that identify a template family, and others worth naming when a template is not recognized.
constexpr std::string_view kKnownMarkers[] = {"<|im_start|>",
                                              "<|im_end|>",
                                              "<|start_header_id|>",
                                              "<|eot_id|>",
                                              "[INST]",
                                              "<<SYS>>",
                                              "<|user|>",
                                              "<|assistant|>",
                                              "<|system|>",
                                              "<|end|>",
                                              "<start_of_turn>",
                                              "<|turn>",
                                              "<|User|>",
                                              "<|Assistant|>",
                                              "### Instruction",
                                              "<|START_OF_TURN_TOKEN|>",
                                              "[AVAILABLE_TOOLS]"};

bool contains(std::string_view s, std::string_view m) {
    return s.find(m) != std::string_view::npos;
}

// Jinja's "\\n" inside a string literal, as the template's text spells it, back to a newline.
std::string unescape_newlines(std::string_view body) {
    std::string out;
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\\' && i + 1 < body.size() && body[i + 1] == 'n') {
            out += '\n';
            ++i;
        } else {
            out += body[i];
        }
    }
    return out;
}

// The default system prompt a ChatML template writes when the conversation has none, e.g. SmolLM2's
// '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, ...<|im_end|>\n'. Only a literal text
// directly after the system header counts (Qwen 2.5 writes messages[0]['content'] there in its other branch).
std::string find_default_system(std::string_view tmpl) {
    static constexpr std::string_view kEnd = "<|im_end|>", kNotLiteral = "'\"{}+";
    for (std::string_view head :
         {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
        // Linear: the next end marker and the next non-literal character after a header are found once and
        // reused while later headers still lie before them (a template of N headers and one end marker was
        // quadratic).
        size_t pos = 0, end = 0, bad = 0;
        while ((pos = tmpl.find(head, pos)) != std::string_view::npos) {
            const size_t start = pos + head.size();
            pos = start;
            if (end < start) end = tmpl.find(kEnd, start);
            if (end == std::string_view::npos) break;
            if (bad < start) bad = tmpl.find_first_of(kNotLiteral, start);
            if (end == start || bad < end) continue;
            return unescape_newlines(tmpl.substr(start, end - start));
        }
    }
    return {};
}

std::string trim(std::string_view s) {
    const auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    size_t b = 0, e = s.size();
    while (b < e && is_ws(s[b])) ++b;
    while (e > b && is_ws(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

}  // namespace

const char* chat_format_name(ChatFormat f) {
    switch (f) {
        case ChatFormat::chatml:
            return "chatml";
        case ChatFormat::llama3:
            return "llama3";
        case ChatFormat::mistral:
            return "mistral";
        case ChatFormat::llama2:
            return "llama2";
    }
    return "?";
}

Result<ChatFormat> parse_chat_format(const std::string& name) {
    for (ChatFormat f : {ChatFormat::chatml, ChatFormat::llama3, ChatFormat::mistral, ChatFormat::llama2})
        if (name == chat_format_name(f)) return f;
    return make_error(ErrorCode::invalid_argument,
                      "unknown chat format '{}' (known: chatml, llama3, mistral, llama2)", name);
}

ChatTemplate ChatTemplate::of(ChatFormat f, std::string default_system) {
    ChatTemplate t;
    t.format_ = f;
    t.default_system_ = std::move(default_system);
    return t;
}

Result<ChatTemplate> ChatTemplate::from_gguf(const GgufFile& gguf, const std::string& forced) {
    const std::string tmpl = gguf.get_string_or("tokenizer.chat_template", "");
    if (tmpl.size() > kMaxChatTemplateBytes)
        return make_error(
            ErrorCode::unsupported,
            "{}: tokenizer.chat_template is {} bytes, more than the {} bytes a chat template may "
            "have",
            gguf.name(), tmpl.size(), kMaxChatTemplateBytes);
    if (!forced.empty()) {
        DK_ASSIGN_OR_RETURN(ChatFormat f, parse_chat_format(forced));
        return of(f, f == ChatFormat::chatml ? find_default_system(tmpl) : "");
    }
    if (tmpl.empty())
        return make_error(ErrorCode::not_found,
                          "{}: no tokenizer.chat_template; force a format (chatml, llama3, "
                          "mistral, llama2)",
                          gguf.name());
    if (contains(tmpl, "<|im_start|>")) return of(ChatFormat::chatml, find_default_system(tmpl));
    if (contains(tmpl, "<|start_header_id|>")) return of(ChatFormat::llama3);
    if (contains(tmpl, "[INST]"))
        return of(contains(tmpl, "<<SYS>>") ? ChatFormat::llama2 : ChatFormat::mistral);
    std::string found;
    for (auto m : kKnownMarkers)
        if (contains(tmpl, m)) found.append(found.empty() ? "" : ", ").append(m);
    return make_error(
        ErrorCode::unsupported,
        "{}: tokenizer.chat_template is not a known format (markers found: {}); force one of chatml, "
        "llama3, mistral, llama2",
        gguf.name(), found.empty() ? "none" : found);
}

std::vector<ChatSegment> ChatTemplate::apply_segments(const std::vector<ChatMessage>& messages,
                                                      bool add_generation_prompt) const {
    std::vector<ChatSegment> out;
    // Markup and text alternate: T("...") appends template markup, M(x) message text (roles too: they come
    // from the caller, and no role needs a special token).
    auto add = [&out](std::string_view s, bool is_template) {
        if (s.empty()) return;
        if (!out.empty() && out.back().is_template == is_template)
            out.back().text.append(s);
        else
            out.push_back({std::string(s), is_template});
    };
    auto T = [&](std::string_view s) { add(s, true); };
    auto M = [&](std::string_view s) { add(s, false); };
    switch (format_) {
        case ChatFormat::chatml: {
            if (!default_system_.empty() && (messages.empty() || messages[0].role != "system")) {
                T("<|im_start|>system\n");
                M(default_system_);
                T("<|im_end|>\n");
            }
            for (const auto& m : messages) {
                T("<|im_start|>");
                M(m.role);
                T("\n");
                M(m.content);
                T("<|im_end|>\n");
            }
            if (add_generation_prompt) T("<|im_start|>assistant\n");
            break;
        }
        case ChatFormat::llama3: {
            // Llama 3 (3.0) template: contents are trimmed; 3.1's date-stamped system header is not
            // reproduced.
            T("<|begin_of_text|>");
            for (const auto& m : messages) {
                T("<|start_header_id|>");
                M(m.role);
                T("<|end_header_id|>\n\n");
                M(trim(m.content));
                T("<|eot_id|>");
            }
            if (add_generation_prompt) T("<|start_header_id|>assistant<|end_header_id|>\n\n");
            break;
        }
        case ChatFormat::mistral: {
            // Mistral Instruct: "<s>[INST] user [/INST]answer</s>[INST] ...". It has no system role; a system
            // message is prefixed to the next user turn (as Mistral's later templates do).
            T("<s>");
            std::string system;
            bool system_pending = false;
            for (const auto& m : messages) {
                if (m.role == "system") {
                    system = m.content;
                    system_pending = true;
                } else if (m.role == "user") {
                    T("[INST] ");
                    if (system_pending) {
                        M(system);
                        T("\n\n");
                    }
                    M(m.content);
                    T(" [/INST]");
                    system_pending = false;
                } else {
                    M(m.content);
                    T("</s>");
                }
            }
            break;
        }
        case ChatFormat::llama2: {
            // Llama 2 chat: every user turn opens with <s>; the system prompt sits inside the first [INST].
            std::string system;
            bool system_pending = false;
            for (const auto& m : messages) {
                if (m.role == "system") {
                    system = trim(m.content);
                    system_pending = true;
                } else if (m.role == "user") {
                    T("<s>[INST] ");
                    if (system_pending) {
                        T("<<SYS>>\n");
                        M(system);
                        T("\n<</SYS>>\n\n");
                    }
                    M(trim(m.content));
                    T(" [/INST]");
                    system_pending = false;
                } else {
                    T(" ");
                    M(trim(m.content));
                    T(" </s>");
                }
            }
            break;
        }
    }
    return out;
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    std::string out;
    for (const auto& s : apply_segments(messages, add_generation_prompt)) out += s.text;
    return out;
}

Result<std::vector<TokenId>> encode_chat(const Tokenizer& tok, const ChatTemplate& tmpl,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) {
    const auto segs = tmpl.apply_segments(messages, add_generation_prompt);
    std::vector<TextSegment> parts;
    parts.reserve(segs.size());
    for (const auto& s : segs) parts.push_back({s.text, s.is_template});
    return tok.try_encode_segments(parts, /*add_special=*/false);
}

}  // namespace docket

#include "kv/prompt_frame.h"

#include <fmt/format.h>

namespace docket::kv {
namespace {

// Short, exact answers score and read better than chatty ones, and a small model follows a plain rule best.
constexpr const char* kSystemPrompt =
    "You are Docket, an assistant that answers questions about legal documents. Use only the documents "
    "given. Answer briefly and exactly, quoting the documents' own words where you can. If the documents do "
    "not contain the answer, say \"Not found in the documents.\"";
constexpr const char* kDocumentsHeading = "Documents:\n\n";
constexpr const char* kAnswerRule = "Answer in a few words, quoting the documents.";
// Stands for the user message while the template is split into what comes before and after it.
constexpr const char* kMark = "\x1f" "DOCKET-USER-MESSAGE" "\x1f";

std::vector<TextSegment> as_text_segments(const std::vector<ChatSegment>& segs) {
    std::vector<TextSegment> out;
    out.reserve(segs.size());
    for (const ChatSegment& s : segs) out.push_back({s.text, s.is_template});
    return out;
}

}  // namespace

Result<PromptFrame> PromptFrame::create(const Tokenizer& tok, const GgufFile& gguf) {
    PromptFrame f;
    f.tok_ = &tok;
    std::vector<ChatSegment> head;
    bool add_special = false;
    if (auto tmpl = ChatTemplate::from_gguf(gguf); tmpl) {
        bool after = false;
        for (ChatSegment& s : tmpl->apply_segments({{"system", kSystemPrompt}, {"user", kMark}}, true)) {
            if (!s.is_template && s.text == kMark) {
                after = true;
                continue;
            }
            (after ? f.tail_ : head).push_back(std::move(s));
        }
        if (!after) return make_error(ErrorCode::internal, "chat template dropped the user message");
    } else {
        // No recognized template: plain text framing after the model's own BOS.
        add_special = true;
        head.push_back({std::string(kSystemPrompt) + "\n\n", false});
        f.tail_.push_back({"\nAnswer: ", false});
    }
    head.push_back({kDocumentsHeading, false});
    f.prefix_ = tok.encode_segments(as_text_segments(head), add_special);
    if (tok.info().add_eos && !f.prefix_.empty() && f.prefix_.back() == tok.info().eos) f.prefix_.pop_back();
    f.prefix_hash_ = hash_tokens(f.prefix_);
    return f;
}

std::string PromptFrame::segment_header(const std::string& title, int ordinal) {
    return fmt::format("[{}, part {}]\n", title, ordinal + 1);
}

std::vector<TokenId> PromptFrame::segment_tokens(const std::string& title, int ordinal, const std::string& text,
                                                 size_t* header_bytes) const {
    const std::string header = segment_header(title, ordinal);
    if (header_bytes) *header_bytes = header.size();
    return tok_->encode(header + text + "\n\n", /*add_special=*/false, /*parse_special=*/false);
}

std::vector<TokenId> PromptFrame::question_tokens(const std::string& question) const {
    std::vector<ChatSegment> segs;
    segs.push_back({fmt::format("Question: {}\n{}", question, kAnswerRule), false});
    segs.insert(segs.end(), tail_.begin(), tail_.end());
    return tok_->encode_segments(as_text_segments(segs), /*add_special=*/false);
}

Hash128 PromptFrame::hash_tokens(const std::vector<TokenId>& ids) {
    return hash128(ids.data(), ids.size() * sizeof(TokenId), /*seed=*/0x646f636b6574);
}

}  // namespace docket::kv

// Tokenizer entry points shared by both kinds: construction from GGUF metadata, decoding, streaming decoding.
#include "model/tokenizer.h"

#include "model/tokenizer_bpe.h"
#include "model/tokenizer_spm.h"
#include "model/tokenizer_unicode.h"

namespace docket {

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& gguf) {
    auto model = gguf.get_string("tokenizer.ggml.model");
    if (!model) return model.status().with_context(gguf.name());
    Result<std::unique_ptr<Tokenizer>> t = Status(ErrorCode::internal, "unset");
    if (*model == "gpt2") {
        t = tok::BpeTokenizer::load(gguf);
    } else if (*model == "llama") {
        t = tok::SpmTokenizer::load(gguf);
    } else {
        return make_error(
            ErrorCode::unsupported,
            "{}: tokenizer.ggml.model '{}' is not supported (byte-level BPE 'gpt2' and SentencePiece "
            "'llama' are)",
            gguf.name(), *model);
    }
    if (!t) return t.status();
    return t;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool render_special) const {
    std::string out;
    bool strip_space = info_.kind == TokenizerKind::spm && info_.add_space_prefix;
    for (TokenId id : ids) {
        std::string piece = token_to_piece(id, render_special);
        if (is_control(id)) {
            strip_space = info_.kind == TokenizerKind::spm && info_.add_space_prefix;
        } else {
            if (strip_space && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
            strip_space = false;
        }
        out += piece;
    }
    return out;
}

std::string StreamingDecoder::push(TokenId id) {
    pending_ += tok_.token_to_piece(id, /*render_special=*/false);
    const size_t n = tok::utf8_complete_prefix(pending_);
    std::string ready = tok::utf8_sanitize(std::string_view(pending_).substr(0, n));
    pending_.erase(0, n);
    return ready;
}

std::string StreamingDecoder::flush() {
    std::string rest = tok::utf8_sanitize(pending_);
    pending_.clear();
    return rest;
}

}  // namespace docket

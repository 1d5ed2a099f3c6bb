// Tokenizer entry points shared by both kinds: construction from GGUF metadata, decoding, streaming decoding.
#include "model/tokenizer.h"

#include <new>
#include <stdexcept>

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

namespace {
template <typename F>
Result<std::vector<TokenId>> encode_as_value(size_t bytes, F&& encode) {
    try {
        return encode();
    } catch (const std::bad_alloc&) {
        return make_error(ErrorCode::out_of_memory, "tokenizing {} bytes of text ran out of memory", bytes);
    } catch (const std::length_error&) {
        return make_error(ErrorCode::out_of_memory, "tokenizing {} bytes of text ran out of memory", bytes);
    }
}
}  // namespace

Result<std::vector<TokenId>> Tokenizer::try_encode(std::string_view text, bool add_special,
                                                   bool parse_special) const {
    return encode_as_value(text.size(), [&] { return encode(text, add_special, parse_special); });
}

Result<std::vector<TokenId>> Tokenizer::try_encode_segments(std::span<const TextSegment> segments,
                                                            bool add_special) const {
    size_t bytes = 0;
    for (const auto& s : segments) bytes += s.text.size();
    return encode_as_value(bytes, [&] { return encode_segments(segments, add_special); });
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

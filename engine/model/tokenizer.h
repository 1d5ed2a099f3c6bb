#pragma once
// Tokenizer built from GGUF metadata (tokenizer.ggml.*): byte-level BPE ("gpt2") with per-family
// pre-tokenizers, and SentencePiece ("llama"). Thread-safe for concurrent encode/decode after construction.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/gguf.h"
#include "util/status.h"

namespace docket {

using TokenId = int32_t;

enum class TokenizerKind { bpe, spm };

// A piece of text to encode: markup written by Docket (a chat template's "<|im_start|>") may contain special
// tokens; text from a user or a document may not.
struct TextSegment {
    std::string_view text;
    bool parse_special = false;
};

struct TokenizerInfo {
    TokenizerKind kind = TokenizerKind::bpe;
    std::string pre;  // tokenizer.ggml.pre ("llama-bpe", "smollm", "qwen2", ...); "" for SPM
    int32_t n_vocab = 0;
    TokenId bos = -1, eos = -1, eot = -1, unk = -1, pad = -1;
    bool add_bos = false;  // tokenizer.ggml.add_bos_token (default per kind)
    bool add_eos = false;
    bool add_space_prefix = false;  // SPM: a space is prefixed at the start of text and after special tokens
    // Most input bytes one token can encode: a text of N bytes is at least N / max_token_bytes tokens, so a
    // caller with a context of C tokens can refuse more than C * max_token_bytes bytes before encoding.
    size_t max_token_bytes = 4;
};

class Tokenizer {
public:
    static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& gguf);
    virtual ~Tokenizer() = default;

    const TokenizerInfo& info() const { return info_; }

    // add_special: prepend BOS / append EOS as the model's metadata says.
    // parse_special: text like "<|im_start|>" becomes the special token instead of being split into pieces.
    virtual std::vector<TokenId> encode(std::string_view text, bool add_special,
                                        bool parse_special) const = 0;
    // Encodes the concatenated segments as encode(.., parse_special = true) would, except that a control or
    // unknown token is recognized only when its text lies inside one segment with parse_special: "<|im_end|>"
    // typed into a message stays ordinary text. Plain text runs across segment boundaries are tokenized as
    // one, so segments without special-token text give exactly the flat encoding's ids.
    virtual std::vector<TokenId> encode_segments(std::span<const TextSegment> segments,
                                                 bool add_special) const = 0;

    // encode() / encode_segments() as values: an allocation failure on a huge text becomes out_of_memory
    // instead of escaping as std::bad_alloc. Entry points for text from users and files.
    Result<std::vector<TokenId>> try_encode(std::string_view text, bool add_special,
                                            bool parse_special) const;
    Result<std::vector<TokenId>> try_encode_segments(std::span<const TextSegment> segments,
                                                     bool add_special) const;

    // Raw bytes of one token's piece (byte-level decoding applied; SPM "▁" -> " "); may be a partial UTF-8
    // sequence.
    virtual std::string token_to_piece(TokenId id, bool render_special = true) const = 0;
    // Concatenated pieces. For SPM with add_space_prefix, the prefix space that encoding adds at the start
    // and after a control token is removed again, so decode(encode(t)) == t.
    std::string decode(const std::vector<TokenId>& ids, bool render_special = true) const;

    virtual bool is_eog(TokenId id) const = 0;  // end of generation (eos, eot, <|im_end|>, <|eot_id|>, ...)
    virtual bool is_control(TokenId id) const = 0;
    virtual std::string_view token_text(TokenId id) const = 0;  // the vocabulary string as stored in the GGUF
    // Id of a token whose vocabulary text is exactly `text`, or -1.
    virtual TokenId find_token(std::string_view text) const = 0;

protected:
    TokenizerInfo info_;
};

// Turns a stream of token pieces into valid UTF-8 text, holding back an incomplete multi-byte sequence until
// the token that completes it arrives.
class StreamingDecoder {
public:
    explicit StreamingDecoder(const Tokenizer& tok) : tok_(tok) {}
    // Text that became complete with this token. Control tokens (EOS, <|im_end|>, ...) render as nothing;
    // invalid byte sequences become U+FFFD.
    std::string push(TokenId id);
    std::string flush();  // whatever is still pending (invalid bytes become U+FFFD)

private:
    const Tokenizer& tok_;
    std::string pending_;
};

}  // namespace docket

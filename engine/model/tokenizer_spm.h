#pragma once
// Internal: SentencePiece BPE tokenizer ("llama" tokenizer model).
#include <array>
#include <memory>

#include "model/tokenizer_vocab.h"

namespace docket::tok {

class SpmTokenizer final : public VocabTokenizer {
public:
    static Result<std::unique_ptr<Tokenizer>> load(const GgufFile& gguf);

protected:
    void encode_text(std::string_view text, bool after_special, std::vector<TokenId>& out) const override;
    std::string normal_piece(std::string_view text) const override;

private:
    std::array<TokenId, 256> byte_token_{};  // <0xXX> token of each byte (or the byte's own token, or <unk>)
};

}  // namespace docket::tok

#pragma once
// Internal: what the BPE and SentencePiece tokenizers share — the vocabulary read from tokenizer.ggml.*,
// token attributes, special-token splitting, pieces for decoding and the end-of-generation set.
#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/gguf.h"
#include "model/tokenizer.h"

namespace docket::tok {

// Token attributes (tokenizer.ggml.token_type values 1..6 map to the first six bits).
enum TokenAttr : uint16_t {
    kAttrNormal = 1 << 0,
    kAttrUnknown = 1 << 1,
    kAttrControl = 1 << 2,
    kAttrUserDefined = 1 << 3,
    kAttrUnused = 1 << 4,
    kAttrByte = 1 << 5,
    kAttrUndefined = 1 << 6,
    kAttrLstrip = 1 << 7,  // whitespace before the token is dropped when it is split out of text
    kAttrRstrip = 1 << 8,  // whitespace after it is dropped
};

class VocabTokenizer : public Tokenizer {
public:
    std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const override;
    std::vector<TokenId> encode_segments(std::span<const TextSegment> segments,
                                         bool add_special) const override;
    std::string token_to_piece(TokenId id, bool render_special = true) const override;
    bool is_eog(TokenId id) const override { return eog_.count(id) != 0; }
    bool is_control(TokenId id) const override { return valid(id) && (attr_[id] & kAttrControl); }
    std::string_view token_text(TokenId id) const override {
        return valid(id) ? std::string_view(text_[id]) : std::string_view();
    }
    TokenId find_token(std::string_view text) const override;

    uint16_t attr(TokenId id) const { return valid(id) ? attr_[id] : 0; }

protected:
    // Reads tokens, scores, token types, special ids and flags common to both kinds; kind-specific defaults
    // (special ids, add_bos) must be set in info_ before calling.
    Status load_common(const GgufFile& gguf);
    // Encodes one run of plain text (no special tokens in it). `after_special`: the previous fragment was a
    // special token or this is the start of the text (SentencePiece adds its space prefix there).
    virtual void encode_text(std::string_view text, bool after_special, std::vector<TokenId>& out) const = 0;
    // Decoded bytes of a normal token's vocabulary text.
    virtual std::string normal_piece(std::string_view text) const = 0;
    void finish_load();  // piece cache, special-token index, EOG set; after the subclass is ready
    // [begin, end) byte ranges of the text, sorted and disjoint, where control/unknown tokens may be split
    // out.
    struct SpecialRange {
        size_t begin, end;
    };
    std::vector<TokenId> encode_ranges(std::string_view text, bool add_special,
                                       std::span<const SpecialRange> special) const;

    bool valid(TokenId id) const { return id >= 0 && id < static_cast<TokenId>(text_.size()); }
    TokenId lookup(std::string_view s) const {
        auto it = to_id_.find(s);
        return it == to_id_.end() ? -1 : it->second;
    }

    std::vector<std::string> text_;
    std::vector<float> score_;
    std::vector<uint16_t> attr_;
    std::unordered_map<std::string_view, TokenId> to_id_;  // views into text_
    std::string model_name_;  // general.name, lower-cased (a few per-model token attributes depend on it)

private:
    std::vector<std::string> piece_;  // token_to_piece(id, true)
    std::unordered_set<TokenId> eog_;
    // Special tokens by first byte, longest first, for the leftmost-longest scan over input text.
    std::array<std::vector<TokenId>, 256> special_by_byte_;
};

}  // namespace docket::tok

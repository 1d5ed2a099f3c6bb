#include "model/tokenizer_vocab.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>

#include "util/log.h"

namespace docket::tok {
namespace {

uint16_t attr_from_type(int64_t t) {
    switch (t) {
        case 1:
            return kAttrNormal;
        case 2:
            return kAttrUnknown;
        case 3:
            return kAttrControl;
        case 4:
            return kAttrUserDefined;
        case 5:
            return kAttrUnused;
        case 6:
            return kAttrByte;
        default:
            return kAttrUndefined;
    }
}

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Parses "<0xAB>"; -1 if `s` is not of that form.
int parse_byte_token(std::string_view s) {
    if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
    int v = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = s[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

}  // namespace

Status VocabTokenizer::load_common(const GgufFile& g) {
    auto tokens = g.get_string_array("tokenizer.ggml.tokens");
    if (!tokens) return tokens.status().with_context(g.name());
    const size_t n = tokens->size();
    if (n == 0 || n > static_cast<size_t>(INT32_MAX / 2))
        return make_error(ErrorCode::corrupt_data, "{}: tokenizer.ggml.tokens: unusable vocabulary size {}",
                          g.name(), n);

    text_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        text_[i] = std::string((*tokens)[i]);
        if (text_[i].empty())
            text_[i] = fmt::format("[EMPTY_{}]", i);  // unmatchable placeholder, as llama.cpp
    }

    score_.assign(n, 0.0f);
    if (g.find("tokenizer.ggml.scores")) {
        auto scores = g.get_f32_array("tokenizer.ggml.scores");
        if (!scores) return scores.status().with_context(g.name());
        if (scores->size() < n)
            return make_error(ErrorCode::corrupt_data,
                              "{}: tokenizer.ggml.scores has {} entries for {} tokens", g.name(),
                              scores->size(), n);
        std::copy_n(scores->begin(), n, score_.begin());
    }

    attr_.assign(n, kAttrNormal);
    if (g.find("tokenizer.ggml.token_type")) {
        auto types = g.get_int_array("tokenizer.ggml.token_type");
        if (!types) return types.status().with_context(g.name());
        if (types->size() < n)
            return make_error(ErrorCode::corrupt_data,
                              "{}: tokenizer.ggml.token_type has {} entries for {} tokens", g.name(),
                              types->size(), n);
        for (size_t i = 0; i < n; ++i) attr_[i] = attr_from_type((*types)[i]);
    }

    to_id_.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        auto [it, inserted] = to_id_.emplace(std::string_view(text_[i]), static_cast<TokenId>(i));
        if (!inserted)
            return make_error(ErrorCode::corrupt_data,
                              "{}: tokenizer.ggml.tokens: duplicate token '{}' (ids {} and {})", g.name(),
                              text_[i], it->second, i);
    }

    info_.n_vocab = static_cast<int32_t>(n);
    auto read_id = [&](const char* key, TokenId& id) {
        if (id >= static_cast<TokenId>(n)) id = -1;  // a kind default that this vocabulary cannot hold
        if (!g.find(key)) return;
        auto v = g.get_uint(key);
        if (!v || *v >= n) {
            DK_LOG_WARN("{}: {} is not a valid token id; ignoring it", g.name(), key);
            return;
        }
        id = static_cast<TokenId>(*v);
    };
    read_id("tokenizer.ggml.bos_token_id", info_.bos);
    read_id("tokenizer.ggml.eos_token_id", info_.eos);
    read_id("tokenizer.ggml.eot_token_id", info_.eot);
    read_id("tokenizer.ggml.unknown_token_id", info_.unk);
    read_id("tokenizer.ggml.padding_token_id", info_.pad);
    TokenId eom = -1;
    read_id("tokenizer.ggml.eom_token_id", eom);
    if (eom >= 0) eog_.insert(eom);

    info_.add_bos = g.get_bool_or("tokenizer.ggml.add_bos_token", info_.add_bos);
    info_.add_eos = g.get_bool_or("tokenizer.ggml.add_eos_token", info_.add_eos);
    info_.add_space_prefix = g.get_bool_or("tokenizer.ggml.add_space_prefix", info_.add_space_prefix);
    if (info_.add_bos && info_.bos < 0)
        return make_error(ErrorCode::corrupt_data,
                          "{}: tokenizer.ggml.add_bos_token is true but there is no BOS id", g.name());
    if (info_.add_eos && info_.eos < 0)
        return make_error(ErrorCode::corrupt_data,
                          "{}: tokenizer.ggml.add_eos_token is true but there is no EOS id", g.name());

    model_name_ = g.get_string_or("general.name", "");
    std::transform(model_name_.begin(), model_name_.end(), model_name_.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return Status::ok();
}

void VocabTokenizer::finish_load() {
    const TokenId n = static_cast<TokenId>(text_.size());

    // End-of-turn tokens are recognized by their text (GGUF metadata rarely lists them all); like llama.cpp,
    // they are treated as control tokens from here on.
    static constexpr std::string_view kEotTexts[] = {"<|eot_id|>",
                                                     "<|im_end|>",
                                                     "<|end|>",
                                                     "<end_of_turn>",
                                                     "<|endoftext|>",
                                                     "<|end_of_text|>",
                                                     "<EOT>",
                                                     "<\xef\xbd\x9c"
                                                     "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                                     "<end_of_utterance>"};
    static constexpr std::string_view kEogOnly[] = {"</s>", "<|eom_id|>"};
    for (auto t : kEotTexts) {
        const TokenId id = lookup(t);
        if (id < 0) continue;
        if (info_.eot < 0) info_.eot = id;
        eog_.insert(id);
        attr_[id] |= kAttrControl;
    }
    for (auto t : kEogOnly) {
        const TokenId id = lookup(t);
        if (id < 0) continue;
        eog_.insert(id);
        attr_[id] |= kAttrControl;
    }
    if (info_.eos >= 0) eog_.insert(info_.eos);
    if (info_.eot >= 0) eog_.insert(info_.eot);

    // Phi-3's added tokens swallow the whitespace after them (its tokenizer.json says rstrip); the GGUF
    // cannot say.
    const bool phi3 =
        model_name_.find("phi-3") != std::string::npos || model_name_.find("phi3") != std::string::npos;

    std::vector<TokenId> specials;
    for (TokenId id = 0; id < n; ++id)
        if (attr_[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) specials.push_back(id);
    if (phi3) {
        for (TokenId id : specials) attr_[id] |= kAttrRstrip;
        if (TokenId id = lookup("</s>"); id >= 0) attr_[id] |= kAttrRstrip;
        for (auto t : {"<unk>", "<s>", "<|endoftext|>"})
            if (TokenId id = lookup(t); id >= 0) attr_[id] &= static_cast<uint16_t>(~kAttrRstrip);
    }
    std::stable_sort(specials.begin(), specials.end(),
                     [&](TokenId a, TokenId b) { return text_[a].size() > text_[b].size(); });
    for (TokenId id : specials) special_by_byte_[static_cast<uint8_t>(text_[id][0])].push_back(id);

    piece_.resize(text_.size());
    for (TokenId id = 0; id < n; ++id) {
        const uint16_t a = attr_[id];
        if (a & (kAttrControl | kAttrUnknown | kAttrUserDefined)) {
            piece_[id] = text_[id];
        } else if (a & kAttrNormal) {
            piece_[id] = normal_piece(text_[id]);
        } else if (a & kAttrByte) {
            const int b = parse_byte_token(text_[id]);
            piece_[id] = b >= 0 ? std::string(1, static_cast<char>(b)) : text_[id];
        }  // unused / undefined tokens render as nothing
    }
    // Input bytes one token can stand for: its vocabulary text is never shorter than what it encodes (byte-
    // level BPE writes a byte as 1-2 bytes of text, SentencePiece a space as 3); an unknown character is at
    // most 4 bytes.
    info_.max_token_bytes = 4;
    for (const auto& t : text_) info_.max_token_bytes = std::max(info_.max_token_bytes, t.size());
}

TokenId VocabTokenizer::find_token(std::string_view text) const {
    return lookup(text);
}

std::string VocabTokenizer::token_to_piece(TokenId id, bool render_special) const {
    if (!valid(id)) return {};
    if (!render_special && (attr_[id] & (kAttrControl | kAttrUnknown))) return {};
    return piece_[id];
}

std::vector<TokenId> VocabTokenizer::encode(std::string_view text, bool add_special,
                                            bool parse_special) const {
    const SpecialRange all{0, text.size()};
    return encode_ranges(text, add_special,
                         parse_special ? std::span(&all, 1) : std::span<const SpecialRange>());
}

std::vector<TokenId> VocabTokenizer::encode_segments(std::span<const TextSegment> segments,
                                                     bool add_special) const {
    std::string text;
    std::vector<SpecialRange> special;
    for (const auto& s : segments) {
        if (s.parse_special && !s.text.empty()) special.push_back({text.size(), text.size() + s.text.size()});
        text.append(s.text);
    }
    return encode_ranges(text, add_special, special);
}

std::vector<TokenId> VocabTokenizer::encode_ranges(std::string_view text, bool add_special,
                                                   std::span<const SpecialRange> special) const {
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && info_.add_bos && info_.bos >= 0) out.push_back(info_.bos);

    // Special tokens are split out first, leftmost-longest (as HF's added-vocabulary matcher). Outside the
    // `special` ranges only user-defined tokens are (HF and llama.cpp split those regardless).
    bool after_special = true;
    size_t frag = 0;
    auto flush = [&](size_t end) {
        if (end > frag) {
            encode_text(text.substr(frag, end - frag), after_special, out);
            after_special = false;
        }
    };
    size_t i = 0, r = 0;
    const size_t n = text.size();
    while (i < n) {
        const auto& cands = special_by_byte_[static_cast<uint8_t>(text[i])];
        TokenId hit = -1;
        while (r < special.size() && special[r].end <= i) ++r;
        // A control token must start and end inside one range.
        const size_t control_end = (r < special.size() && special[r].begin <= i) ? special[r].end : 0;
        for (TokenId id : cands) {
            if ((attr_[id] & (kAttrControl | kAttrUnknown)) && i + text_[id].size() > control_end) continue;
            if (text.compare(i, text_[id].size(), text_[id]) == 0) {
                hit = id;
                break;
            }
        }
        if (hit < 0) {
            ++i;
            continue;
        }
        size_t left_end = i;
        if (attr_[hit] & kAttrLstrip)
            while (left_end > frag && is_space(text[left_end - 1])) --left_end;
        flush(left_end);
        out.push_back(hit);
        after_special = true;
        i += text_[hit].size();
        if (attr_[hit] & kAttrRstrip)
            while (i < n && is_space(text[i])) ++i;
        frag = i;
    }
    flush(n);

    if (add_special && info_.add_eos && info_.eos >= 0) out.push_back(info_.eos);
    return out;
}

}  // namespace docket::tok

// SentencePiece BPE ("llama" tokenizer model: Llama 2, Mistral, Phi-3): spaces become U+2581, a space is
// prefixed at the start of text and after special tokens, adjacent symbols are merged by the score of the
// token they form (highest first, leftmost on ties), and what no token covers falls back to <0xXX> bytes.
#include "model/tokenizer_spm.h"

#include <queue>

#include "model/tokenizer_unicode.h"

namespace docket::tok {
namespace {

constexpr std::string_view kSpace = "\xe2\x96\x81";  // U+2581

}  // namespace

Result<std::unique_ptr<Tokenizer>> SpmTokenizer::load(const GgufFile& g) {
    std::unique_ptr<SpmTokenizer> t(new SpmTokenizer());
    t->info_.kind = TokenizerKind::spm;
    t->info_.pre = "";
    // SentencePiece defaults (Llama): <unk>=0, <s>=1, </s>=2, BOS added, space prefix on.
    t->info_.unk = 0;
    t->info_.bos = 1;
    t->info_.eos = 2;
    t->info_.add_bos = true;
    t->info_.add_space_prefix = true;
    DK_TRY(t->load_common(g));
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
        TokenId id = t->lookup(std::string_view(name, sizeof(name)));
        if (id < 0) {
            const char c = static_cast<char>(b);
            id = t->lookup(std::string_view(&c, 1));
        }
        t->byte_token_[b] = id >= 0 ? id : t->info_.unk;
    }
    t->finish_load();
    return std::unique_ptr<Tokenizer>(std::move(t));
}

void SpmTokenizer::encode_text(std::string_view text, bool after_special, std::vector<TokenId>& out) const {
    std::string s;
    s.reserve(text.size() + 8);
    if (info_.add_space_prefix && after_special) s.append(kSpace);
    for (char c : text) {
        if (c == ' ') {
            s.append(kSpace);
        } else {
            s += c;
        }
    }
    if (s.empty()) return;

    struct Sym {
        int32_t prev, next;
        uint32_t off, n;
    };
    std::vector<Sym> syms;
    syms.reserve(s.size());
    for (size_t off = 0; off < s.size();) {
        const auto n =
            static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(s[off])), s.size() - off));
        const auto idx = static_cast<int32_t>(syms.size());
        syms.push_back({idx - 1, off + n == s.size() ? -1 : idx + 1, static_cast<uint32_t>(off), n});
        off += n;
    }

    struct Bigram {
        float score;
        int32_t left, right;
        uint32_t size;
    };
    auto worse = [](const Bigram& a, const Bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(worse)> q(worse);
    auto try_add = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        const uint32_t size = syms[l].n + syms[r].n;
        const TokenId id = lookup(std::string_view(s).substr(syms[l].off, size));
        // Only pieces SentencePiece itself would produce: control, byte and unused entries never form from
        // text.
        if (id < 0 || !(attr_[id] & (kAttrNormal | kAttrUserDefined))) return;
        q.push({score_[id], l, r, size});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);
    while (!q.empty()) {
        const Bigram b = q.top();
        q.pop();
        Sym& l = syms[b.left];
        Sym& r = syms[b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale: a side changed since
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    for (int32_t i = 0; i != -1; i = syms[i].next) {
        const std::string_view piece = std::string_view(s).substr(syms[i].off, syms[i].n);
        if (TokenId id = lookup(piece); id >= 0) {
            out.push_back(id);
            continue;
        }
        for (char c : piece) {
            const TokenId bt = byte_token_[static_cast<uint8_t>(c)];
            if (bt >= 0) out.push_back(bt);
        }
    }
}

std::string SpmTokenizer::normal_piece(std::string_view text) const {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpace.size(), kSpace) == 0) {
            out += ' ';
            i += kSpace.size();
        } else {
            out += text[i++];
        }
    }
    return out;
}

}  // namespace docket::tok

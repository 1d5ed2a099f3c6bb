#include "model/tokenizer_bpe.h"

#include <climits>
#include <queue>

#include "model/tokenizer_unicode.h"
#include "util/log.h"

namespace docket::tok {
namespace {

// Below this many symbols a word is merged by rescanning a rank array (cache-friendly, no allocation); above
// it a heap keeps long runs (a megabyte of letters without a space) from going quadratic.
constexpr size_t kSmallWord = 128;

}  // namespace

void BpeTokenizer::MergeTable::init(size_t n_expected) {
    size_t cap = 16;
    while (cap < n_expected * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    vals_.assign(cap, Merge{});
    mask_ = cap - 1;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1) --shift_;
}

bool BpeTokenizer::MergeTable::insert(int32_t left, int32_t right, Merge m) {
    const uint64_t k = key(left, right);
    for (size_t s = slot(k);; s = (s + 1) & mask_) {
        if (keys_[s] == k) return false;
        if (keys_[s] == kEmpty) {
            keys_[s] = k;
            vals_[s] = m;
            return true;
        }
    }
}

const BpeTokenizer::Merge* BpeTokenizer::MergeTable::find(int32_t left, int32_t right) const {
    const uint64_t k = key(left, right);
    for (size_t s = slot(k);; s = (s + 1) & mask_) {
        if (keys_[s] == k) return &vals_[s];
        if (keys_[s] == kEmpty) return nullptr;
    }
}

int32_t BpeTokenizer::intern(std::string_view s) {
    if (TokenId id = lookup(s); id >= 0) return id;
    auto it = extra_ids_.find(std::string(s));
    if (it != extra_ids_.end()) return it->second;
    const auto id = static_cast<int32_t>(text_.size() + extra_.size());
    extra_.emplace_back(s);
    extra_ids_.emplace(std::string(s), id);
    return id;
}

Result<std::unique_ptr<Tokenizer>> BpeTokenizer::load(const GgufFile& g) {
    std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
    t->info_.kind = TokenizerKind::bpe;
    t->info_.pre = g.get_string_or("tokenizer.ggml.pre", "");
    DK_ASSIGN_OR_RETURN(PreFamily family, pre_family_for(t->info_.pre));
    t->info_.add_bos = family.add_bos;
    if (t->info_.pre.empty())
        DK_LOG_WARN(
            "{}: no tokenizer.ggml.pre; using the default pre-tokenizer (token splits may differ from "
            "the model's own tokenizer)",
            g.name());
    DK_TRY(t->load_common(g));
    DK_ASSIGN_OR_RETURN(t->pre_, PreTokenizer::create(family));

    auto merges = g.get_string_array("tokenizer.ggml.merges");
    if (!merges) return merges.status().with_context(g.name() + ": byte-level BPE needs merges");
    for (int b = 0; b < 256; ++b)
        t->byte_piece_[b] = t->intern(byte_to_unicode_utf8(static_cast<uint8_t>(b)));
    t->merges_.init(merges->size());
    for (size_t rank = 0; rank < merges->size(); ++rank) {
        const std::string_view m = (*merges)[rank];
        // "left right"; the separator is searched from offset 1 so a left part that is itself " " still
        // parses.
        const size_t sp = m.find(' ', 1);
        if (sp == std::string_view::npos || sp + 1 >= m.size()) {
            DK_LOG_WARN("{}: tokenizer.ggml.merges[{}] '{}' is not 'left right'; skipped", g.name(), rank, m);
            continue;
        }
        const std::string_view left = m.substr(0, sp), right = m.substr(sp + 1);
        const int32_t l = t->intern(left), r = t->intern(right);
        std::string joined;
        joined.reserve(left.size() + right.size());
        joined.append(left).append(right);
        const int32_t res = t->intern(joined);
        t->merges_.insert(l, r, Merge{static_cast<int32_t>(rank), res});  // the first (lowest) rank wins
    }
    t->finish_load();
    return std::unique_ptr<Tokenizer>(std::move(t));
}

void BpeTokenizer::bytes_to_pieces(std::string_view raw, std::vector<int32_t>& ids) const {
    ids.clear();
    ids.reserve(raw.size());
    for (char c : raw) ids.push_back(byte_piece_[static_cast<uint8_t>(c)]);
}

void BpeTokenizer::merge_word(std::vector<int32_t>& ids, bool force_heap) const {
    if (ids.size() < 2) return;
    if (force_heap || ids.size() > kSmallWord) {
        merge_heap(ids);
    } else {
        merge_small(ids);
    }
}

void BpeTokenizer::merge_small(std::vector<int32_t>& ids) const {
    // rank[i] / result[i]: the merge of ids[i] and ids[i+1], INT_MAX when there is none.
    int32_t rank[kSmallWord];
    int32_t result[kSmallWord];
    size_t m = ids.size();
    auto fill = [&](size_t i) {
        const Merge* mg = merges_.find(ids[i], ids[i + 1]);
        rank[i] = mg ? mg->rank : INT_MAX;
        result[i] = mg ? mg->result : -1;
    };
    for (size_t i = 0; i + 1 < m; ++i) fill(i);
    while (m > 1) {
        size_t best = 0;
        int32_t best_rank = rank[0];
        for (size_t i = 1; i + 1 < m; ++i)
            if (rank[i] < best_rank) {
                best_rank = rank[i];
                best = i;
            }
        if (best_rank == INT_MAX) break;
        ids[best] = result[best];
        for (size_t i = best + 1; i + 1 < m; ++i) ids[i] = ids[i + 1];
        for (size_t i = best + 1; i + 2 < m; ++i) {
            rank[i] = rank[i + 1];
            result[i] = result[i + 1];
        }
        --m;
        if (best > 0) fill(best - 1);
        if (best + 1 < m) fill(best);
    }
    ids.resize(m);
}

void BpeTokenizer::merge_heap(std::vector<int32_t>& ids) const {
    const auto n = static_cast<int32_t>(ids.size());
    std::vector<int32_t> prev(n), next(n);
    for (int32_t i = 0; i < n; ++i) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Cand {
        int32_t rank, left, right, left_id, right_id;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
    auto push = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        if (const Merge* mg = merges_.find(ids[l], ids[r])) q.push({mg->rank, l, r, ids[l], ids[r]});
    };
    std::vector<char> alive(n, 1);
    for (int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);
    while (!q.empty()) {
        const Cand c = q.top();
        q.pop();
        // Stale entries: a side was merged away or changed since the candidate was queued.
        if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right || ids[c.left] != c.left_id ||
            ids[c.right] != c.right_id)
            continue;
        ids[c.left] = merges_.find(c.left_id, c.right_id)->result;
        alive[c.right] = 0;
        next[c.left] = next[c.right];
        if (next[c.right] >= 0) prev[next[c.right]] = c.left;
        push(prev[c.left], c.left);
        push(c.left, next[c.left]);
    }
    size_t w = 0;
    for (int32_t i = 0; i != -1; i = next[i]) ids[w++] = ids[i];
    ids.resize(w);
}

void BpeTokenizer::emit_piece(int32_t piece, std::vector<TokenId>& out) const {
    if (piece < static_cast<int32_t>(text_.size())) {
        out.push_back(piece);
        return;
    }
    // A merge produced a string that is not a token (or a byte has no alphabet token): fall back to its
    // single-character tokens, as llama.cpp does.
    const std::string& s = extra_[piece - text_.size()];
    for (char c : s) {
        if (TokenId id = lookup(std::string_view(&c, 1)); id >= 0) {
            out.push_back(id);
        } else if (!warned_unencodable_.exchange(true)) {
            // E.g. byte 0xFF, which never occurs in UTF-8, has no token in many vocabularies: HF drops it
            // too.
            DK_LOG_WARN(
                "tokenizer: text holds bytes this vocabulary cannot encode (no token for '{}'); they are "
                "dropped (reported once)",
                s);
        }
    }
}

void BpeTokenizer::encode_text(std::string_view text, bool /*after_special*/,
                               std::vector<TokenId>& out) const {
    std::vector<Piece> pieces;
    pre_->split(text, pieces);
    std::vector<int32_t> ids;
    const bool ignore_merges = pre_->family().ignore_merges;
    for (const Piece& p : pieces) {
        const std::string_view word = text.substr(p.begin, p.len);
        if (ignore_merges) {
            if (TokenId id = lookup(byte_level_encode(word)); id >= 0) {
                out.push_back(id);
                continue;
            }
        }
        bytes_to_pieces(word, ids);
        merge_word(ids);
        for (int32_t id : ids) emit_piece(id, out);
    }
}

std::string BpeTokenizer::normal_piece(std::string_view text) const {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        uint32_t cp = 0;
        const size_t n = utf8_decode(text, i, cp);
        if (n == 0) {  // not UTF-8: keep the byte
            out += text[i++];
            continue;
        }
        const int b = unicode_to_byte(cp);
        if (b >= 0) {
            out += static_cast<char>(b);
        } else {
            out.append(text.substr(i, n));  // outside the byte alphabet: keep the character itself
        }
        i += n;
    }
    return out;
}

}  // namespace docket::tok

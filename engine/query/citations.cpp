#include "query/citations.h"

#include <algorithm>
#include <numeric>

#include "format/kv_page.h"

namespace docket::query {
namespace {

bool is_sentence_end(const std::string& t, size_t i) {
    return (t[i] == '.' || t[i] == ';' || t[i] == '?' || t[i] == '!' || t[i] == '\n') &&
           (i + 1 >= t.size() || t[i + 1] == ' ' || t[i + 1] == '\n');
}

// Steps back from byte i to the start of its UTF-8 character.
size_t char_start(const std::string& t, size_t i) {
    while (i > 0 && i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) --i;
    return i;
}

// Byte offset in `text` where each token of the segment starts (the header's bytes taken off, clamped).
std::vector<size_t> token_offsets(const Tokenizer& tok, const std::vector<TokenId>& ids, size_t header,
                                  size_t text_len) {
    std::vector<size_t> off(ids.size() + 1);
    size_t at = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
        off[i] = std::min(text_len, at > header ? at - header : 0);
        at += tok.token_to_piece(ids[i], /*render_special=*/false).size();
    }
    off[ids.size()] = std::min(text_len, at > header ? at - header : 0);
    return off;
}

int line_at(const std::string& text, size_t offset, int first_line) {
    return first_line + static_cast<int>(std::count(text.begin(), text.begin() + std::min(offset, text.size()), '\n'));
}

CitationInfo cite_segment(const kv::Workspace& ws, const PlacedSegment& p, const std::vector<double>& mass,
                          double share, const CitationOptions& opt) {
    const store::SegmentRow& row = p.segment.row;
    size_t header = 0;
    const auto ids = ws.frame().segment_tokens(p.segment.title, row.ordinal, row.text, &header);
    const auto off = token_offsets(ws.tokenizer(), ids, header, row.text.size());
    // Only the text's own tokens: the header and the closing blank line draw attention as a segment's sinks
    // (it was prefilled alone), not as content.
    const int32_t n_all = std::min<int32_t>(p.n, static_cast<int32_t>(ids.size()));
    const size_t last = row.text.find_last_not_of(" \t\r\n");
    int32_t t0 = 0, n = n_all;
    while (t0 < n_all && off[t0] == 0 && off[t0 + 1] == 0) ++t0;
    while (n > t0 + 1 && last != std::string::npos && off[n - 1] > last) --n;
    // The most attended page-sized window (64 tokens) of the text.
    const int32_t w = std::min<int32_t>(kv_page::kTokens, n - t0);
    double run = 0.0, best = -1.0;
    int32_t best_at = t0;
    for (int32_t i = t0; i < n; ++i) {
        run += mass[p.first + i];
        if (i - t0 >= w) run -= mass[p.first + i - w];
        if (i - t0 >= w - 1 && run > best) {
            best = run;
            best_at = i - w + 1;
        }
    }
    // Inside that window, the sentence around its most attended token is the quote (a window's edges cut
    // sentences; its peak says which one the answer read).
    int32_t peak = best_at;
    for (int32_t i = best_at; i < best_at + w; ++i)
        if (mass[p.first + i] > mass[p.first + peak]) peak = i;
    const size_t b = off[peak], e = std::max(b, off[std::min<int32_t>(peak + 1, n)]);
    const auto [qb, qe] = widen_to_sentences(row.text, b, e, opt.max_quote_bytes);
    CitationInfo c;
    c.segment_id = row.id;
    c.document_id = row.document_id;
    c.document = p.segment.document;
    c.title = p.segment.title;
    c.ordinal = row.ordinal;
    c.quote = fold_whitespace(std::string_view(row.text).substr(qb, qe - qb));
    c.char_begin = row.char_begin + static_cast<int64_t>(qb);
    c.char_end = row.char_begin + static_cast<int64_t>(qe);
    c.line_begin = line_at(row.text, qb, row.line_begin);
    c.line_end = line_at(row.text, qe > qb ? qe - 1 : qe, row.line_begin);
    c.weight = share;
    return c;
}

}  // namespace

std::pair<size_t, size_t> widen_to_sentences(const std::string& text, size_t begin, size_t end,
                                             size_t max_bytes) {
    begin = std::min(begin, text.size());
    end = std::clamp(end, begin, text.size());
    size_t b = begin, e = end;
    while (b > 0 && !is_sentence_end(text, b - 1) && e - b < max_bytes) --b;
    while (e < text.size() && (e == 0 || !is_sentence_end(text, e - 1)) && e - b < max_bytes) ++e;
    return {char_start(text, b), char_start(text, e)};
}

std::string fold_whitespace(std::string_view t) {
    std::string out;
    bool space = false;
    for (const char ch : t) {
        if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += ch;
    }
    return out;
}

std::vector<CitationInfo> cite(const kv::Workspace& ws, const std::vector<PlacedSegment>& placed,
                               const std::vector<double>& mass, const CitationOptions& opt) {
    std::vector<double> per(placed.size(), 0.0);
    double total = 0.0;
    for (size_t i = 0; i < placed.size(); ++i) {
        const PlacedSegment& p = placed[i];
        for (int32_t r = p.first; r < p.first + p.n && r < static_cast<int32_t>(mass.size()); ++r) per[i] += mass[r];
        total += per[i];
    }
    std::vector<size_t> order(placed.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return per[a] > per[b]; });
    std::vector<CitationInfo> out;
    for (size_t i : order) {
        const double share = total > 0.0 ? per[i] / total : 0.0;
        // The most attended segment is always cited; the others when they drew a real share.
        if (!out.empty() && (share < opt.min_share || static_cast<int>(out.size()) >= opt.max_citations)) break;
        if (total <= 0.0 || static_cast<size_t>(placed[i].first + placed[i].n) > mass.size()) break;
        out.push_back(cite_segment(ws, placed[i], mass, share, opt));
    }
    return out;
}

}  // namespace docket::query

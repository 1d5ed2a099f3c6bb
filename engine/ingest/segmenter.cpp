#include "ingest/segmenter.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace docket::ingest {

namespace {

// A contiguous run of the text with its token count. Paragraph units cover [paragraph start, next
// paragraph start); pieces of an over-long paragraph subdivide that.
struct Piece {
    size_t begin = 0, end = 0;
    int64_t tokens = 0;
    bool heading_only = false;  // a paragraph of one Markdown heading line (plus the blank lines after it)
    bool blank = false;         // whitespace only
};

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool all_space(std::string_view s) {
    return std::all_of(s.begin(), s.end(), is_space);
}
bool is_continuation(char c) {
    return (static_cast<uint8_t>(c) & 0xC0) == 0x80;
}
bool is_sentence_end(char c) {
    return c == '.' || c == '?' || c == '!' || c == ';';
}

bool is_heading(std::string_view line) {
    size_t i = 0;
    while (i < 3 && i < line.size() && line[i] == ' ') ++i;
    size_t hashes = 0;
    while (i < line.size() && line[i] == '#') ++i, ++hashes;
    if (hashes < 1 || hashes > 6) return false;
    return i == line.size() || is_space(line[i]);
}

// Paragraph units: a paragraph starts at a non-blank line after a blank line (or the first one) and, with
// Markdown headings, at every heading line. The first unit starts at 0 so that leading whitespace is covered.
std::vector<Piece> find_paragraphs(const std::string& text, bool headings) {
    std::vector<Piece> out;
    bool prev_blank = true;
    for (size_t pos = 0; pos < text.size();) {
        const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
        const size_t end = nl ? size_t(static_cast<const char*>(nl) - text.data()) + 1 : text.size();
        const std::string_view line(text.data() + pos, end - pos);
        const bool blank = all_space(line);
        if (!blank) {
            const bool heading = headings && is_heading(line);
            if (prev_blank || heading) {
                if (!out.empty()) out.back().end = pos;
                out.push_back({out.empty() ? 0 : pos, text.size(), 0, heading, false});
            } else {
                out.back().heading_only = false;
            }
        }
        prev_blank = blank;
        pos = end;
    }
    return out;
}

enum class Level { lines, sentences, words, chars };

// Cuts an over-long range into pieces of at most max_tokens, trying each level in turn.
class Splitter {
public:
    Splitter(const std::string& text, const SegmenterOptions& opt, const TokenCounter& count,
             std::vector<Piece>& out)
        : text_(text), opt_(opt), count_(count), out_(out) {}

    int64_t count(size_t b, size_t e) const {
        return std::max<int64_t>(0, count_(std::string_view(text_.data() + b, e - b)));
    }

    // [b, e) counted `tokens` > max_tokens.
    Status split(size_t b, size_t e, int64_t tokens, Level level) {
        if (level >= Level::words) return split_estimated(b, e, tokens, level);
        const Level finer = Level(int(level) + 1);
        if (next_cut(b, e, level) >= e) return split(b, e, tokens, finer);
        for (size_t pos = b; pos < e;) {
            const size_t cut = next_cut(pos, e, level);
            const int64_t t = count(pos, cut);
            if (t <= opt_.max_tokens) {
                emit(pos, cut, t);
            } else {
                DK_TRY(split(pos, cut, t, finer));
            }
            pos = cut;
        }
        return Status::ok();
    }

private:
    void emit(size_t b, size_t e, int64_t tokens) {
        out_.push_back({b, e, tokens, false, all_space(std::string_view(text_.data() + b, e - b))});
    }

    // The first cut after `pos` at this level (a piece keeps the separator that ends it), or e.
    size_t next_cut(size_t pos, size_t e, Level level) const {
        const char* s = text_.data();
        switch (level) {
            case Level::lines: {
                const void* nl = std::memchr(s + pos, '\n', e - pos);
                return nl ? size_t(static_cast<const char*>(nl) - s) + 1 : e;
            }
            case Level::sentences:
                for (size_t i = pos; i + 1 < e; ++i)
                    if (is_sentence_end(s[i]) && s[i + 1] == ' ') return skip_spaces(i + 1, e);
                return e;
            case Level::words: {
                size_t i = pos;
                while (i < e && !is_space(s[i])) ++i;
                return skip_spaces(i, e);
            }
            case Level::chars:
                break;
        }
        return e;
    }

    size_t skip_spaces(size_t i, size_t e) const {
        while (i < e && is_space(text_[i])) ++i;
        return i;
    }

    // The last cut at or before `c` and after `pos` at this level (words: the end of a whitespace run;
    // chars: a UTF-8 character boundary), or `pos` if there is none. Invalid runs of continuation bytes may
    // be cut after three steps back: there is no character to keep whole there.
    size_t cut_before(size_t pos, size_t c, size_t e, Level level) const {
        if (level == Level::chars) {
            for (int back = 0; back < 3 && c > pos && is_continuation(text_[c]); ++back) --c;
            return c;
        }
        for (; c > pos; --c)
            if (is_space(text_[c - 1]) && (c == e || !is_space(text_[c]))) return c;
        return pos;
    }
    // The smallest piece starting at `pos` at this level: one word with its whitespace, or one character.
    size_t smallest_cut(size_t pos, size_t e, Level level) const {
        if (level == Level::words) return next_cut(pos, e, level);
        size_t c = pos + 1;
        for (int fwd = 0; fwd < 3 && c < e && is_continuation(text_[c]); ++fwd) ++c;
        return c;
    }

    // Words and characters: chunks of about target_tokens by the range's average density, snapped to the
    // level's cuts and halved while still over max_tokens, so that a long run of words costs a few counts per
    // segment rather than one per word. A single word over max_tokens goes down to characters; a single
    // character over max_tokens is an error.
    Status split_estimated(size_t b, size_t e, int64_t tokens, Level level) {
        const double bytes_per_token = double(e - b) / double(tokens);
        const size_t guess = std::max<size_t>(1, size_t(bytes_per_token * opt_.target_tokens));
        for (size_t pos = b; pos < e;) {
            const size_t smallest = smallest_cut(pos, e, level);
            size_t len = guess;
            while (true) {
                size_t cut = len >= e - pos ? e : cut_before(pos, pos + len, e, level);
                if (cut <= smallest) cut = smallest;
                const int64_t t = pos == b && cut == e ? tokens : count(pos, cut);
                if (t <= opt_.max_tokens) {
                    emit(pos, cut, t);
                    break;
                }
                if (cut > smallest) {
                    len = (cut - pos) / 2;
                    continue;
                }
                if (level == Level::chars)
                    return make_error(
                        ErrorCode::invalid_argument,
                        "segmenter: the character at byte {} counts {} tokens, over max_tokens {}", pos, t,
                        opt_.max_tokens);
                DK_TRY(split_estimated(pos, cut, t, Level::chars));
                break;
            }
            pos = out_.back().end;  // both ways out of the loop above end their pieces at `cut`
        }
        return Status::ok();
    }

    const std::string& text_;
    const SegmenterOptions& opt_;
    const TokenCounter& count_;
    std::vector<Piece>& out_;
};

struct Group {
    size_t first = 0, last = 0;  // piece indexes [first, last)
    int64_t tokens = 0;
    bool content = false;  // some piece is not whitespace-only
};

bool has_content(const std::vector<Piece>& pieces, size_t first, size_t last) {
    for (size_t i = first; i < last; ++i)
        if (!pieces[i].blank) return true;
    return false;
}

// Greedy packing: whole pieces while the group stays <= target; whitespace-only pieces (and pieces after a
// whitespace-only start) join while the group stays <= max; trailing headings move on with the next piece.
// has_content runs only when a group closes, so the whole pass stays linear in the number of pieces.
std::vector<Group> pack(const std::vector<Piece>& pieces, const SegmenterOptions& opt) {
    std::vector<Group> groups;
    Group cur;
    for (size_t i = 0; i < pieces.size(); ++i) {
        const Piece& p = pieces[i];
        const int64_t sum = cur.tokens + p.tokens;
        const bool blank_join = p.blank || !cur.content;
        if (cur.last == cur.first || sum <= opt.target_tokens || (blank_join && sum <= opt.max_tokens)) {
            if (cur.last == cur.first) cur.first = i;
            cur.last = i + 1;
            cur.tokens = sum;
            cur.content = cur.content || !p.blank;
            continue;
        }
        // The trailing run of heading-only paragraphs ("## A", "### B") moves on with p.
        size_t k = cur.last;
        int64_t heads = 0;
        while (opt.markdown_headings && k > cur.first && pieces[k - 1].heading_only)
            heads += pieces[--k].tokens;
        if (k < cur.last && heads + p.tokens <= opt.max_tokens && has_content(pieces, cur.first, k)) {
            groups.push_back({cur.first, k, cur.tokens - heads, true});
            cur = {k, i + 1, heads + p.tokens, true};
            continue;
        }
        groups.push_back(cur);
        cur = {i, i + 1, p.tokens, !p.blank};
    }
    if (cur.last > cur.first) groups.push_back(cur);
    return groups;
}

}  // namespace

Result<std::vector<Segment>> split_segments(const std::string& text, const SegmenterOptions& opt,
                                            const TokenCounter& count_tokens) {
    if (opt.target_tokens < 1 || opt.max_tokens < opt.target_tokens)
        return make_error(ErrorCode::invalid_argument,
                          "segmenter: need 1 <= target_tokens <= max_tokens (got target {}, max {})",
                          opt.target_tokens, opt.max_tokens);
    if (text.size() > size_t(std::numeric_limits<int>::max()))
        return make_error(ErrorCode::invalid_argument, "segmenter: text of {} bytes is over the 2 GiB limit",
                          text.size());
    std::vector<Piece> pieces;
    Splitter splitter(text, opt, count_tokens, pieces);
    for (Piece unit : find_paragraphs(text, opt.markdown_headings)) {
        unit.tokens = splitter.count(unit.begin, unit.end);
        if (unit.tokens <= opt.max_tokens) {
            pieces.push_back(unit);
        } else {
            DK_TRY(splitter.split(unit.begin, unit.end, unit.tokens, Level::lines));
        }
    }
    std::vector<Segment> segments;
    const std::vector<Group> groups = pack(pieces, opt);
    segments.reserve(groups.size());
    int line = 1;
    for (const Group& g : groups) {
        Segment s;
        s.ordinal = int(segments.size());
        s.char_begin = int64_t(pieces[g.first].begin);
        s.char_end = int64_t(pieces[g.last - 1].end);
        s.text = text.substr(size_t(s.char_begin), size_t(s.char_end - s.char_begin));
        s.tokens = g.tokens;
        s.line_begin = line;
        s.line_end = line + int(std::count(s.text.begin(), s.text.end() - 1, '\n'));
        line = s.line_end + (s.text.back() == '\n' ? 1 : 0);
        segments.push_back(std::move(s));
    }
    return segments;
}

}  // namespace docket::ingest

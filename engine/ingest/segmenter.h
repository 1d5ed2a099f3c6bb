#pragma once
// Splits a document's text into segments of about `target_tokens` at paragraph boundaries; each segment is
// prefilled and cached as one KV snapshot, so no segment may exceed `max_tokens`.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace docket::ingest {

struct Segment {
    int ordinal = 0;                       // 0, 1, 2, ... in document order
    int64_t char_begin = 0, char_end = 0;  // byte offsets into the text, [begin, end)
    int line_begin = 0, line_end = 0;      // 1-based, inclusive, lines of the first and the last byte
    std::string text;                      // == text.substr(char_begin, char_end - char_begin)
    int64_t tokens = 0;  // sum of the counter's counts of the pieces the segment was built from
};

struct SegmenterOptions {
    int target_tokens = 512;
    int max_tokens = 1024;
    // A line "# ..." to "###### ..." (up to three leading spaces) starts a paragraph, and a segment does not
    // end with a heading-only paragraph when the heading can move to the next one.
    bool markdown_headings = true;
};

using TokenCounter = std::function<int64_t(std::string_view)>;

// Segments cover `text` contiguously: the whitespace after a paragraph ends its segment, so the segments'
// texts concatenate to `text` exactly. Packing: whole paragraphs while the segment stays <= target_tokens; a
// paragraph over max_tokens is cut at line breaks, then sentence ends (". ", "? ", "! ", "; "), then
// whitespace, then UTF-8 character boundaries, and its pieces are packed the same way. A whitespace-only
// piece joins the segment before it (or after it, at the start) unless that would pass max_tokens. Text with
// no non-whitespace byte gives no segments. count_tokens is called once per paragraph, once per line or
// sentence of an over-long paragraph, and on chunks of about target_tokens (estimated from the paragraph's
// density) below that, so each byte is counted about twice, never once per word.
// Errors: target_tokens < 1 or max_tokens < target_tokens, text over 2 GiB, or a single character that
// the counter says is over max_tokens.
Result<std::vector<Segment>> split_segments(const std::string& text, const SegmenterOptions& opt,
                                            const TokenCounter& count_tokens);

}  // namespace docket::ingest

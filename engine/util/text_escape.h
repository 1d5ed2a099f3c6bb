#pragma once
// Untrusted text (GGUF metadata, token pieces, file names from a file) made safe to print on a terminal.
#include <string>
#include <string_view>

namespace docket {

// Control characters (C0, DEL, C1), bytes that are not valid UTF-8 and the bidirectional overrides that
// reorder a line (U+202A-202E, U+2066-2069) become visible escapes: "\n", "\t", "\r", "\e", "\0", "\x07",
// "\u{202e}". A backslash is doubled, so the escaped text reads back unambiguously; a NUL cannot cut a line
// and no escape sequence reaches the terminal. `as_text`: for text read as prose (messages, generated text)
// '\n' and '\t' pass through and a backslash is left single.
std::string escape_control(std::string_view s, bool as_text = false);

}  // namespace docket

#pragma once
// UTF-8 and GPT-2 byte-level helpers shared by the tokenizers. Everything here tolerates invalid UTF-8: the
// tokenizers must never crash on hostile bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace docket::tok {

// Length of the UTF-8 sequence announced by lead byte `c` (1 for ASCII, stray continuation and invalid
// bytes).
inline size_t utf8_len(uint8_t c) {
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF8) return 4;
    return 1;
}

// Decodes one well-formed code point at s[pos]; returns its byte length, or 0 if the bytes there are not a
// complete, valid (shortest-form, non-surrogate) sequence. `cp` is set only on success.
size_t utf8_decode(std::string_view s, size_t pos, uint32_t& cp);

void utf8_append(std::string& out, uint32_t cp);

// Length of the longest prefix of `s` that ends on a boundary where nothing is held back: a trailing
// incomplete-but-so-far-valid sequence is excluded (it may be completed by later bytes).
size_t utf8_complete_prefix(std::string_view s);

// Replaces every invalid byte sequence with U+FFFD.
std::string utf8_sanitize(std::string_view s);

// GPT-2 byte-level alphabet: each byte maps to one printable code point (bytes_to_unicode() of the original
// encoder). byte_to_unicode_utf8(b) is that code point as UTF-8; unicode_to_byte is the inverse (-1 if none).
const std::string& byte_to_unicode_utf8(uint8_t b);
int unicode_to_byte(uint32_t cp);

// Byte-level encoding of a whole string (every raw byte to its alphabet character).
std::string byte_level_encode(std::string_view raw);

}  // namespace docket::tok

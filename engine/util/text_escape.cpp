#include "util/text_escape.h"

#include <fmt/format.h>

#include <cstdint>

namespace docket {
namespace {

// Length of the valid UTF-8 sequence at s[i] (overlong forms and surrogates rejected), or 0.
size_t utf8_length(std::string_view s, size_t i, uint32_t* cp) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return 0;
    uint32_t v = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
        if ((b(k) & 0xC0) != 0x80) return 0;
        v = (v << 6) | (b(k) & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

bool is_bidi_control(uint32_t cp) {
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string escape_control(std::string_view s, bool as_text) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t len = utf8_length(s, i, &cp);
        if (len == 0) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
            ++i;
            continue;
        }
        if ((cp == '\n' || cp == '\t' || cp == '\\') && as_text) {
            out += static_cast<char>(cp);
        } else if (cp == '\\') {
            out += "\\\\";
        } else if (cp == '\n' || cp == '\t' || cp == '\r' || cp == 0x1B || cp == 0) {
            out += cp == '\n' ? "\\n" : cp == '\t' ? "\\t" : cp == '\r' ? "\\r" : cp == 0x1B ? "\\e" : "\\0";
        } else if (cp < 0x20 || cp == 0x7F) {
            out += fmt::format("\\x{:02x}", cp);
        } else if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {  // C1 controls: CSI is U+009B
            out += fmt::format("\\u{{{:04x}}}", cp);
        } else {
            out.append(s, i, len);
        }
        i += len;
    }
    return out;
}

}  // namespace docket

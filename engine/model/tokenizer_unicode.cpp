#include "model/tokenizer_unicode.h"

#include <array>

namespace docket::tok {

size_t utf8_decode(std::string_view s, size_t pos, uint32_t& cp) {
    if (pos >= s.size()) return 0;
    const auto b0 = static_cast<uint8_t>(s[pos]);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    const size_t n = utf8_len(b0);
    if (n == 1 || pos + n > s.size()) return 0;
    uint32_t c = b0 & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; ++i) {
        const auto b = static_cast<uint8_t>(s[pos + i]);
        if ((b & 0xC0) != 0x80) return 0;
        c = (c << 6) | (b & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    cp = c;
    return n;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

size_t utf8_complete_prefix(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
    const size_t n = s.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const auto b = static_cast<uint8_t>(s[n - back]);
        if ((b & 0xC0) == 0x80) continue;  // continuation: keep looking for the lead
        const size_t need = utf8_len(b);
        if (need > back && b >= 0xC2 && b <= 0xF4) {
            // Hold back only if the bytes so far are valid continuations.
            for (size_t i = n - back + 1; i < n; ++i)
                if ((static_cast<uint8_t>(s[i]) & 0xC0) != 0x80) return n;
            return n - back;
        }
        return n;
    }
    return n;
}

std::string utf8_sanitize(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        uint32_t cp = 0;
        const size_t n = utf8_decode(s, i, cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

namespace {

struct ByteTables {
    std::array<std::string, 256> to_utf8;
    std::array<uint32_t, 256> to_cp{};
    ByteTables() {
        // Printable Latin-1 bytes keep their code point; the other 68 bytes go to U+0100.. in byte order.
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            to_cp[b] = printable ? b : next++;
            utf8_append(to_utf8[b], to_cp[b]);
        }
    }
};

const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}

}  // namespace

const std::string& byte_to_unicode_utf8(uint8_t b) {
    return byte_tables().to_utf8[b];
}

int unicode_to_byte(uint32_t cp) {
    if (cp < 256) {
        const auto& t = byte_tables();
        return t.to_cp[cp] == cp ? static_cast<int>(cp) : -1;
    }
    if (cp < 256 + 68) {
        // Inverse of the remapping above: the (cp - 256)-th non-printable byte.
        const auto& t = byte_tables();
        for (int b = 0; b < 256; ++b)
            if (t.to_cp[b] == cp) return b;
    }
    return -1;
}

std::string byte_level_encode(std::string_view raw) {
    std::string out;
    out.reserve(raw.size() * 2);
    for (char c : raw) out += byte_to_unicode_utf8(static_cast<uint8_t>(c));
    return out;
}

}  // namespace docket::tok

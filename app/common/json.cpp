#include "json.h"

#include <fmt/format.h>

namespace docket::cli {

std::string json_escape(const std::string& s) {
    std::string o;
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = s[i];
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (!ok) {
            o += "\\ufffd";
            ++i;
            continue;
        }
        if (len == 1) {
            if (c == '"')
                o += "\\\"";
            else if (c == '\\')
                o += "\\\\";
            else if (c == '\n')
                o += "\\n";
            else if (c == '\t')
                o += "\\t";
            else if (c == '\r')
                o += "\\r";
            else if (c < 0x20)
                o += fmt::format("\\u{:04x}", c);
            else
                o += static_cast<char>(c);
        } else {
            o.append(s, i, len);
        }
        i += len;
    }
    return o;
}

}  // namespace docket::cli

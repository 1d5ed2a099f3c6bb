#pragma once
// File extensions as the ingest room compares them: lower case, with the dot (".txt"; "" when there is none).
#include <filesystem>
#include <string>
#include <string_view>

namespace docket::ingest {

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return out;
}

// "/a/Report.TXT" -> ".txt"; "/a/.profile" and "/a/README" -> "".
inline std::string file_extension_lower(std::string_view path) {
    return ascii_lower(std::filesystem::path(path).extension().native());
}

}  // namespace docket::ingest

#pragma once
// JSON output helpers shared by the commands that print --json.
#include <string>

namespace docket::cli {

// JSON string body: escapes, and invalid UTF-8 bytes (a piece may be half a character) become U+FFFD.
std::string json_escape(const std::string& s);

}  // namespace docket::cli

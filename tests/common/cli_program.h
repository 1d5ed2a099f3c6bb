#pragma once
// Which of the two command-line programs runs a command: docket-dev (built, not installed) holds the
// developer commands, docket-cli (installed, engine/api only) the rest. DOCKET_CLI / DOCKET_DEV name other
// builds to run the same checks against (e.g. an older one, to see them fail).
#include <cstdlib>
#include <string>

namespace docket::test {

inline bool is_dev_command(const std::string& command) {
    for (const char* dev : {"bench", "generate", "logits", "make-model", "model-info", "tokenize"})
        if (command == dev) return true;
    return false;
}

// "docket-dev" or "docket-cli": the name a command's messages start with.
inline std::string program_name(const std::string& command) {
    return is_dev_command(command) ? "docket-dev" : "docket-cli";
}

inline std::string cli_program(const std::string& command) {
    const bool dev = is_dev_command(command);
    if (const char* other = std::getenv(dev ? "DOCKET_DEV" : "DOCKET_CLI")) return other;
    return std::string(DOCKET_BINARY_DIR) + (dev ? "/app/docket-dev" : "/app/docket-cli");
}

}  // namespace docket::test

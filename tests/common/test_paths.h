#pragma once
// Where tests find their inputs. The default model is fetched by installer/setup.sh; its absence is a failure,
// not a skip, because CI must exercise the real model.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace docket::test {

inline std::string source_dir() { return DOCKET_SOURCE_DIR; }
inline std::string shared_dir() {
    if (const char* e = std::getenv("DOCKET_SHARED_DIR")) return e;
    return DOCKET_SHARED_DIR;
}
inline std::string binary_dir() { return DOCKET_BINARY_DIR; }

inline std::string model_dir() {
    if (const char* e = std::getenv("DOCKET_MODEL_DIR")) return e;
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "/root") + "/.cache/docket/models";
}

// Path of the default model (SmolLM2-135M-Instruct Q4_1) as placed by installer/setup.sh.
inline std::string smollm2_path() { return model_dir() + "/SmolLM2-135M-Instruct.Q4_1.gguf"; }

}  // namespace docket::test

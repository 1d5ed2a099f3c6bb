#include "util/status.h"

namespace docket {

const char* error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::ok: return "ok";
        case ErrorCode::invalid_argument: return "invalid argument";
        case ErrorCode::not_found: return "not found";
        case ErrorCode::io_error: return "I/O error";
        case ErrorCode::corrupt_data: return "corrupt data";
        case ErrorCode::unsupported: return "unsupported";
        case ErrorCode::out_of_memory: return "out of memory";
        case ErrorCode::disk_full: return "disk full";
        case ErrorCode::cancelled: return "cancelled";
        case ErrorCode::no_device: return "no device";
        case ErrorCode::internal: return "internal error";
    }
    return "unknown error";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    return fmt::format("{}: {}", error_code_name(code_), message_);
}

}  // namespace docket

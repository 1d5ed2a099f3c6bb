#pragma once
// Typed errors that cross every engine boundary as values (never exceptions).
#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

namespace docket {

enum class ErrorCode {
    ok = 0,
    invalid_argument,  // caller passed something unusable
    not_found,         // a file, key or tensor that should exist does not
    io_error,          // the OS refused a read/write/open
    corrupt_data,      // a file's content violates its format (bad magic, bad offsets, checksum mismatch)
    unsupported,       // valid input that Docket does not handle (unknown quant type, architecture, template)
    out_of_memory,
    disk_full,
    cancelled,
    no_device,  // no usable GPU / driver
    internal,   // a bug: an invariant did not hold
};

const char* error_code_name(ErrorCode code);

class [[nodiscard]] Status {
public:
    Status() = default;
    Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }

    bool is_ok() const { return code_ == ErrorCode::ok; }
    explicit operator bool() const { return is_ok(); }
    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "corrupt_data: tokenizer.ggml.tokens: array count 2^40 exceeds file size (offset 1234)"
    std::string to_string() const;

    // Prefixes context ("reading model.gguf: ") to the message, keeping the code.
    Status with_context(const std::string& context) const {
        if (is_ok()) return *this;
        return {code_, context + ": " + message_};
    }

private:
    ErrorCode code_ = ErrorCode::ok;
    std::string message_;
};

template <typename... Args>
Status make_error(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
    return Status(code, fmt::format(f, std::forward<Args>(args)...));
}

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Status status) : v_(std::move(status)) {
        if (std::get<Status>(v_).is_ok()) v_ = Status(ErrorCode::internal, "Result built from an ok Status");
    }

    bool is_ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return is_ok(); }

    T& value() & { return std::get<T>(v_); }
    const T& value() const& { return std::get<T>(v_); }
    T&& value() && { return std::get<T>(std::move(v_)); }
    T* operator->() { return &std::get<T>(v_); }
    const T* operator->() const { return &std::get<T>(v_); }
    T& operator*() & { return std::get<T>(v_); }
    const T& operator*() const& { return std::get<T>(v_); }

    Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

private:
    std::variant<T, Status> v_;
};

}  // namespace docket

// Propagate a non-ok Status / Result out of the calling function.
#define DK_TRY(expr)                                      \
    do {                                                  \
        ::docket::Status dk_try_status_ = (expr);         \
        if (!dk_try_status_.is_ok()) return dk_try_status_; \
    } while (0)

#define DK_CONCAT_INNER(a, b) a##b
#define DK_CONCAT(a, b) DK_CONCAT_INNER(a, b)
// DK_ASSIGN_OR_RETURN(auto x, make_x()); declares x from the Result's value or returns its Status.
#define DK_ASSIGN_OR_RETURN(decl, expr) DK_ASSIGN_OR_RETURN_IMPL(DK_CONCAT(dk_result_, __LINE__), decl, expr)
#define DK_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
    auto tmp = (expr);                            \
    if (!tmp.is_ok()) return tmp.status();        \
    decl = std::move(tmp).value()

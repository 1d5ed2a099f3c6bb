#pragma once
// Closes a file descriptor when the scope ends (the early returns of a Status-returning function included).
#include <unistd.h>

namespace docket {

class FdGuard {
public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard() {
        if (fd_ >= 0) ::close(fd_);
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

}  // namespace docket

#include "util/file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace docket {

const char* file_type_name(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

Result<int> open_regular_file(const std::string& path, struct stat* st_out) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        return make_error(e == ENOENT ? ErrorCode::not_found : ErrorCode::io_error, "{}: cannot open: {}",
                          path, std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return make_error(ErrorCode::io_error, "{}: cannot stat: {}", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_error(ErrorCode::invalid_argument, "{}: is {}, not a regular file", path,
                          file_type_name(st.st_mode));
    }
    // Regular files never block; reads after this point behave as without O_NONBLOCK.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (st_out) *st_out = st;
    return fd;
}

Result<std::string> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what) {
    struct stat st {};
    auto opened = open_regular_file(path, &st);
    if (!opened) return opened.status().with_context(what);
    const int fd = *opened;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size > max_bytes) {
        ::close(fd);
        return make_error(ErrorCode::invalid_argument, "{}: {}: {} bytes, more than the {} allowed", what,
                          path, size, max_bytes);
    }
    std::string out;
    try {
        out.resize(size);
    } catch (const std::bad_alloc&) {
        ::close(fd);
        return make_error(ErrorCode::out_of_memory, "{}: {}: {} bytes do not fit in memory", what, path,
                          size);
    }
    size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            return make_error(ErrorCode::io_error, "{}: {}: read failed: {}", what, path, std::strerror(e));
        }
        if (n == 0) break;  // shrank while being read: keep what is there
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    out.resize(got);
    return out;
}

}  // namespace docket

#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/file_read.h"

namespace docket {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
    // Only a regular file: a FIFO or device named as a model must not block open() or map endlessly.
    struct stat st {};
    DK_ASSIGN_OR_RETURN(const int fd, open_regular_file(path, &st));
    std::unique_ptr<MappedFile> f(new MappedFile());
    f->path_ = path;
    f->size_ = static_cast<size_t>(st.st_size);
    if (f->size_ > 0) {
        void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            return make_error(ErrorCode::io_error, "{}: cannot map {} bytes: {}", path, f->size_, std::strerror(e));
        }
        f->data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return f;
}

MappedFile::~MappedFile() {
    if (data_) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace docket

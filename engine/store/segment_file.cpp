#include "store/segment_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "store/fault_injection.h"
#include "util/log.h"

namespace docket::store {

std::string segment_file_name(int64_t file_id) {
    return fmt::format("seg-{:06d}.dks", file_id);
}

int64_t parse_segment_file_name(const std::string& name) {
    if (name.size() < 9 || name.rfind("seg-", 0) != 0 || name.substr(name.size() - 4) != ".dks") return 0;
    std::string digits = name.substr(4, name.size() - 8);
    if (digits.empty() || digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos)
        return 0;
    return std::stoll(digits);
}

namespace {
void log_buffered_once(const std::string& path, int err) {
    static std::once_flag once;
    std::call_once(once, [&] {
        DK_LOG_WARN("{}: O_DIRECT refused ({}); segment files use buffered I/O", path, std::strerror(err));
    });
}

int open_with_direct(const std::string& path, int flags, bool o_direct) {
    if (o_direct) {
        int fd = ::open(path.c_str(), flags | O_DIRECT | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EINVAL) return fd >= 0 ? fd : -errno;
        log_buffered_once(path, errno);
    }
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
    return fd >= 0 ? fd : -errno;
}

Status errno_status(int err, std::string_view what, const std::string& path) {
    return make_error(err == ENOSPC || err == EDQUOT ? ErrorCode::disk_full : ErrorCode::io_error,
                      "{} {}: {}", what, path, std::strerror(err));
}
}  // namespace

Result<std::vector<int64_t>> list_segment_files(const std::string& seg_dir) {
    std::vector<int64_t> ids;
    DIR* d = ::opendir(seg_dir.c_str());
    if (!d) {
        if (errno == ENOENT) return ids;
        return errno_status(errno, "open directory", seg_dir);
    }
    while (dirent* e = ::readdir(d))
        if (int64_t id = parse_segment_file_name(e->d_name)) ids.push_back(id);
    ::closedir(d);
    std::sort(ids.begin(), ids.end());
    return ids;
}

int open_segment_for_read(const std::string& path, bool o_direct) {
    return open_with_direct(path, O_RDONLY, o_direct);
}

SegmentFiles::SegmentFiles(std::string dir, bool o_direct, IoFaults* faults)
    : dir_(std::move(dir)), o_direct_(o_direct), faults_(faults) {}

SegmentFiles::~SegmentFiles() {
    for (auto& [id, fd] : fds_) ::close(fd);
}

Result<int> SegmentFiles::fd(int64_t file_id) {
    if (auto it = fds_.find(file_id); it != fds_.end()) return it->second;
    int fd = open_with_direct(path(file_id), O_RDWR, o_direct_);
    if (fd < 0) return errno_status(-fd, "open", path(file_id));
    fds_[file_id] = fd;
    return fd;
}

bool SegmentFiles::exists(int64_t file_id) const {
    struct stat st;
    return ::stat(path(file_id).c_str(), &st) == 0;
}

Result<uint64_t> SegmentFiles::size(int64_t file_id) const {
    struct stat st;
    if (::stat(path(file_id).c_str(), &st) != 0) return errno_status(errno, "stat", path(file_id));
    return static_cast<uint64_t>(st.st_size);
}

Status SegmentFiles::create(int64_t file_id) {
    // O_EXCL: file ids are never reused, so an existing file here is someone else's (or a bug): never adopt
    // it.
    int fd = open_with_direct(path(file_id), O_RDWR | O_CREAT | O_EXCL, o_direct_);
    if (fd < 0) return errno_status(-fd, "create", path(file_id));
    fds_[file_id] = fd;
    return sync_dir();
}

Status SegmentFiles::write(int64_t file_id, uint64_t offset, const uint8_t* buf, size_t len) {
    DK_ASSIGN_OR_RETURN(int f, fd(file_id));
    size_t done = 0;
    while (done < len) {
        if (faults_) {
            if (int e = faults_->on_write())
                return errno_status(e, fmt::format("write at {} of", offset + done), path(file_id));
        }
        ssize_t n = ::pwrite(f, buf + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_status(errno, fmt::format("write at {} of", offset + done), path(file_id));
        if (n == 0) return errno_status(ENOSPC, fmt::format("write at {} of", offset + done), path(file_id));
        done += static_cast<size_t>(n);
    }
    return Status::ok();
}

Status SegmentFiles::sync(int64_t file_id) {
    DK_ASSIGN_OR_RETURN(int f, fd(file_id));
    if (faults_) {
        if (int e = faults_->on_sync()) return errno_status(e, "fdatasync", path(file_id));
    }
    if (::fdatasync(f) != 0) return errno_status(errno, "fdatasync", path(file_id));
    return Status::ok();
}

Status SegmentFiles::truncate(int64_t file_id, uint64_t size) {
    if (::truncate(path(file_id).c_str(), static_cast<off_t>(size)) != 0)
        return errno_status(errno, fmt::format("truncate to {}", size), path(file_id));
    return Status::ok();
}

Status SegmentFiles::remove(int64_t file_id) {
    close(file_id);
    if (::unlink(path(file_id).c_str()) != 0 && errno != ENOENT)
        return errno_status(errno, "unlink", path(file_id));
    return sync_dir();
}

Status SegmentFiles::sync_dir() {
    int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_status(errno, "open directory", dir_);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return errno_status(err, "fsync directory", dir_);
    return Status::ok();
}

void SegmentFiles::close(int64_t file_id) {
    if (auto it = fds_.find(file_id); it != fds_.end()) {
        ::close(it->second);
        fds_.erase(it);
    }
}

}  // namespace docket::store

#include "ingest/file_walker.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "ingest/file_extension.h"
#include "util/log.h"

namespace docket::ingest {

namespace {

namespace fs = std::filesystem;

using DirId = std::pair<dev_t, ino_t>;

bool is_hidden(const fs::path& p) {
    const std::string name = p.filename().native();  // a copy: filename() is a temporary
    return !name.empty() && name[0] == '.';
}

class Walker {
public:
    Walker(const std::function<bool(const std::string&)>& supported, const std::atomic<bool>* cancel,
           uint64_t max_entries)
        : supported_(supported), cancel_(cancel), max_entries_(max_entries) {}

    void walk_input(const std::string& input) {
        if (!tick(input)) return;
        if (input.empty()) return error(input, "empty path");
        std::error_code ec;
        fs::path p = fs::absolute(input, ec);
        if (ec) return error(input, "cannot make the path absolute: " + ec.message());
        p = p.lexically_normal();
        if (!p.has_filename() && p != p.root_path()) p = p.parent_path();  // "dir/" -> "dir"
        struct stat st {};
        if (!stat_or_error(p, st)) return;
        if (S_ISDIR(st.st_mode)) return walk_dir(p, st);
        if (!S_ISREG(st.st_mode)) return error(p.string(), "not a regular file or folder");
        if (!supported_(file_extension_lower(p.native()))) return error(p.string(), "unsupported format");
        add_file(p, st);
    }

    WalkResult finish() && {
        auto by_path = [](const FoundFile& a, const FoundFile& b) { return a.path < b.path; };
        auto same_path = [](const FoundFile& a, const FoundFile& b) { return a.path == b.path; };
        std::sort(r_.files.begin(), r_.files.end(), by_path);
        r_.files.erase(std::unique(r_.files.begin(), r_.files.end(), same_path), r_.files.end());
        auto& skipped = r_.skipped_unsupported;
        std::sort(skipped.begin(), skipped.end());
        skipped.erase(std::unique(skipped.begin(), skipped.end()), skipped.end());
        return std::move(r_);
    }

private:
    struct Frame {
        fs::path dir;
        DirId id;
        std::vector<fs::path> children;  // sorted, hidden names left out
        size_t next = 0;
    };

    void error(const std::string& path, std::string reason) {
        r_.errors.push_back({path, std::move(reason)});
    }

    // False once the walk must stop (cancelled now or earlier, or the entry limit reached).
    bool keep_going() {
        if (!stopped_ && cancel_ && cancel_->load(std::memory_order_relaxed)) {
            r_.cancelled = true;
            stopped_ = true;
        }
        return !stopped_;
    }

    // Counts one entry (listed in a folder, or an input); false once the walk must stop.
    bool tick(const std::string& path) {
        if (!keep_going()) return false;
        if (++entries_ > max_entries_) {
            error(path, "stopped after " + std::to_string(max_entries_) + " entries (the walk limit)");
            stopped_ = true;
            return false;
        }
        return true;
    }

    // stat() following symlinks; a failure becomes a WalkError saying why.
    bool stat_or_error(const fs::path& p, struct stat& st) {
        if (::stat(p.c_str(), &st) == 0) return true;
        const int err = errno;
        struct stat lst {};
        if (err == ENOENT && ::lstat(p.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
            error(p.string(), "broken symbolic link");
        } else if (err == ENOENT) {
            error(p.string(), "does not exist");
        } else {
            error(p.string(), std::strerror(err));
        }
        return false;
    }

    void add_file(const fs::path& p, const struct stat& st) {
        const int64_t mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
        r_.files.push_back({p.string(), uint64_t(st.st_size), mtime_ns});
    }

    // The folder's entries (each one ticks), hidden ones left out; false if it cannot be read at all.
    bool list_dir(const fs::path& dir, std::vector<fs::path>& out) {
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        if (ec) {
            error(dir.string(), "cannot read folder: " + ec.message());
            return false;
        }
        for (; it != fs::directory_iterator(); it.increment(ec)) {
            if (!tick(it->path().string())) break;
            if (!is_hidden(it->path())) out.push_back(it->path());
        }
        if (ec) error(dir.string(), "cannot read folder: " + ec.message());
        std::sort(out.begin(), out.end());
        return true;
    }

    void push_dir(std::vector<Frame>& stack, const fs::path& dir, const struct stat& st) {
        const DirId id{st.st_dev, st.st_ino};
        for (const Frame& f : stack)
            if (f.id == id) return error(dir.string(), "symlink loop (leads back to " + f.dir.string() + ")");
        if (!visited_.insert(id).second) {
            DK_LOG_DEBUG("{} was already walked by another route", dir.string());
            return;
        }
        Frame f{dir, id, {}, 0};
        if (list_dir(dir, f.children)) stack.push_back(std::move(f));
    }

    // Depth-first with an explicit stack: a deep tree cannot overflow the call stack.
    void walk_dir(const fs::path& root, const struct stat& root_st) {
        std::vector<Frame> stack;
        push_dir(stack, root, root_st);
        while (!stack.empty() && keep_going()) {
            Frame& top = stack.back();
            if (top.next == top.children.size()) {
                stack.pop_back();
                continue;
            }
            const fs::path child = std::move(top.children[top.next++]);
            struct stat st {};
            if (!stat_or_error(child, st)) continue;
            if (S_ISDIR(st.st_mode)) {
                push_dir(stack, child, st);
            } else if (S_ISREG(st.st_mode)) {
                if (supported_(file_extension_lower(child.native()))) {
                    add_file(child, st);
                } else {
                    r_.skipped_unsupported.push_back(child.string());
                }
            }
        }
    }

    const std::function<bool(const std::string&)>& supported_;
    const std::atomic<bool>* cancel_;
    const uint64_t max_entries_;
    uint64_t entries_ = 0;
    bool stopped_ = false;
    std::set<DirId> visited_;
    WalkResult r_;
};

}  // namespace

WalkResult walk_inputs(const std::vector<std::string>& inputs,
                       const std::function<bool(const std::string& ext)>& supported,
                       const std::atomic<bool>* cancel, uint64_t max_entries) {
    Walker walker(supported, cancel, max_entries);
    for (const std::string& input : inputs) walker.walk_input(input);
    return std::move(walker).finish();
}

}  // namespace docket::ingest

#pragma once
// Expands the files and folders a user picked into the list of documents to ingest. Never throws: every
// problem (missing input, unreadable folder, symlink loop, unsupported file) is a WalkError value.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace docket::ingest {

struct FoundFile {
    std::string path;  // absolute, lexically normal (symlinks in it are kept, not resolved)
    uint64_t bytes = 0;
    int64_t mtime_ns = 0;  // of the file a symlink points to
};

struct WalkError {
    std::string path;
    std::string reason;
};

struct WalkResult {
    std::vector<FoundFile> files;  // sorted by path, unique
    std::vector<WalkError> errors;
    std::vector<std::string>
        skipped_unsupported;  // files inside folders whose extension is not supported; sorted
    bool cancelled = false;   // *cancel became true; the lists hold what was found so far
};

// Entries (directory entries plus inputs) examined before a walk stops with an error.
constexpr uint64_t kMaxWalkEntries = 1'000'000;

// Each input is a file or a folder (walked recursively). Symlinks are followed; a symlink back to a folder on
// the current path is a WalkError ("symlink loop"), and a folder reached a second time by another route is
// not walked again. Inside folders, names starting with '.' are skipped and files of unsupported extension go
// to skipped_unsupported; an input named explicitly is taken even if hidden, and is a WalkError "unsupported
// format" if its extension is not supported. `supported` gets the extension in lower case with its dot
// (file_extension_lower: ".txt"; "" when there is none). Other file types (FIFOs, sockets, devices) inside
// folders are ignored.
WalkResult walk_inputs(const std::vector<std::string>& inputs,
                       const std::function<bool(const std::string& ext)>& supported,
                       const std::atomic<bool>* cancel = nullptr, uint64_t max_entries = kMaxWalkEntries);

}  // namespace docket::ingest

#pragma once
// Opening and reading files named by a user: only regular files, with the size known before any byte is read.
#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "util/status.h"

namespace docket {

// "a directory", "a FIFO", "a character device", ... for an error message.
const char* file_type_name(mode_t mode);

// Opens `path` read-only if it is a regular file (else an error naming what it is: "x: is a FIFO, not a
// regular file"). O_NONBLOCK keeps open() from blocking on a FIFO with no writer; fstat then decides, on the
// opened file itself, so a path swapped between a check and the open cannot slip through. The caller closes
// the returned descriptor; `st` (optional) receives its fstat.
Result<int> open_regular_file(const std::string& path, struct stat* st = nullptr);

// The whole content of the regular file `path` when it holds at most `max_bytes` bytes; errors start with
// `what` ("prompt file: big.txt: 1073741824 bytes, more than the 262144 allowed"). The size is checked before
// anything is read, and no more than it is read if the file grows meanwhile.
Result<std::string> read_regular_file(const std::string& path, uint64_t max_bytes, const std::string& what);

}  // namespace docket

#pragma once
// Writer-side access to the segment files (<dir>/segments/seg-NNNNNN.dks): aligned positional writes through
// the fault-injection hooks, data syncs, truncation of uncommitted tails, deletion. O_DIRECT when the
// filesystem allows it (else buffered, logged once). Not thread-safe: the store's writer owns it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/status.h"

namespace docket::store {

struct IoFaults;

std::string segment_file_name(int64_t file_id);  // "seg-000001.dks"
// Parses a name made by segment_file_name(); 0 when it is not one.
int64_t parse_segment_file_name(const std::string& name);

// Ids of the segment files in `seg_dir`, ascending (names made by segment_file_name; others are ignored).
// An absent directory holds none.
Result<std::vector<int64_t>> list_segment_files(const std::string& seg_dir);

// Opens a segment file for reading (O_DIRECT when `o_direct` and supported). -errno on failure.
int open_segment_for_read(const std::string& path, bool o_direct);

class SegmentFiles {
public:
    SegmentFiles(std::string dir, bool o_direct, IoFaults* faults);
    ~SegmentFiles();
    SegmentFiles(const SegmentFiles&) = delete;
    SegmentFiles& operator=(const SegmentFiles&) = delete;

    const std::string& dir() const { return dir_; }
    std::string path(int64_t file_id) const { return dir_ + "/" + segment_file_name(file_id); }

    Status create(int64_t file_id);  // new empty file, directory synced
    bool exists(int64_t file_id) const;
    Result<uint64_t> size(int64_t file_id) const;
    // Writes all of buf (kIoAlign-aligned address, offset, length) at offset. ENOSPC -> disk_full.
    Status write(int64_t file_id, uint64_t offset, const uint8_t* buf, size_t len);
    Status sync(int64_t file_id);
    Status truncate(int64_t file_id, uint64_t size);
    Status remove(int64_t file_id);  // unlink and sync the directory
    Status sync_dir();
    void close(int64_t file_id);

private:
    Result<int> fd(int64_t file_id);
    std::string dir_;
    bool o_direct_;
    IoFaults* faults_;
    std::map<int64_t, int> fds_;
};

}  // namespace docket::store

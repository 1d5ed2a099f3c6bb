// StoreReader: index lookups on the reader's own connection, extent reads through its BlockReader.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "store/block_reader.h"
#include "store/extent_format.h"
#include "store/segment_file.h"
#include "store/store.h"
#include "store/store_rows.h"

namespace docket::store {

// One extent to read and where its pages go: layers [copy_lb, copy_le) of it land in `dst` as [layer][page]
// rows of dst_pages pages, layer (l - dst_lb).
struct StoreReader::Job {
    const SnapshotInfo* snap = nullptr;
    ExtentLoc loc;
    int copy_lb = 0, copy_le = 0, dst_lb = 0, dst_pages = 0;
    uint8_t* dst = nullptr;  // nullptr: check only
};

namespace {
constexpr size_t kMaxFds = 64;  // open segment files per reader (1 GiB each by default)
}

StoreReader::~StoreReader() {
    close_fds();
}

void StoreReader::close_fds() {
    for (auto& [id, fd] : fds_) ::close(fd);
    fds_.clear();
}

const char* StoreReader::io_kind() const {
    return io_->kind();
}

Result<int> StoreReader::fd(int64_t file_id) {
    if (auto it = fds_.find(file_id); it != fds_.end()) return it->second;
    const std::string path = store_.dir_ + "/segments/" + segment_file_name(file_id);
    int fd = open_segment_for_read(path, store_.opt_.o_direct);
    if (fd == -ENOENT)  // compaction retired the file after we looked the extent up
        return make_error(ErrorCode::not_found, "{} no longer exists (compacted meanwhile)", path);
    if (fd < 0) return make_error(ErrorCode::io_error, "open {}: {}", path, std::strerror(-fd));
    fds_[file_id] = fd;
    return fd;
}

Result<std::optional<SnapshotInfo>> StoreReader::find(const SnapshotKey& key) {
    DK_ASSIGN_OR_RETURN(auto q,
                        db_->prepare(std::string(kSnapshotSelect) +
                                     "WHERE s.model_fp = ? AND s.codec = ? AND s.codec_params = ? AND "
                                     "s.prefix_hash = ? AND s.content_hash = ? AND s.state = 'ready'"));
    DK_TRY(bind_key(q, 1, key));
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return std::optional<SnapshotInfo>();
    return std::optional<SnapshotInfo>(snapshot_from_row(q));
}

Result<SnapshotInfo> StoreReader::get(int64_t id) {
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kSnapshotSelect) + "WHERE s.id = ?"));
    q.bind(1, id);
    DK_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return make_error(ErrorCode::not_found, "snapshot {} not in the index", id);
    return snapshot_from_row(q);
}

Result<std::vector<SnapshotInfo>> StoreReader::list() {
    DK_ASSIGN_OR_RETURN(auto q, db_->prepare(std::string(kSnapshotSelect) + "ORDER BY s.id"));
    std::vector<SnapshotInfo> out;
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        out.push_back(snapshot_from_row(q));
    }
    return out;
}

Result<std::vector<ExtentLoc>> StoreReader::extents(int64_t snapshot_id) {
    return load_extents(*db_, snapshot_id);
}

namespace {
// The extents must tile layers x pages exactly; anything else is an index bug or a snapshot evicted
// meanwhile.
Status check_tiling(const SnapshotInfo& s, const std::vector<ExtentLoc>& ext) {
    if (ext.empty())
        return make_error(ErrorCode::not_found, "{} has no extents (evicted meanwhile?)", s.describe());
    uint64_t cells = 0;
    for (const auto& e : ext) {
        if (e.layer_begin < 0 || e.layer_end > s.shape.n_layers || e.layer_begin >= e.layer_end ||
            e.page_begin < 0 || e.page_end > s.n_pages() || e.page_begin >= e.page_end)
            return make_error(ErrorCode::corrupt_data,
                              "{}: extent {} covers layers {}..{} pages {}..{}, outside {}x{}", s.describe(),
                              e.id, e.layer_begin, e.layer_end, e.page_begin, e.page_end, s.shape.n_layers,
                              s.n_pages());
        cells += uint64_t(e.layer_end - e.layer_begin) * (e.page_end - e.page_begin);
    }
    if (cells != uint64_t(s.shape.n_layers) * s.n_pages())
        return make_error(ErrorCode::corrupt_data, "{}: extents cover {} of {} layer-pages", s.describe(),
                          cells, uint64_t(s.shape.n_layers) * s.n_pages());
    return Status::ok();
}
}  // namespace

Status StoreReader::run_jobs(std::span<Job> jobs, bool mark_bad) {
    // No read is in flight between batches, so this is where fds go: those of files deleted since (their
    // space would never be freed), or all of them past the cap (a soft cap: one batch may open more).
    if (const uint64_t g = store_.file_generation_.load(std::memory_order_acquire);
        g != fds_generation_ || fds_.size() >= kMaxFds) {
        close_fds();
        fds_generation_ = g;
    }
    std::vector<ReadRequest> reqs(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
        const ExtentLoc& e = jobs[i].loc;
        if (e.length > (1u << 30) || e.length % kIoAlign != 0 || e.offset % kIoAlign != 0)
            return make_error(ErrorCode::corrupt_data, "{}: extent {} has unaligned offset {} / length {}",
                              jobs[i].snap->describe(), e.id, e.offset, e.length);
        DK_ASSIGN_OR_RETURN(int f, fd(e.file_id));
        reqs[i] = ReadRequest{f, e.offset, static_cast<uint32_t>(e.length)};
    }
    std::mutex mu;
    Status first_error;
    std::vector<std::pair<int64_t, std::string>> bad;
    auto on_done = [&](size_t i, const uint8_t* data, int64_t result) {
        const Job& j = jobs[i];
        const ExtentLoc& e = j.loc;
        const std::string where =
            fmt::format("{}: {} offset {}", j.snap->describe(), segment_file_name(e.file_id), e.offset);
        Status st;
        if (result < 0) {
            st = make_error(ErrorCode::io_error, "{}: read: {}", where,
                            std::strerror(static_cast<int>(-result)));
        } else if (static_cast<uint64_t>(result) != e.length) {
            st = make_error(ErrorCode::corrupt_data,
                            "{}: extent ends past the end of the file ({} of {} bytes)", where, result,
                            e.length);
        } else {
            ExtentExpect ex{static_cast<uint64_t>(j.snap->id),
                            e.checksum,
                            e.length,
                            static_cast<uint32_t>(e.layer_begin),
                            static_cast<uint32_t>(e.layer_end - e.layer_begin),
                            static_cast<uint32_t>(e.page_begin),
                            static_cast<uint32_t>(e.page_end - e.page_begin),
                            static_cast<uint32_t>(j.snap->key.codec.codec),
                            static_cast<uint32_t>(j.snap->shape.n_kv_heads),
                            static_cast<uint32_t>(j.snap->shape.head_dim),
                            static_cast<uint64_t>(j.snap->n_tokens)};
            // Raw extents are checked and copied into dst in one pass; zstd ones are unpacked into this
            // thread's scratch (which also proves a check-only read decodes), then copied.
            const size_t pb = j.snap->page_bytes(), np = e.page_end - e.page_begin;
            ExtentPlacement place;
            if (j.dst) {
                place.dst =
                    j.dst + (static_cast<size_t>(j.copy_lb - j.dst_lb) * j.dst_pages + e.page_begin) * pb;
                place.src_offset = static_cast<size_t>(j.copy_lb - e.layer_begin) * np * pb;
                place.run_bytes = np * pb;
                place.runs = static_cast<size_t>(j.copy_le - j.copy_lb);
                place.dst_stride = static_cast<size_t>(j.dst_pages) * pb;
            }
            bool placed = false;
            auto h = check_and_place_extent(data, e.length, ex, place, where, &placed);
            if (!h) {
                st = h.status();
            } else if (!placed &&
                       (j.dst || !(h->flags & kExtentRaw))) {  // a checked raw extent: nothing to unpack
                thread_local AlignedBuffer scratch;
                if (!scratch.resize(h->raw_length)) {
                    st = make_error(ErrorCode::out_of_memory, "{}: {} bytes to unpack", where, h->raw_length);
                } else {
                    st = unpack_extent(*h, data, scratch.data(), where);
                }
                // The page size of the snapshot row, which sized dst; check_extent made the header agree.
                if (st && j.dst)
                    for (size_t r = 0; r < place.runs; ++r)
                        std::memcpy(place.dst + r * place.dst_stride,
                                    scratch.data() + place.src_offset + r * place.run_bytes, place.run_bytes);
            }
        }
        if (!st) {
            std::lock_guard lock(mu);
            if (first_error.is_ok()) first_error = st;
            if (st.code() == ErrorCode::corrupt_data) bad.emplace_back(j.snap->id, st.message());
        }
    };
    DK_TRY(io_->read(reqs, on_done));
    if (mark_bad && !store_.read_only_) {  // a read-only store reports, it does not record
        for (const auto& [id, msg] : bad) {
            if (Status m = store_.mark_bad(id, msg); !m) return m;
        }
        if (!bad.empty())
            return make_error(ErrorCode::corrupt_data, "{}; snapshot marked bad: recompute it",
                              first_error.message());
    }
    return first_error;
}

Status StoreReader::read_pages(const SnapshotInfo& s, int layer_begin, int layer_end, AlignedBuffer& out) {
    if (layer_begin < 0 || layer_end > s.shape.n_layers || layer_begin >= layer_end)
        return make_error(ErrorCode::invalid_argument, "{}: layers {}..{} outside 0..{}", s.describe(),
                          layer_begin, layer_end, s.shape.n_layers);
    DK_ASSIGN_OR_RETURN(auto ext, extents(s.id));
    DK_TRY(check_tiling(s, ext));
    const size_t pb = s.page_bytes();
    if (!out.resize(static_cast<size_t>(layer_end - layer_begin) * s.n_pages() * pb))
        return make_error(ErrorCode::out_of_memory, "{}: page buffer", s.describe());
    std::vector<Job> jobs;
    for (const auto& e : ext) {
        const int lb = std::max(e.layer_begin, layer_begin), le = std::min(e.layer_end, layer_end);
        if (lb >= le) continue;
        jobs.push_back(Job{&s, e, lb, le, layer_begin, s.n_pages(), out.data()});
    }
    DK_TRY(run_jobs(jobs, true));
    store_.note_used(s.id);
    return Status::ok();
}

Status StoreReader::read_pages_many(std::span<const SnapshotInfo> snaps, std::span<AlignedBuffer> out) {
    if (snaps.size() != out.size())
        return make_error(ErrorCode::invalid_argument, "{} snapshots, {} buffers", snaps.size(), out.size());
    std::vector<Job> jobs;
    for (size_t i = 0; i < snaps.size(); ++i) {
        const SnapshotInfo& s = snaps[i];
        DK_ASSIGN_OR_RETURN(auto ext, extents(s.id));
        DK_TRY(check_tiling(s, ext));
        if (!out[i].resize(static_cast<size_t>(s.shape.n_layers) * s.n_pages() * s.page_bytes()))
            return make_error(ErrorCode::out_of_memory, "{}: page buffer", s.describe());
        for (const auto& e : ext)
            jobs.push_back(Job{&s, e, e.layer_begin, e.layer_end, 0, s.n_pages(), out[i].data()});
    }
    DK_TRY(run_jobs(jobs, true));
    for (const auto& s : snaps) store_.note_used(s.id);
    return Status::ok();
}

Status StoreReader::check_snapshot(const SnapshotInfo& s, uint64_t* bytes_checked) {
    DK_ASSIGN_OR_RETURN(auto ext, extents(s.id));
    DK_TRY(check_tiling(s, ext));
    std::vector<Job> jobs;
    for (const auto& e : ext) {
        jobs.push_back(Job{&s, e, 0, 0, 0, 0, nullptr});
        if (bytes_checked) *bytes_checked += e.length;
    }
    return run_jobs(jobs, false);
}

Result<DecodedKv> StoreReader::read_kv(const SnapshotInfo& s) {
    AlignedBuffer pages;
    DK_TRY(read_pages(s, 0, s.shape.n_layers, pages));
    DecodedKv kv;
    kv.shape = s.shape;
    kv.n_tokens = s.n_tokens;
    const size_t per_token = static_cast<size_t>(s.shape.n_kv_heads) * s.shape.head_dim;
    const size_t pb = s.page_bytes();
    kv.k.resize(s.shape.n_layers);
    kv.v.resize(s.shape.n_layers);
    for (int l = 0; l < s.shape.n_layers; ++l) {
        kv.k[l].resize(per_token * s.n_tokens);
        kv.v[l].resize(per_token * s.n_tokens);
        for (int p = 0; p < s.n_pages(); ++p) {
            const int64_t t0 = int64_t{p} * kv_page::kTokens;
            const int valid = static_cast<int>(std::min<int64_t>(kv_page::kTokens, s.n_tokens - t0));
            DK_TRY(decode_page(s.key.codec.codec, s.shape.n_kv_heads, s.shape.head_dim,
                               pages.data() + (static_cast<size_t>(l) * s.n_pages() + p) * pb, valid,
                               kv.k[l].data() + t0 * per_token, kv.v[l].data() + t0 * per_token));
        }
    }
    return kv;
}

}  // namespace docket::store

#pragma once
// On-disk extent: one layer range x page range of one snapshot, as written in a segment file.
//
//   offset 0 (4 KiB aligned):  ExtentHeader (128 bytes, little-endian)
//   offset 128:                payload: zstd frame of the raw pages, or the raw pages (flag kExtentRaw)
//   then zero padding to a multiple of 4 KiB (extent_length)
//
// Raw pages are ordered [layer][page], each page_bytes long in the kv_page.h layout. The checksum (XXH3-64)
// covers all extent_length bytes with the checksum field zeroed, so a flipped bit anywhere in a live extent,
// padding and header included, is detected.
#include <cstddef>
#include <cstdint>

#include "format/kv_page.h"
#include "store/aligned_buffer.h"
#include "util/status.h"

namespace docket::store {

inline constexpr uint32_t kExtentMagic = 0x5458'4B44;  // "DKXT" read as little-endian u32
inline constexpr uint16_t kExtentVersion = 1;
inline constexpr size_t kExtentHeaderBytes = 128;
inline constexpr uint8_t kExtentRaw = 1;  // flags: payload is the raw pages (zstd did not pay)

struct ExtentHeader {
    uint32_t magic = kExtentMagic;
    uint16_t version = kExtentVersion;
    uint16_t header_bytes = kExtentHeaderBytes;
    uint8_t codec = 0;
    uint8_t flags = 0;
    uint16_t n_layers = 0;  // layers of the whole snapshot (0 in extents written before it was recorded)
    uint16_t n_kv_heads = 0;
    uint16_t head_dim = 0;
    uint16_t layer_begin = 0;
    uint16_t layer_count = 0;
    uint32_t page_begin = 0;
    uint32_t page_count = 0;
    uint32_t n_tokens = 0;  // tokens in the whole snapshot: the last page holds n_tokens - 64*(n_pages-1)
    uint32_t page_bytes = 0;
    uint64_t snapshot_id = 0;
    uint64_t raw_length = 0;      // layer_count * page_count * page_bytes
    uint64_t payload_length = 0;  // bytes after the header
    uint64_t extent_length = 0;   // header + payload + padding, multiple of kIoAlign
    uint64_t checksum = 0;
    // The snapshot's key (model fingerprint, prefix hash, content hash; codec params follow from codec and
    // head_dim), so that `verify --rebuild-index` can rebuild a lost index row. All zero in extents written
    // before it was recorded (the bytes were reserved and zero).
    uint8_t model_fp[16] = {};
    uint8_t prefix_hash[16] = {};
    uint8_t content_hash[16] = {};
};
static_assert(sizeof(ExtentHeader) == kExtentHeaderBytes);
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the on-disk format is little-endian");

// What the index says about an extent (its row and its snapshot's row); a read checks the bytes against it,
// so that the header can never size a copy differently from the buffer the snapshot row sized.
struct ExtentExpect {
    uint64_t snapshot_id = 0;
    uint64_t checksum = 0;
    uint64_t length = 0;
    uint32_t layer_begin = 0, layer_count = 0, page_begin = 0, page_count = 0;
    uint32_t codec = 0, n_kv_heads = 0, head_dim = 0;
    uint64_t n_tokens = 0;
};

// The header's own fields are self-consistent (magic, version, codec, lengths): what a scan of a segment file
// without the index (rebuild, damage checks) asks of a block before trusting its extent_length.
bool extent_header_plausible(const ExtentHeader& h);
// What the header says of itself, as an ExtentExpect (for check_extent without an index row).
ExtentExpect expect_from_header(const ExtentHeader& h);

// Builds the on-disk bytes of one extent into `out` (resized to extent_length). `h` carries the shape fields;
// lengths, flags and checksum are filled in. zstd_level <= 0 stores raw; raw is also kept when zstd saves
// less than 1/32 of the bytes (decompression would cost more than it saves on reads).
Status build_extent(ExtentHeader& h, const uint8_t* pages, int zstd_level, AlignedBuffer& out);

// XXH3-64 of an extent's bytes with the checksum field taken as zero.
uint64_t extent_checksum(const uint8_t* bytes, size_t length);

// Checks magic, version, lengths and checksum of extent bytes read from disk, and every shape field of the
// header against the index; returns the header. corrupt_data names what differs; `where` (file and offset)
// goes into the message. On success: raw_length == layer_count * page_count * page_bytes of the index's
// shape, payload_length <= length - 128, and a raw extent's payload is exactly raw_length bytes.
Result<ExtentHeader> check_extent(const uint8_t* bytes, size_t length, const ExtentExpect& expect,
                                  const std::string& where);

// Where a read puts an extent's pages: `runs` runs of `run_bytes` bytes, taken consecutively from raw-page
// offset `src_offset` of the extent and written to dst, dst + dst_stride, ... (one run per layer of a
// [layer][page] buffer). The caller sizes it from the index, never from the header.
struct ExtentPlacement {
    uint8_t* dst = nullptr;
    size_t src_offset = 0, run_bytes = 0, runs = 0, dst_stride = 0;
};

// check_extent, and for a raw extent also the copy of its placed runs, done in one pass: each chunk of the
// extent is hashed and then copied while it is still in cache (the bytes come from a DMA buffer, so a
// separate hash pass and copy pass would read them from memory twice). *placed says whether the runs were
// copied; when not (zstd payload, or the runs do not fit the payload the index describes), the caller unpacks
// as before. On an error the destination may hold bytes that failed the check: the caller must not use it.
Result<ExtentHeader> check_and_place_extent(const uint8_t* bytes, size_t length, const ExtentExpect& expect,
                                            const ExtentPlacement& place, const std::string& where,
                                            bool* placed);

// Writes the raw pages of a checked extent to `pages` (raw_length bytes).
Status unpack_extent(const ExtentHeader& h, const uint8_t* bytes, uint8_t* pages, const std::string& where);

}  // namespace docket::store

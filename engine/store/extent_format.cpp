#include "store/extent_format.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>
#include <zstd.h>

#include <cstring>

namespace docket::store {

namespace {
constexpr size_t kChecksumOffset = offsetof(ExtentHeader, checksum);
}

uint64_t extent_checksum(const uint8_t* bytes, size_t length) {
    // Streaming over [header up to checksum][8 zero bytes][rest] so the stored field need not be patched.
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, bytes, kChecksumOffset);
    const uint64_t zero = 0;
    XXH3_64bits_update(&st, &zero, 8);
    XXH3_64bits_update(&st, bytes + kChecksumOffset + 8, length - kChecksumOffset - 8);
    return XXH3_64bits_digest(&st);
}

Status build_extent(ExtentHeader& h, const uint8_t* pages, int zstd_level, AlignedBuffer& out) {
    h.magic = kExtentMagic;
    h.version = kExtentVersion;
    h.header_bytes = kExtentHeaderBytes;
    h.raw_length = static_cast<uint64_t>(h.layer_count) * h.page_count * h.page_bytes;
    const size_t bound = ZSTD_compressBound(h.raw_length);
    if (!out.resize(io_align_up(kExtentHeaderBytes + std::max<size_t>(bound, h.raw_length))))
        return make_error(ErrorCode::out_of_memory, "extent buffer of {} bytes", bound);
    uint8_t* payload = out.data() + kExtentHeaderBytes;
    size_t n = 0;
    bool raw = true;
    if (zstd_level > 0) {
        n = ZSTD_compress(payload, bound, pages, h.raw_length, zstd_level);
        if (ZSTD_isError(n))
            return make_error(ErrorCode::internal, "zstd compress of {} bytes: {}", h.raw_length,
                              ZSTD_getErrorName(n));
        raw = n + h.raw_length / 32 >= h.raw_length;
    }
    if (raw) {
        std::memcpy(payload, pages, h.raw_length);
        n = h.raw_length;
    }
    h.flags = raw ? kExtentRaw : 0;
    h.payload_length = n;
    h.extent_length = io_align_up(kExtentHeaderBytes + n);
    out.resize(h.extent_length);
    std::memset(payload + n, 0, h.extent_length - kExtentHeaderBytes - n);
    h.checksum = 0;
    std::memcpy(out.data(), &h, sizeof(h));
    h.checksum = extent_checksum(out.data(), h.extent_length);
    std::memcpy(out.data() + kChecksumOffset, &h.checksum, 8);
    return Status::ok();
}

Result<ExtentHeader> check_extent(const uint8_t* bytes, size_t length, const ExtentExpect& e,
                                  const std::string& where) {
    auto bad = [&](std::string what) {
        return make_error(ErrorCode::corrupt_data, "{}: extent {}", where, what);
    };
    if (length < kExtentHeaderBytes || length != e.length)
        return bad(fmt::format("length {} differs from the index ({})", length, e.length));
    ExtentHeader h;
    std::memcpy(&h, bytes, sizeof(h));
    const uint64_t sum = extent_checksum(bytes, length);
    if (sum != e.checksum || h.checksum != e.checksum)
        return bad(fmt::format("checksum mismatch (computed {:016x}, header {:016x}, index {:016x})", sum,
                               h.checksum, e.checksum));
    // The checksum matched the index, so what follows can only fail on a bug or a mixed-up index row.
    if (h.magic != kExtentMagic) return bad(fmt::format("bad magic {:08x}", h.magic));
    if (h.version != kExtentVersion) return bad(fmt::format("unsupported version {}", h.version));
    if (!kv_page::codec_valid(h.codec)) return bad(fmt::format("unknown codec {}", h.codec));
    if (h.snapshot_id != e.snapshot_id || h.layer_begin != e.layer_begin || h.layer_count != e.layer_count ||
        h.page_begin != e.page_begin || h.page_count != e.page_count)
        return bad(
            fmt::format("belongs to snapshot {} layers {}+{} pages {}+{}, index expects snapshot {} layers "
                        "{}+{} pages {}+{}",
                        h.snapshot_id, h.layer_begin, h.layer_count, h.page_begin, h.page_count,
                        e.snapshot_id, e.layer_begin, e.layer_count, e.page_begin, e.page_count));
    if (h.codec != e.codec || h.n_kv_heads != e.n_kv_heads || h.head_dim != e.head_dim ||
        h.n_tokens != e.n_tokens)
        return bad(fmt::format(
            "header says {} {} kv heads x {} dims, {} tokens; the snapshot row says {} {} x {}, {} tokens",
            kv_page::codec_name(static_cast<kv_page::Codec>(h.codec)), h.n_kv_heads, h.head_dim, h.n_tokens,
            kv_page::codec_valid(e.codec) ? kv_page::codec_name(static_cast<kv_page::Codec>(e.codec)) : "?",
            e.n_kv_heads, e.head_dim, e.n_tokens));
    if (h.flags & ~kExtentRaw) return bad(fmt::format("unknown flags {:02x}", h.flags));
    const uint64_t pb = kv_page::page_bytes(static_cast<kv_page::Codec>(h.codec), h.n_kv_heads, h.head_dim);
    // length >= kExtentHeaderBytes was checked above, so the subtraction cannot wrap.
    if (h.page_bytes != pb || h.raw_length != uint64_t{h.layer_count} * h.page_count * pb ||
        h.extent_length != length || h.payload_length > length - kExtentHeaderBytes)
        return bad(fmt::format("header lengths are inconsistent (page {} raw {} payload {} extent {} of {})",
                               h.page_bytes, h.raw_length, h.payload_length, h.extent_length, length));
    if ((h.flags & kExtentRaw) && h.payload_length != h.raw_length)
        return bad(fmt::format("raw payload of {} bytes, {} expected", h.payload_length, h.raw_length));
    return h;
}

Status unpack_extent(const ExtentHeader& h, const uint8_t* bytes, uint8_t* pages, const std::string& where) {
    const uint8_t* payload = bytes + kExtentHeaderBytes;
    if (h.flags & kExtentRaw) {
        if (h.payload_length != h.raw_length)
            return make_error(ErrorCode::corrupt_data, "{}: raw extent payload {} != {}", where,
                              h.payload_length, h.raw_length);
        std::memcpy(pages, payload, h.raw_length);
        return Status::ok();
    }
    size_t n = ZSTD_decompress(pages, h.raw_length, payload, h.payload_length);
    if (ZSTD_isError(n) || n != h.raw_length)
        return make_error(ErrorCode::corrupt_data, "{}: zstd payload does not decode to {} bytes ({})", where,
                          h.raw_length, ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
    return Status::ok();
}

}  // namespace docket::store

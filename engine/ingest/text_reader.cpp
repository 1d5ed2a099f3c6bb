#include "ingest/text_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "ingest/file_extension.h"
#include "model/tokenizer_unicode.h"
#include "util/fd_guard.h"
#include "util/file_read.h"

namespace docket::ingest {

namespace {

constexpr uint32_t kReplacement = 0xFFFD;

// Windows-1252 0x80-0x9F; the five bytes the code page leaves undefined become U+FFFD. 0xA0-0xFF equal
// Latin-1 (and Unicode), so Latin-1 files decode the same way.
constexpr std::array<uint16_t, 32> kCp1252High = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

// More than this share of control characters (other than tab, line ends and form feeds) means binary data.
constexpr int kMaxControlPercent = 3;

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// Offset of the first invalid UTF-8 sequence, or npos.
size_t first_invalid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t n = tok::utf8_decode(s, i, cp);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

std::string decode_cp1252(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 4);
    for (const char ch : s) {
        const auto b = static_cast<uint8_t>(ch);
        if (b < 0x80) {
            out.push_back(ch);
        } else {
            tok::utf8_append(out, b < 0xA0 ? kCp1252High[b - 0x80] : b);
        }
    }
    return out;
}

Result<std::string> decode_utf16(std::string_view s, bool little_endian, const std::string& name) {
    if (s.size() % 2 != 0)
        return make_error(ErrorCode::corrupt_data,
                          "{}: undecodable: UTF-16 text with an odd number of bytes ({})", name,
                          s.size() + 2);
    auto unit = [&](size_t i) -> uint32_t {
        const auto b0 = static_cast<uint8_t>(s[i]), b1 = static_cast<uint8_t>(s[i + 1]);
        return little_endian ? (b0 | (b1 << 8)) : ((b0 << 8) | b1);
    };
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); i += 2) {
        const uint32_t u = unit(i);
        if (u >= 0xD800 && u <= 0xDBFF && i + 2 < s.size()) {
            const uint32_t lo = unit(i + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                tok::utf8_append(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
                i += 2;
                continue;
            }
        }
        // An unpaired surrogate stands for nothing.
        tok::utf8_append(out, (u >= 0xD800 && u <= 0xDFFF) ? kReplacement : u);
    }
    return out;
}

bool is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v') return false;
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

// `text` is valid UTF-8 here (every decoder above produces it).
Status check_not_binary(std::string_view text, const std::string& name) {
    size_t chars = 0, controls = 0;
    for (size_t i = 0; i < text.size(); ++chars) {
        uint32_t cp = kReplacement;
        const size_t n = tok::utf8_decode(text, i, cp);
        if (cp == 0)
            return make_error(ErrorCode::unsupported, "{}: binary content (NUL character at byte {})", name,
                              i);
        controls += is_control(cp);
        i += n ? n : 1;
    }
    if (controls * 100 > chars * kMaxControlPercent)
        return make_error(ErrorCode::unsupported,
                          "{}: binary content ({} of {} characters are control characters)", name, controls,
                          chars);
    return Status::ok();
}

// CRLF and lone CR become LF, in place.
void normalize_line_ends(std::string& text) {
    size_t w = 0;
    for (size_t r = 0; r < text.size(); ++r) {
        if (text[r] == '\r') {
            text[w++] = '\n';
            if (r + 1 < text.size() && text[r + 1] == '\n') ++r;
        } else {
            text[w++] = text[r];
        }
    }
    text.resize(w);
}

// The `size` bytes fstat reported (fewer if the file shrank meanwhile; growth after fstat is not read).
Result<std::string> read_fd(int fd, uint64_t size, const std::string& path) {
    std::string buf(size, '\0');
    size_t got = 0;
    while (got < buf.size()) {
        const ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(ErrorCode::io_error, "{}: read failed: {}", path, std::strerror(errno));
        if (n == 0) break;
        got += size_t(n);
    }
    buf.resize(got);
    return buf;
}

}  // namespace

std::optional<std::string> text_format_for_extension(std::string_view ext) {
    const std::string lower = ascii_lower(ext);
    if (lower == ".txt" || lower == ".text") return "txt";
    if (lower == ".md" || lower == ".markdown") return "md";
    return std::nullopt;
}

Result<TextDocument> decode_text(std::string_view bytes, const std::string& name) {
    if (bytes.empty()) return make_error(ErrorCode::invalid_argument, "{}: empty file", name);
    if (starts_with(bytes, std::string_view("\xFF\xFE\0\0", 4)) ||
        starts_with(bytes, std::string_view("\0\0\xFE\xFF", 4)))
        return make_error(ErrorCode::unsupported, "{}: UTF-32 text is not supported", name);
    TextDocument doc;
    doc.bytes = bytes.size();
    if (starts_with(bytes, "\xFF\xFE") || starts_with(bytes, "\xFE\xFF")) {
        const bool le = bytes[0] == '\xFF';
        DK_ASSIGN_OR_RETURN(doc.text, decode_utf16(bytes.substr(2), le, name));
        doc.encoding = le ? "utf-16le" : "utf-16be";
    } else if (starts_with(bytes, "\xEF\xBB\xBF")) {
        const std::string_view rest = bytes.substr(3);
        if (const size_t bad = first_invalid_utf8(rest); bad != std::string_view::npos)
            return make_error(ErrorCode::corrupt_data,
                              "{}: undecodable: UTF-8 byte order mark but invalid UTF-8 at byte {}", name,
                              bad + 3);
        doc.text = rest;
        doc.encoding = "utf-8";
    } else if (first_invalid_utf8(bytes) == std::string_view::npos) {
        doc.text = bytes;
        doc.encoding = "utf-8";
    } else {
        doc.text = decode_cp1252(bytes);
        doc.encoding = "windows-1252";
    }
    DK_TRY(check_not_binary(doc.text, name));
    normalize_line_ends(doc.text);
    if (doc.text.empty())
        return make_error(ErrorCode::invalid_argument, "{}: empty file (only a byte order mark)", name);
    return doc;
}

Result<TextDocument> read_text_file(const std::string& path, uint64_t max_bytes) {
    const auto format = text_format_for_extension(file_extension_lower(path));
    if (!format)
        return make_error(ErrorCode::unsupported,
                          "{}: unsupported format (the text reader takes .txt .text .md .markdown)", path);
    // O_NONBLOCK: opening a FIFO without a writer must not hang; fstat below rejects it.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return make_error(err == ENOENT || err == ENOTDIR ? ErrorCode::not_found : ErrorCode::io_error,
                          "{}: cannot open: {}", path, std::strerror(err));
    }
    FdGuard guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return make_error(ErrorCode::io_error, "{}: fstat failed: {}", path, std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return make_error(ErrorCode::invalid_argument, "{}: not a regular file ({})", path,
                          file_type_name(st.st_mode));
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size == 0) return make_error(ErrorCode::invalid_argument, "{}: empty file", path);
    if (size > max_bytes)
        return make_error(ErrorCode::invalid_argument, "{}: {} bytes is over the size limit of {} bytes",
                          path, size, max_bytes);
    DK_ASSIGN_OR_RETURN(const std::string bytes, read_fd(fd, size, path));
    DK_ASSIGN_OR_RETURN(TextDocument doc, decode_text(bytes, path));
    doc.format = *format;
    return doc;
}

}  // namespace docket::ingest

#pragma once
// Plain text and Markdown files to UTF-8: encoding detection (BOMs, UTF-8, else Windows-1252), line ends
// normalized to \n, binary content refused. Offsets into TextDocument::text are what segments and citations
// use.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace docket::ingest {

struct TextDocument {
    std::string text;      // UTF-8, \n line ends (CRLF and CR normalized), leading BOM stripped
    std::string encoding;  // "utf-8", "utf-16le", "utf-16be", "windows-1252"
    std::string format;    // "txt" or "md"
    uint64_t bytes = 0;    // file size
};

// "txt" for .txt/.text, "md" for .md/.markdown (case-insensitive), nullopt otherwise. `ext` is a file
// extension with its leading dot, as std::filesystem::path::extension() gives it (".TXT").
std::optional<std::string> text_format_for_extension(std::string_view ext);
inline bool is_text_extension(std::string_view ext) {
    return text_format_for_extension(ext).has_value();
}

// Reads a regular file of at most `max_bytes` bytes. Errors name the path and the reason: unsupported
// extension, cannot open (errno text), not a regular file (FIFOs are opened non-blocking, so they cannot hang
// the caller), empty, over the size limit (checked by fstat before reading), binary content, undecodable.
Result<TextDocument> read_text_file(const std::string& path, uint64_t max_bytes);

// The decoding step of read_text_file on bytes already in memory (`name` only labels errors).
Result<TextDocument> decode_text(std::string_view bytes, const std::string& name);

}  // namespace docket::ingest

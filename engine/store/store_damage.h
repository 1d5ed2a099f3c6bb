#pragma once
// Internal to engine/store: what opening a store and rebuilding its index share about damaged stores.
#include <optional>
#include <string>

#include "store/extent_format.h"
#include "store/sqlite_db.h"

namespace docket::store {

// The sentence every "damaged store" error ends with.
std::string rebuild_hint(const std::string& dir);
// The extent header at `offset` of an open segment file, or nullopt when no plausible header is there
// (extent_header_plausible; the checksum is not checked).
Result<std::optional<ExtentHeader>> read_extent_header(int fd, uint64_t offset, const std::string& path);
// index.db created empty with mode 0600 (its -wal/-shm inherit it); make_owner_only tightens an older one.
Status create_index_file(const std::string& index);
Status make_owner_only(const std::string& index);
// "<index> is not a Docket index ... refusing to touch it" (invalid_argument).
Status foreign_index_error(const std::string& index);
// invalid_argument when index.db is some other program's database, found by reading it read-only.
Status refuse_foreign_index(const std::string& index);
// sqlite_sequence's value for an AUTOINCREMENT table (0 when it has none yet).
Result<int64_t> sequence_of(Db& db, const char* table);

}  // namespace docket::store

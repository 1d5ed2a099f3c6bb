#pragma once
// The store's SQLite schema, applied as numbered migrations recorded in `schema_migrations`. Other rooms
// (ingest, query) add their tables as further migrations here rather than creating tables ad hoc.
#include "store/sqlite_db.h"

namespace docket::store {

inline constexpr int kSchemaVersion = 3;

// Applies every migration newer than the database's version, each in its own transaction. A database newer
// than this build is refused (unsupported) rather than guessed at.
Status migrate(Db& db);

}  // namespace docket::store

#pragma once
// The store's SQLite schema, applied as numbered migrations recorded in `schema_migrations`. Other rooms
// (ingest, query) add their tables as further migrations here rather than creating tables ad hoc.
#include "store/sqlite_db.h"

namespace docket::store {

// PRAGMA application_id of a Docket index ("DKST"): how a store is told from some other program's SQLite
// file before anything is written to it.
inline constexpr int32_t kApplicationId = 0x444B5354;

enum class IndexKind {
    docket,   // application_id is Docket's
    legacy,   // written before the marker: application_id 0, Docket's first migration recorded
    empty,    // no schema at all (a new or zero-length file)
    foreign,  // anything else: never touched
};
// Reads only (application_id, sqlite_master, schema_migrations). corrupt_data when SQLite cannot read it.
Result<IndexKind> classify_index(Db& db);

// Applies every migration not yet recorded in schema_migrations (by version, so that numbering gaps are
// fine), each in its own transaction, and stamps kApplicationId. A database holding a version this build
// does not know is refused (unsupported) rather than guessed at.
Status migrate(Db& db);
// unsupported when the database records a migration this build does not know (readers do not migrate).
Status check_schema_known(Db& db);

}  // namespace docket::store

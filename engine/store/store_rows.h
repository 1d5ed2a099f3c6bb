#pragma once
// Row <-> struct helpers shared by the store's writer and readers (internal to engine/store).
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store_types.h"

namespace docket::store {

// SELECT list for SnapshotInfo, joined to the document for messages; append a WHERE clause.
extern const char* const kSnapshotSelect;
SnapshotInfo snapshot_from_row(const Stmt& st);
Result<std::vector<ExtentLoc>> load_extents(Db& db, int64_t snapshot_id);
// INSERT of one extent row; bind_extent binds its 10 parameters.
extern const char* const kExtentInsert;
Stmt& bind_extent(Stmt& st, int64_t snapshot_id, const ExtentLoc& e);
Status bind_key(Stmt& st, int first,
                const SnapshotKey& key);  // binds 5 params: fp, codec, params, prefix, content
int64_t now_ms();

// (layers per extent, pages per extent) for a snapshot, aiming at `target` raw bytes per extent.
struct ExtentPlan {
    int layers = 1, pages = 1;
};
ExtentPlan plan_extents(const KvShape& shape, int n_pages, size_t page_bytes, size_t target);

}  // namespace docket::store

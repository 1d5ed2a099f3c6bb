#include "store/store_rows.h"

#include <algorithm>
#include <chrono>

namespace docket::store {

const char* const kSnapshotSelect =
    "SELECT s.id, s.model_fp, s.codec, s.codec_params, s.prefix_hash, s.content_hash, s.n_layers, "
    "s.n_kv_heads, "
    "s.head_dim, s.n_tokens, s.state, s.bytes, s.raw_bytes, coalesce(s.segment_id, 0), coalesce(d.path, '') "
    "FROM snapshots s LEFT JOIN segments g ON g.id = s.segment_id LEFT JOIN documents d ON d.id = "
    "g.document_id ";

const char* snapshot_state_name(SnapshotState s) {
    return s == SnapshotState::ready ? "ready" : s == SnapshotState::bad ? "bad" : "writing";
}

std::string SnapshotInfo::describe() const {
    if (document.empty()) return fmt::format("snapshot {}", id);
    return fmt::format("snapshot {} (document {})", id, document);
}

SnapshotInfo snapshot_from_row(const Stmt& st) {
    SnapshotInfo s;
    s.id = st.col_int(0);
    s.key.model = st.col_hash(1);
    const int64_t codec = st.col_int(2);
    s.key.codec.codec =
        kv_page::codec_valid(static_cast<uint32_t>(codec)) ? static_cast<Codec>(codec) : Codec::fp16;
    s.key.prefix = st.col_hash(4);
    s.key.content = st.col_hash(5);
    s.shape = KvShape{static_cast<int>(st.col_int(6)), static_cast<int>(st.col_int(7)),
                      static_cast<int>(st.col_int(8))};
    s.key.codec.k_group = kv_page::kTokens;
    s.key.codec.v_group = s.shape.head_dim;
    s.n_tokens = st.col_int(9);
    std::string state = st.col_text(10);
    s.state = state == "ready" ? SnapshotState::ready
              : state == "bad" ? SnapshotState::bad
                               : SnapshotState::writing;
    s.bytes = static_cast<uint64_t>(st.col_int(11));
    s.raw_bytes = static_cast<uint64_t>(st.col_int(12));
    s.segment_id = st.col_int(13);
    s.document = st.col_text(14);
    return s;
}

Result<std::vector<ExtentLoc>> load_extents(Db& db, int64_t snapshot_id) {
    DK_ASSIGN_OR_RETURN(auto st,
                        db.prepare("SELECT id, layer_begin, layer_end, page_begin, page_end, file_id, "
                                   "offset, length, raw_length, checksum FROM extents WHERE snapshot_id = ? "
                                   "ORDER BY layer_begin, page_begin"));
    st.bind(1, snapshot_id);
    std::vector<ExtentLoc> out;
    for (;;) {
        DK_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) break;
        ExtentLoc e;
        e.id = st.col_int(0);
        e.layer_begin = static_cast<int>(st.col_int(1));
        e.layer_end = static_cast<int>(st.col_int(2));
        e.page_begin = static_cast<int>(st.col_int(3));
        e.page_end = static_cast<int>(st.col_int(4));
        e.file_id = st.col_int(5);
        e.offset = static_cast<uint64_t>(st.col_int(6));
        e.length = static_cast<uint64_t>(st.col_int(7));
        e.raw_length = static_cast<uint64_t>(st.col_int(8));
        e.checksum = static_cast<uint64_t>(st.col_int(9));
        out.push_back(e);
    }
    return out;
}

const char* const kExtentInsert =
    "INSERT INTO extents(snapshot_id, layer_begin, layer_end, page_begin, page_end, file_id, offset, length, "
    "raw_length, checksum) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

Stmt& bind_extent(Stmt& st, int64_t snapshot_id, const ExtentLoc& e) {
    return st.bind(1, snapshot_id)
        .bind(2, e.layer_begin)
        .bind(3, e.layer_end)
        .bind(4, e.page_begin)
        .bind(5, e.page_end)
        .bind(6, e.file_id)
        .bind(7, e.offset)
        .bind(8, e.length)
        .bind(9, e.raw_length)
        .bind(10, e.checksum);
}

Status bind_key(Stmt& st, int first, const SnapshotKey& key) {
    st.bind(first, key.model)
        .bind(first + 1, static_cast<int>(key.codec.codec))
        .bind(first + 2, codec_params_string(key.codec))
        .bind(first + 3, key.prefix)
        .bind(first + 4, key.content);
    return Status::ok();
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

ExtentPlan plan_extents(const KvShape& shape, int n_pages, size_t page_bytes, size_t target) {
    ExtentPlan p;
    const size_t per_target = std::max<size_t>(1, target / page_bytes);
    // Split the token axis into equal blocks no larger than the target, then group layers to reach it.
    const size_t blocks = (static_cast<size_t>(n_pages) + per_target - 1) / per_target;
    p.pages = static_cast<int>((static_cast<size_t>(n_pages) + blocks - 1) / blocks);
    const size_t layers = std::max<size_t>(1, target / (static_cast<size_t>(p.pages) * page_bytes));
    p.layers = static_cast<int>(std::min<size_t>(layers, static_cast<size_t>(shape.n_layers)));
    // Even layer groups too (30 layers at 8 per extent -> 4 groups of 7.5 -> 8,8,7,7 would be uneven).
    const int groups = (shape.n_layers + p.layers - 1) / p.layers;
    p.layers = (shape.n_layers + groups - 1) / groups;
    return p;
}

}  // namespace docket::store

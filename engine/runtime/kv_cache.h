#pragma once
// The CPU key/value cache of one sequence: per layer, keys BEFORE RoPE and values, each
// [n_tokens, n_kv_heads, head_dim] f32, plus one position per token (shared by all layers).
//
// Keys are kept position-free so that a segment's KV computed at positions 0..n-1 can be placed at any offset
// (Docket's composition): RoPE is applied at attention time for each token's current position. The rotated
// copy is a derived cache kept here (so it follows every edit): tokens [0, rotated(l)) of layer l have valid
// rotated keys; any change to keys or positions at index i lowers rotated(l) to at most i.
//
// Tokens are appended at explicit positions (not necessarily contiguous or increasing). Attention masks by
// position: a query at position p sees every cached token whose position is <= p.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/model.h"
#include "util/status.h"

namespace docket {

class KvCache {
public:
    // Up to `capacity` tokens of a model with this config. Memory is not taken up front: it grows with the
    // tokens appended (doubling, capped at the capacity), so a large --ctx costs nothing until it is used.
    static Result<std::unique_ptr<KvCache>> create(const ModelConfig& config, int32_t capacity);
    static Result<std::unique_ptr<KvCache>> create(int32_t n_layer, int32_t n_kv_heads, int32_t head_dim,
                                                   int32_t capacity);

    int32_t n_layer() const { return n_layer_; }
    int32_t n_kv_heads() const { return n_kv_heads_; }
    int32_t head_dim() const { return head_dim_; }
    int32_t row_size() const { return n_kv_heads_ * head_dim_; }  // floats per token per layer in K (and V)
    int32_t capacity() const { return capacity_; }                // the limit
    int32_t size() const { return size_; }
    int32_t allocated() const {
        return allocated_;
    }                        // rows memory is held for: size() <= allocated() <= capacity()
    uint64_t bytes() const;  // memory held (K, V, rotated K, positions)

    // [size()] positions, one per cached token.
    const int32_t* positions() const { return pos_.data(); }

    // Layer `l`'s pre-RoPE keys / values, [allocated, n_kv_heads, head_dim]; rows [0, size()) are valid.
    // Writing through the mutable pointers requires invalidate_rotation(first written row) for keys. append()
    // may move the storage: pointers taken before it are stale after it.
    const float* k(int32_t l) const { return k_[l].data(); }
    const float* v(int32_t l) const { return v_[l].data(); }
    float* k_mut(int32_t l) { return k_[l].data(); }
    float* v_mut(int32_t l) { return v_[l].data(); }

    // Reserves n = positions.size() rows at the end with these positions (K/V contents undefined until
    // written); returns the index of the first. Fails when the capacity would be exceeded, or with
    // out_of_memory when the storage cannot grow (the cache is then unchanged).
    Result<int32_t> append(std::span<const int32_t> positions);

    // Copies rows [first, first + n) of layer l in or out: k, v are [n, n_kv_heads, head_dim].
    // This is the seam for the snapshot store (read a segment's pre-RoPE KV; place it into another cache).
    Status write(int32_t l, int32_t first, int32_t n, const float* k, const float* v);
    Status read(int32_t l, int32_t first, int32_t n, float* k, float* v) const;
    // Re-places rows [first, first + positions.size()) at new positions (e.g. moving a snapshot).
    Status set_positions(int32_t first, std::span<const int32_t> positions);

    void truncate(int32_t n);  // keeps rows [0, n)
    void clear() { truncate(0); }

    // Rotated keys (derived): layer l's keys with RoPE applied at each row's position, in 16-token tiles for
    // the attention kernel: token j, kv head g, dim d at k_rot(l)[(j / 16) * k_rot_tile_stride() + (g *
    // head_dim + d)
    // * 16 + j % 16].
    int64_t k_rot_tile_stride() const { return static_cast<int64_t>(row_size()) * 16; }
    float* k_rot_mut(int32_t l) { return k_rot_[l].data(); }
    const float* k_rot(int32_t l) const { return k_rot_[l].data(); }
    int32_t rotated(int32_t l) const { return rotated_[l]; }
    void mark_rotated(int32_t l, int32_t upto) { rotated_[l] = upto; }
    void invalidate_rotation(int32_t from);
    void invalidate_rotation(int32_t l, int32_t from);

private:
    KvCache() = default;
    Status check_range(int32_t l, int32_t first, int32_t n) const;
    Status reserve(int32_t rows);  // allocated_ >= rows (<= capacity_), growing geometrically

    int32_t n_layer_ = 0, n_kv_heads_ = 0, head_dim_ = 0, capacity_ = 0, size_ = 0, allocated_ = 0;
    std::vector<std::vector<float>> k_, v_, k_rot_;
    std::vector<int32_t> pos_;
    std::vector<int32_t> rotated_;
};

}  // namespace docket

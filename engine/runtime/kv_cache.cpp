#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace docket {

Result<std::unique_ptr<KvCache>> KvCache::create(const ModelConfig& c, int32_t capacity) {
    return create(c.n_layer, c.n_head_kv, c.head_dim, capacity);
}

Result<std::unique_ptr<KvCache>> KvCache::create(int32_t n_layer, int32_t n_kv_heads, int32_t head_dim,
                                                 int32_t capacity) {
    if (n_layer <= 0 || n_kv_heads <= 0 || head_dim <= 0 || capacity <= 0)
        return make_error(ErrorCode::invalid_argument,
                          "KV cache dims must be positive (layers {}, kv heads {}, "
                          "head dim {}, capacity {})",
                          n_layer, n_kv_heads, head_dim, capacity);
    std::unique_ptr<KvCache> c(new KvCache());
    c->n_layer_ = n_layer;
    c->n_kv_heads_ = n_kv_heads;
    c->head_dim_ = head_dim;
    c->capacity_ = capacity;
    c->k_.resize(n_layer);
    c->v_.resize(n_layer);
    c->k_rot_.resize(n_layer);
    c->rotated_.assign(n_layer, 0);
    return c;
}

Status KvCache::reserve(int32_t rows) {
    if (rows <= allocated_) return Status::ok();
    // Doubling keeps the copies amortized O(1) per token; whole 16-token tiles (the rotated keys are read a
    // full tile past the last token).
    const int64_t grown = std::max<int64_t>({rows, 2 * static_cast<int64_t>(allocated_), 64});
    const int32_t target = static_cast<int32_t>(std::min<int64_t>((grown + 15) / 16 * 16, capacity_));
    const size_t row = static_cast<size_t>(row_size());
    const size_t rot_rows = (static_cast<size_t>(target) + 15) / 16 * 16;
    // One layer at a time (reserve allocates exactly, then the old buffer is freed), so the peak is the cache
    // plus one layer's copy. If a layer does not fit, allocated_ keeps its old value and the cache is as
    // usable as before (layers already grown are merely larger).
    auto grow = [](auto& v, size_t n) {
        v.reserve(n);
        v.resize(n);
    };
    try {
        for (int32_t l = 0; l < n_layer_; ++l) {
            grow(k_[l], target * row);
            grow(v_[l], target * row);
            grow(k_rot_[l], rot_rows * row);
        }
        grow(pos_, static_cast<size_t>(target));
    } catch (const std::bad_alloc&) {
        return make_error(ErrorCode::out_of_memory, "KV cache of {} tokens x {} layers ({} MiB) does not fit",
                          target, n_layer_, 3ull * target * row * n_layer_ * sizeof(float) >> 20);
    }
    allocated_ = target;
    return Status::ok();
}

uint64_t KvCache::bytes() const {
    uint64_t b = pos_.size() * sizeof(int32_t);
    for (int32_t l = 0; l < n_layer_; ++l)
        b += (k_[l].size() + v_[l].size() + k_rot_[l].size()) * sizeof(float);
    return b;
}

Result<int32_t> KvCache::append(std::span<const int32_t> positions) {
    const int64_t n = static_cast<int64_t>(positions.size());
    if (size_ + n > capacity_)
        return make_error(ErrorCode::out_of_memory, "KV cache full: {} tokens cached + {} new > capacity {}",
                          size_, n, capacity_);
    for (int64_t i = 0; i < n; ++i) {
        if (positions[i] < 0)
            return make_error(ErrorCode::invalid_argument, "position {} of token {} is negative",
                              positions[i], i);
    }
    DK_TRY(reserve(static_cast<int32_t>(size_ + n)));
    const int32_t first = size_;
    std::copy(positions.begin(), positions.end(), pos_.begin() + first);
    size_ += static_cast<int32_t>(n);
    invalidate_rotation(first);
    return first;
}

Status KvCache::check_range(int32_t l, int32_t first, int32_t n) const {
    if (l < 0 || l >= n_layer_)
        return make_error(ErrorCode::invalid_argument, "layer {} out of [0, {})", l, n_layer_);
    if (first < 0 || n < 0 || static_cast<int64_t>(first) + n > size_)
        return make_error(ErrorCode::invalid_argument, "rows [{}, {}) out of the cache's [0, {})", first,
                          static_cast<int64_t>(first) + n, size_);
    return Status::ok();
}

Status KvCache::write(int32_t l, int32_t first, int32_t n, const float* k, const float* v) {
    DK_TRY(check_range(l, first, n));
    const size_t off = static_cast<size_t>(first) * row_size(), len = static_cast<size_t>(n) * row_size();
    if (k) std::memcpy(k_[l].data() + off, k, len * sizeof(float));
    if (v) std::memcpy(v_[l].data() + off, v, len * sizeof(float));
    if (k) invalidate_rotation(l, first);
    return Status::ok();
}

Status KvCache::read(int32_t l, int32_t first, int32_t n, float* k, float* v) const {
    DK_TRY(check_range(l, first, n));
    const size_t off = static_cast<size_t>(first) * row_size(), len = static_cast<size_t>(n) * row_size();
    if (k) std::memcpy(k, k_[l].data() + off, len * sizeof(float));
    if (v) std::memcpy(v, v_[l].data() + off, len * sizeof(float));
    return Status::ok();
}

Status KvCache::set_positions(int32_t first, std::span<const int32_t> positions) {
    DK_TRY(check_range(0, first, static_cast<int32_t>(positions.size())));
    // All checked before any is written: a rejected call leaves the cache as it was.
    for (size_t i = 0; i < positions.size(); ++i)
        if (positions[i] < 0)
            return make_error(ErrorCode::invalid_argument, "position {} of row {} is negative", positions[i],
                              first + i);
    std::copy(positions.begin(), positions.end(), pos_.begin() + first);
    invalidate_rotation(first);
    return Status::ok();
}

void KvCache::truncate(int32_t n) {
    size_ = std::clamp(n, 0, size_);
    invalidate_rotation(size_);
}

void KvCache::invalidate_rotation(int32_t from) {
    for (int32_t l = 0; l < n_layer_; ++l) invalidate_rotation(l, from);
}

void KvCache::invalidate_rotation(int32_t l, int32_t from) {
    rotated_[l] = std::min(rotated_[l], std::max(from, 0));
}

}  // namespace docket

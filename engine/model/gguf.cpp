#include "model/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <unordered_set>

namespace docket {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxDims = 4;
// Vectors are pre-sized from a file's counts at most this far; past it they grow as entries are actually
// read, so memory follows the bytes parsed, not a count the file claims (a KV entry is ~150 bytes in memory
// for 12 on disk, a tensor info ~100 for 28).
constexpr uint64_t kMaxReserve = 4096;
// Items across all arrays-of-arrays in one file. An item takes 12 bytes on disk but ~130 in memory, so a file
// of nested empty arrays would otherwise cost 10x its size. Real models use none (tokenizers use flat
// arrays).
constexpr uint64_t kMaxNestedItems = uint64_t{1} << 16;

// Bounds-checked little-endian cursor over the file bytes. Every read names the field it is for.
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    Status need(uint64_t n, std::string_view what) const {
        if (n > remaining())
            return make_error(ErrorCode::corrupt_data, "{}: truncated reading {} at offset {} (need {} bytes, {} left)",
                              name_, what, pos_, n, remaining());
        return Status::ok();
    }
    template <typename T>
    Status read(T* out, std::string_view what) {
        DK_TRY(need(sizeof(T), what));
        std::memcpy(out, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return Status::ok();
    }
    Status read_string(std::string_view* out, std::string_view what) {
        uint64_t at = pos_;
        uint64_t len = 0;
        DK_TRY(read(&len, what));
        if (len > remaining())
            return make_error(ErrorCode::corrupt_data, "{}: {} at offset {} has length {} but only {} bytes remain",
                              name_, what, at, len, remaining());
        *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
        pos_ += len;
        return Status::ok();
    }
    const uint8_t* here() const { return data_ + pos_; }
    void skip(uint64_t n) { pos_ += n; }
    Status error(std::string_view what, uint64_t at, const std::string& problem) const {
        return make_error(ErrorCode::corrupt_data, "{}: {} at offset {}: {}", name_, what, at, problem);
    }
    const std::string& name() const { return name_; }

    // Budget for arrays-of-arrays items left in this file (see kMaxNestedItems).
    uint64_t nested_items_left = kMaxNestedItems;

private:
    const uint8_t* data_;
    size_t size_;
    uint64_t pos_ = 0;
    const std::string& name_;
};

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::f64); }

Status read_value(Cursor& c, GgufType type, GgufValue* v, std::string_view what, int depth);

Status read_scalar(Cursor& c, GgufType type, GgufValue* v, std::string_view what) {
    v->type = type;
    switch (type) {
        case GgufType::u8: { uint8_t x; DK_TRY(c.read(&x, what)); v->u = x; v->i = x; break; }
        case GgufType::i8: { int8_t x; DK_TRY(c.read(&x, what)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
        case GgufType::u16: { uint16_t x; DK_TRY(c.read(&x, what)); v->u = x; v->i = x; break; }
        case GgufType::i16: { int16_t x; DK_TRY(c.read(&x, what)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
        case GgufType::u32: { uint32_t x; DK_TRY(c.read(&x, what)); v->u = x; v->i = x; break; }
        case GgufType::i32: { int32_t x; DK_TRY(c.read(&x, what)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
        case GgufType::u64: { uint64_t x; DK_TRY(c.read(&x, what)); v->u = x; v->i = static_cast<int64_t>(x); break; }
        case GgufType::i64: { int64_t x; DK_TRY(c.read(&x, what)); v->i = x; v->u = static_cast<uint64_t>(x); break; }
        case GgufType::f32: { float x; DK_TRY(c.read(&x, what)); v->f = x; break; }
        case GgufType::f64: { double x; DK_TRY(c.read(&x, what)); v->f = x; break; }
        case GgufType::boolean: {
            uint64_t at = c.pos();
            uint8_t x; DK_TRY(c.read(&x, what));
            if (x > 1) return c.error(what, at, fmt::format("boolean has value {}", x));
            v->u = x; v->i = x; break;
        }
        case GgufType::string: DK_TRY(c.read_string(&v->str, what)); break;
        case GgufType::array: return Status(ErrorCode::internal, "read_scalar called for an array");
    }
    return Status::ok();
}

Status read_array(Cursor& c, GgufValue* v, std::string_view what, int depth) {
    uint64_t at = c.pos();
    if (depth >= kMaxArrayDepth) return c.error(what, at, fmt::format("arrays nested deeper than {}", kMaxArrayDepth));
    uint32_t et = 0;
    DK_TRY(c.read(&et, what));
    if (!valid_type(et)) return c.error(what, at, fmt::format("unknown array element type {}", et));
    uint64_t count = 0;
    DK_TRY(c.read(&count, what));
    v->type = GgufType::array;
    v->elem_type = static_cast<GgufType>(et);
    v->count = count;
    size_t es = gguf_scalar_size(v->elem_type);
    // Every element needs at least this many bytes (a string its u64 length, a nested array its type and count),
    // so an absurd count is caught before any allocation.
    uint64_t min_each = es ? es : (v->elem_type == GgufType::array ? 12 : 8);
    if (count > c.remaining() / min_each)
        return c.error(what, at,
                       fmt::format("array of {} {} elements does not fit in the {} bytes left", count,
                                   gguf_type_name(v->elem_type), c.remaining()));
    if (es) {
        v->raw = c.here();
        if (v->elem_type == GgufType::boolean) {
            for (uint64_t k = 0; k < count; ++k)
                if (v->raw[k] > 1) return c.error(what, c.pos() + k, fmt::format("boolean has value {}", v->raw[k]));
        }
        c.skip(count * es);
    } else if (v->elem_type == GgufType::string) {
        v->strings.reserve(std::min(count, kMaxReserve));
        for (uint64_t k = 0; k < count; ++k) {
            std::string_view sv;
            DK_TRY(c.read_string(&sv, what));
            v->strings.push_back(sv);
        }
    } else {
        if (count > c.nested_items_left)
            return c.error(what, at,
                           fmt::format("arrays of arrays hold more than {} items in all (this one claims {})",
                                       kMaxNestedItems, count));
        c.nested_items_left -= count;
        // Grown as items are read: pre-sizing at every nesting level would allocate far more than the file holds.
        for (uint64_t k = 0; k < count; ++k) {
            GgufValue item;
            DK_TRY(read_array(c, &item, what, depth + 1));
            v->items.push_back(std::move(item));
        }
    }
    return Status::ok();
}

Status read_value(Cursor& c, GgufType type, GgufValue* v, std::string_view what, int depth) {
    if (type == GgufType::array) return read_array(c, v, what, depth);
    return read_scalar(c, type, v, what);
}

bool mul_overflow(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

template <typename T>
T load_le(const uint8_t* p) {
    T x;
    std::memcpy(&x, p, sizeof(T));
    return x;
}

double array_elem_as_double(const GgufValue& v, uint64_t k) {
    const uint8_t* p = v.raw + k * gguf_scalar_size(v.elem_type);
    switch (v.elem_type) {
        case GgufType::u8: return load_le<uint8_t>(p);
        case GgufType::i8: return load_le<int8_t>(p);
        case GgufType::u16: return load_le<uint16_t>(p);
        case GgufType::i16: return load_le<int16_t>(p);
        case GgufType::u32: return load_le<uint32_t>(p);
        case GgufType::i32: return load_le<int32_t>(p);
        case GgufType::u64: return static_cast<double>(load_le<uint64_t>(p));
        case GgufType::i64: return static_cast<double>(load_le<int64_t>(p));
        case GgufType::f32: return load_le<float>(p);
        case GgufType::f64: return load_le<double>(p);
        case GgufType::boolean: return load_le<uint8_t>(p);
        default: return 0;
    }
}

bool is_int_type(GgufType t) {
    switch (t) {
        case GgufType::u8: case GgufType::i8: case GgufType::u16: case GgufType::i16:
        case GgufType::u32: case GgufType::i32: case GgufType::u64: case GgufType::i64: return true;
        default: return false;
    }
}
bool is_signed_type(GgufType t) {
    return t == GgufType::i8 || t == GgufType::i16 || t == GgufType::i32 || t == GgufType::i64;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
    static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    auto i = static_cast<uint32_t>(t);
    return i < std::size(names) ? names[i] : "unknown";
}

size_t gguf_scalar_size(GgufType t) {
    switch (t) {
        case GgufType::u8: case GgufType::i8: case GgufType::boolean: return 1;
        case GgufType::u16: case GgufType::i16: return 2;
        case GgufType::u32: case GgufType::i32: case GgufType::f32: return 4;
        case GgufType::u64: case GgufType::i64: case GgufType::f64: return 8;
        default: return 0;
    }
}

bool GgufValue::is_integer() const { return is_int_type(type) || type == GgufType::boolean; }

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
    DK_ASSIGN_OR_RETURN(auto map, MappedFile::open(path));
    std::unique_ptr<GgufFile> f(new GgufFile());
    f->base_ = map->data();
    f->size_ = map->size();
    f->name_ = path;
    f->map_ = std::move(map);
    DK_TRY(f->parse_guarded());
    return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::parse(const uint8_t* data, size_t size, std::string name) {
    std::unique_ptr<GgufFile> f(new GgufFile());
    f->base_ = data;
    f->size_ = size;
    f->name_ = std::move(name);
    DK_TRY(f->parse_guarded());
    return f;
}

Status GgufFile::parse_guarded() {
    // The counts are bounded by the file size, but a large file's metadata can still exceed free memory.
    try {
        return parse_all();
    } catch (const std::bad_alloc&) {
        return make_error(ErrorCode::out_of_memory,
                          "{}: out of memory parsing the GGUF header ({} bytes, {} "
                          "metadata entries and {} tensors read so far)",
                          name_, size_, kvs_.size(), tensors_.size());
    }
}

Status GgufFile::parse_all() {
    Cursor c(base_, size_, name_);
    uint32_t magic = 0;
    DK_TRY(c.read(&magic, "magic"));
    if (magic != kGgufMagic)
        return make_error(ErrorCode::corrupt_data, "{}: not a GGUF file (magic at offset 0 is 0x{:08x}, want 0x{:08x})",
                          name_, magic, kGgufMagic);
    DK_TRY(c.read(&version_, "version"));
    if (version_ != 2 && version_ != 3) {
        if (version_ == 1) return make_error(ErrorCode::unsupported, "{}: GGUF version 1 is not supported (offset 4)", name_);
        if (version_ != 0 && (version_ & 0xFFFF) == 0)
            return make_error(ErrorCode::unsupported, "{}: big-endian GGUF (version field 0x{:08x} at offset 4)", name_,
                              version_);
        return make_error(ErrorCode::corrupt_data, "{}: unknown GGUF version {} at offset 4", name_, version_);
    }
    uint64_t n_tensors = 0, n_kv = 0;
    DK_TRY(c.read(&n_tensors, "tensor count"));
    DK_TRY(c.read(&n_kv, "metadata count"));
    // A key-value pair takes at least 12 bytes (key length + type); a tensor info at least 28.
    if (n_kv > c.remaining() / 12)
        return c.error("metadata count", 16, fmt::format("{} entries cannot fit in {} bytes", n_kv, c.remaining()));
    if (n_tensors > c.remaining() / 28)
        return c.error("tensor count", 8, fmt::format("{} tensors cannot fit in {} bytes", n_tensors, c.remaining()));

    kvs_.reserve(std::min(n_kv, kMaxReserve));
    std::unordered_set<std::string_view> seen;
    for (uint64_t k = 0; k < n_kv; ++k) {
        GgufKv kv;
        kv.file_offset = c.pos();
        DK_TRY(c.read_string(&kv.key, fmt::format("key of metadata entry {}", k)));
        if (!seen.insert(kv.key).second)
            return c.error(fmt::format("metadata key '{}'", kv.key), kv.file_offset, "duplicate key");
        uint64_t type_at = c.pos();
        uint32_t t = 0;
        std::string what = fmt::format("metadata '{}'", kv.key);
        DK_TRY(c.read(&t, what));
        if (!valid_type(t)) return c.error(what, type_at, fmt::format("unknown value type {}", t));
        DK_TRY(read_value(c, static_cast<GgufType>(t), &kv.value, what, 0));
        kvs_.push_back(std::move(kv));
    }

    for (const auto& kv : kvs_) {
        if (kv.key != "general.alignment") continue;
        const GgufValue* a = &kv.value;
        if (!is_int_type(a->type) || (is_signed_type(a->type) && a->i < 0) || !gguf_alignment_valid(a->u))
            return c.error("metadata 'general.alignment'", kv.file_offset,
                           a->is_integer()
                               ? fmt::format("must be a power of two from 8 to 2^30, got {}", a->i)
                               : fmt::format("must be an integer, got {}", gguf_type_name(a->type)));
        alignment_ = a->u;
    }

    tensors_.reserve(std::min(n_tensors, kMaxReserve));
    std::unordered_set<std::string_view> tnames;
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensor t;
        uint64_t at = c.pos();
        std::string_view nm;
        DK_TRY(c.read_string(&nm, fmt::format("name of tensor {}", k)));
        t.name = std::string(nm);
        std::string what = fmt::format("tensor '{}'", t.name);
        if (!tnames.insert(nm).second) return c.error(what, at, "duplicate tensor name");
        uint32_t nd = 0;
        uint64_t nd_at = c.pos();
        DK_TRY(c.read(&nd, what));
        if (nd == 0 || nd > kMaxDims) return c.error(what, nd_at, fmt::format("{} dimensions (1..4 allowed)", nd));
        t.n_dims = static_cast<int>(nd);
        uint64_t nel = 1;
        for (uint32_t d = 0; d < nd; ++d) {
            uint64_t dim_at = c.pos();
            uint64_t ne = 0;
            DK_TRY(c.read(&ne, what));
            if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                return c.error(what, dim_at, fmt::format("dimension {} is {}", d, ne));
            if (mul_overflow(nel, ne, &nel) || nel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                return c.error(what, dim_at, "element count overflows 64 bits");
            t.ne[d] = static_cast<int64_t>(ne);
        }
        uint64_t type_at = c.pos();
        uint32_t ty = 0;
        DK_TRY(c.read(&ty, what));
        const GgmlTypeTraits* tr = ggml_type_traits(ty);
        if (!tr) return make_error(ErrorCode::unsupported, "{}: {} at offset {}: unknown tensor type {}", name_, what, type_at, ty);
        t.type = static_cast<GgmlType>(ty);
        if (t.ne[0] % tr->block_size != 0)
            return c.error(what, type_at,
                           fmt::format("row length {} is not a multiple of the {} block size {}", t.ne[0], tr->name,
                                       tr->block_size));
        uint64_t nbytes = 0;
        if (mul_overflow(nel / tr->block_size, tr->type_size, &nbytes))
            return c.error(what, type_at, "byte size overflows 64 bits");
        t.nbytes = nbytes;
        uint64_t off_at = c.pos();
        DK_TRY(c.read(&t.offset, what));
        if (t.offset % alignment_ != 0)
            return c.error(what, off_at, fmt::format("data offset {} is not aligned to {}", t.offset, alignment_));
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next aligned offset after the header.
    uint64_t pos = c.pos();
    data_offset_ = (pos + alignment_ - 1) / alignment_ * alignment_;
    if (data_offset_ > size_ && !tensors_.empty())
        return make_error(ErrorCode::corrupt_data, "{}: data section at offset {} lies past the end of the file ({} bytes)",
                          name_, data_offset_, size_);
    // A file without tensors may end inside the padding (the writer does not pad an empty data section).
    if (data_offset_ > size_) data_offset_ = size_;
    const uint64_t data_size = size_ - data_offset_;
    for (auto& t : tensors_) {
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            return make_error(ErrorCode::corrupt_data,
                              "{}: tensor '{}' data [{}, {}) runs past the end of the file ({} data bytes from offset {})",
                              name_, t.name, t.offset, t.offset + t.nbytes, data_size, data_offset_);
        t.data = base_ + data_offset_ + t.offset;
    }
    return Status::ok();
}

const GgufValue* GgufFile::find(std::string_view key) const {
    for (const auto& kv : kvs_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

const GgufTensor* GgufFile::find_tensor(std::string_view nm) const {
    for (const auto& t : tensors_)
        if (t.name == nm) return &t;
    return nullptr;
}

#define DK_FIND_OR_NOT_FOUND(v, key)                                                            \
    const GgufValue* v = find(key);                                                             \
    if (!v) return make_error(ErrorCode::not_found, "{}: metadata key '{}' is missing", name_, key)

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (!v->is_integer() || (is_signed_type(v->type) && v->i < 0))
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is {}, expected an unsigned integer", name_, key,
                          gguf_type_name(v->type));
    return v->u;
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (!v->is_integer() || (v->type == GgufType::u64 && v->u > static_cast<uint64_t>(INT64_MAX)))
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is {}, expected an integer", name_, key,
                          gguf_type_name(v->type));
    return v->i;
}

Result<double> GgufFile::get_float(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->is_float()) return v->f;
    if (is_int_type(v->type)) return is_signed_type(v->type) ? static_cast<double>(v->i) : static_cast<double>(v->u);
    return make_error(ErrorCode::invalid_argument, "{}: '{}' is {}, expected a number", name_, key, gguf_type_name(v->type));
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->type != GgufType::boolean)
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is {}, expected bool", name_, key, gguf_type_name(v->type));
    return v->u != 0;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->type != GgufType::string)
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is {}, expected string", name_, key, gguf_type_name(v->type));
    return v->str;
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->type != GgufType::array || v->elem_type != GgufType::string)
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is not an array of strings", name_, key);
    return v->strings;
}

Result<std::vector<float>> GgufFile::get_f32_array(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->type != GgufType::array || gguf_scalar_size(v->elem_type) == 0)
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is not a numeric array", name_, key);
    std::vector<float> out(v->count);
    for (uint64_t k = 0; k < v->count; ++k) out[k] = static_cast<float>(array_elem_as_double(*v, k));
    return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
    DK_FIND_OR_NOT_FOUND(v, key);
    if (v->type != GgufType::array || !(is_int_type(v->elem_type) || v->elem_type == GgufType::boolean))
        return make_error(ErrorCode::invalid_argument, "{}: '{}' is not an integer array", name_, key);
    std::vector<int64_t> out(v->count);
    size_t es = gguf_scalar_size(v->elem_type);
    for (uint64_t k = 0; k < v->count; ++k) {
        const uint8_t* p = v->raw + k * es;
        switch (v->elem_type) {
            case GgufType::u64: out[k] = static_cast<int64_t>(load_le<uint64_t>(p)); break;
            case GgufType::i64: out[k] = load_le<int64_t>(p); break;
            default: out[k] = static_cast<int64_t>(array_elem_as_double(*v, k)); break;
        }
    }
    return out;
}

uint64_t GgufFile::get_uint_or(std::string_view key, uint64_t def) const {
    auto r = get_uint(key);
    return r ? *r : def;
}
double GgufFile::get_float_or(std::string_view key, double def) const {
    auto r = get_float(key);
    return r ? *r : def;
}
bool GgufFile::get_bool_or(std::string_view key, bool def) const {
    auto r = get_bool(key);
    return r ? *r : def;
}
std::string GgufFile::get_string_or(std::string_view key, std::string def) const {
    auto r = get_string(key);
    return r ? std::string(*r) : def;
}

}  // namespace docket

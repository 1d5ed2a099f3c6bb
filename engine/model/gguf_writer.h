#pragma once
// GGUF v3 writer: metadata of every value type (nested arrays included) and tensors of any ggml type, laid
// out as llama.cpp expects (tensor data aligned to general.alignment, default 32). Files are written to a
// temporary name, fsync'ed and renamed into place, so a reader never sees a half-written model.
//
// Tensor data can be given as bytes or produced while writing (a callback that streams the bytes), so that a
// multi-gigabyte model never has to sit in memory.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "model/gguf.h"
#include "util/status.h"

namespace docket {

// One metadata value to write. Build it with the named constructors.
struct GgufWriteValue {
    GgufType type = GgufType::u8;
    uint64_t scalar = 0;  // numeric/bool scalars: the little-endian bit pattern, low bytes used
    std::string str;
    // Arrays: elem_type plus one of raw (numeric/bool, count * scalar size bytes), strings, items (nested
    // arrays).
    GgufType elem_type = GgufType::u8;
    uint64_t count = 0;
    std::vector<uint8_t> raw;
    std::vector<std::string> strings;
    std::vector<GgufWriteValue> items;

    static GgufWriteValue u8(uint8_t v);
    static GgufWriteValue i8(int8_t v);
    static GgufWriteValue u16(uint16_t v);
    static GgufWriteValue i16(int16_t v);
    static GgufWriteValue u32(uint32_t v);
    static GgufWriteValue i32(int32_t v);
    static GgufWriteValue u64(uint64_t v);
    static GgufWriteValue i64(int64_t v);
    static GgufWriteValue f32(float v);
    static GgufWriteValue f64(double v);
    static GgufWriteValue boolean(bool v);
    static GgufWriteValue string(std::string v);
    // Numeric or bool array from raw little-endian elements (`bytes` = count * gguf_scalar_size(elem)).
    static GgufWriteValue numeric_array(GgufType elem, std::vector<uint8_t> bytes);
    static GgufWriteValue i32_array(const std::vector<int32_t>& v);
    static GgufWriteValue f32_array(const std::vector<float>& v);
    static GgufWriteValue string_array(std::vector<std::string> v);
    // Array whose elements are arrays (each item must itself be an array value).
    static GgufWriteValue array_of_arrays(std::vector<GgufWriteValue> items);
    // Deep copy of a value read from another GGUF (e.g. to carry a tokenizer over).
    static GgufWriteValue from_read(const GgufValue& v);
};

// Receives a tensor's bytes, in order, while the file is written.
class GgufTensorSink {
public:
    virtual ~GgufTensorSink() = default;
    virtual Status write(const void* data, size_t n) = 0;
};
using GgufTensorProducer = std::function<Status(GgufTensorSink& sink)>;

class GgufWriter {
public:
    GgufWriter() = default;

    // Adds a metadata entry; invalid_argument for a duplicate key or a malformed value. "general.alignment"
    // must be a u32 passing gguf_alignment_valid() (power of two, 8..2^30) and sets the data alignment.
    Status set(std::string key, GgufWriteValue value);
    Status set_u32(std::string key, uint32_t v) { return set(std::move(key), GgufWriteValue::u32(v)); }
    Status set_i32(std::string key, int32_t v) { return set(std::move(key), GgufWriteValue::i32(v)); }
    Status set_u64(std::string key, uint64_t v) { return set(std::move(key), GgufWriteValue::u64(v)); }
    Status set_f32(std::string key, float v) { return set(std::move(key), GgufWriteValue::f32(v)); }
    Status set_bool(std::string key, bool v) { return set(std::move(key), GgufWriteValue::boolean(v)); }
    Status set_string(std::string key, std::string v) {
        return set(std::move(key), GgufWriteValue::string(std::move(v)));
    }

    // Adds a tensor. `ne` holds 1..4 dimensions in ggml order (ne[0] contiguous, a multiple of the type's
    // block size). The bytes are either given (must be exactly the tensor's size) or streamed by `producer`
    // during write_file(), which must write exactly ggml_row_size(type, ne[0]) * rows bytes.
    Status add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> data);
    Status add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, GgufTensorProducer producer);

    uint64_t alignment() const { return alignment_; }
    size_t tensor_count() const { return tensors_.size(); }
    // Size of the whole file that write_file() will produce.
    uint64_t file_size() const;

    // Writes path.tmp.<pid> (a new file: O_EXCL, another suffix if that name exists), fsyncs it, renames it
    // to `path` and fsyncs the directory. `path` must be a regular file or not exist (a device node, FIFO,
    // directory or symbolic link is refused, before writing and again before the rename). On error the
    // temporary file is removed and `path` is untouched.
    Status write_file(const std::string& path) const;
    // The same bytes in memory (tests, fuzzing).
    Result<std::vector<uint8_t>> write_memory() const;

private:
    struct Tensor {
        std::string name;
        GgmlType type;
        std::vector<int64_t> ne;
        uint64_t nbytes = 0;
        std::vector<uint8_t> data;
        GgufTensorProducer producer;
    };
    struct Kv {
        std::string key;
        GgufWriteValue value;
    };
    Status add_tensor_info(std::string name, GgmlType type, std::vector<int64_t> ne, Tensor* out);
    std::vector<uint8_t> header_bytes() const;
    Status write_all(GgufTensorSink& out) const;

    uint64_t alignment_ = 32;
    std::vector<Kv> kvs_;
    std::vector<Tensor> tensors_;
};

}  // namespace docket

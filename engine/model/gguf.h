#pragma once
// GGUF reader (versions 2 and 3). Every count, length, offset and shape is checked against the file before use;
// a violation is a corrupt_data error naming the field and its file offset.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "util/mapped_file.h"
#include "util/status.h"

namespace docket {

enum class GgufType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* gguf_type_name(GgufType t);
// Bytes of one scalar of type t; 0 for string and array.
size_t gguf_scalar_size(GgufType t);

// general.alignment, for the reader and the writer alike: a power of two from 8 to 2^30. GGUF requires a
// multiple of 8; the runtime reads f32 tensor data in place, which a smaller alignment would misalign.
constexpr uint64_t kGgufMinAlignment = 8;
constexpr uint64_t kGgufMaxAlignment = uint64_t{1} << 30;
constexpr bool gguf_alignment_valid(uint64_t a) {
    return a >= kGgufMinAlignment && a <= kGgufMaxAlignment && (a & (a - 1)) == 0;
}

// One metadata value. Strings and numeric arrays point into the file's bytes (valid while the GgufFile lives).
struct GgufValue {
    GgufType type = GgufType::u8;
    // Scalars: integers in i or u (both set when representable), floats in f, bool in u.
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    std::string_view str;
    // Arrays.
    GgufType elem_type = GgufType::u8;
    uint64_t count = 0;
    const uint8_t* raw = nullptr;            // numeric/bool arrays: `count` little-endian elements (may be unaligned)
    std::vector<std::string_view> strings;   // string arrays
    std::vector<GgufValue> items;            // arrays of arrays

    bool is_integer() const;
    bool is_float() const { return type == GgufType::f32 || type == GgufType::f64; }
};

struct GgufKv {
    std::string_view key;
    GgufValue value;
    uint64_t file_offset = 0;  // where the key starts
};

struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    int n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension, as in ggml
    uint64_t offset = 0;           // relative to the data section
    uint64_t nbytes = 0;
    const uint8_t* data = nullptr;

    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t nrows() const { return ne[1] * ne[2] * ne[3]; }
    size_t row_bytes() const { return ggml_row_size(type, ne[0]); }
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
};

class GgufFile {
public:
    // Maps `path` and parses it. Tensor data stays in the map.
    static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
    // Parses bytes already in memory (`name` is used in messages). The bytes must outlive the GgufFile.
    static Result<std::unique_ptr<GgufFile>> parse(const uint8_t* data, size_t size, std::string name);

    const std::string& name() const { return name_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    // Where the (aligned) tensor data section starts; never past file_size(), even in a tensor-less file
    // whose header ends within the alignment padding.
    uint64_t data_offset() const { return data_offset_; }
    // Bytes from data_offset() to the end of the file.
    size_t data_size() const { return size_ - data_offset_; }
    const uint8_t* file_data() const { return base_; }
    size_t file_size() const { return size_; }

    const std::vector<GgufKv>& kvs() const { return kvs_; }
    const GgufValue* find(std::string_view key) const;
    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* find_tensor(std::string_view name) const;

    // Typed getters: not_found when absent, invalid_argument when the type does not fit.
    Result<uint64_t> get_uint(std::string_view key) const;
    Result<int64_t> get_int(std::string_view key) const;
    Result<double> get_float(std::string_view key) const;  // accepts integers too
    Result<bool> get_bool(std::string_view key) const;
    Result<std::string_view> get_string(std::string_view key) const;
    Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
    Result<std::vector<float>> get_f32_array(std::string_view key) const;    // any numeric element type
    Result<std::vector<int64_t>> get_int_array(std::string_view key) const;  // any integer element type

    uint64_t get_uint_or(std::string_view key, uint64_t def) const;
    double get_float_or(std::string_view key, double def) const;
    bool get_bool_or(std::string_view key, bool def) const;
    std::string get_string_or(std::string_view key, std::string def) const;

private:
    GgufFile() = default;
    Status parse_all();
    Status parse_guarded();  // parse_all() with std::bad_alloc turned into out_of_memory

    std::unique_ptr<MappedFile> map_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    std::string name_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKv> kvs_;
    std::vector<GgufTensor> tensors_;
};

}  // namespace docket

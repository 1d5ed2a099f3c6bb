#include "model/gguf_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/file_read.h"

namespace docket {
namespace {

constexpr uint32_t kGgufVersion = 3;
constexpr size_t kMaxTensorName = 63;  // ggml's GGML_MAX_NAME (64) includes the terminating NUL

template <typename T>
GgufWriteValue make_scalar(GgufType t, T v) {
    GgufWriteValue w;
    w.type = t;
    std::memcpy(&w.scalar, &v, sizeof(T));
    return w;
}

void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = out.size();
    out.resize(at + n);
    std::memcpy(out.data() + at, p, n);
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    put_bytes(out, &v, 4);
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    put_bytes(out, &v, 8);
}
void put_string(std::vector<uint8_t>& out, std::string_view s) {
    put_u64(out, s.size());
    put_bytes(out, s.data(), s.size());
}

// Serializes the payload of `v` (without its type tag).
void put_value(std::vector<uint8_t>& out, const GgufWriteValue& v) {
    switch (v.type) {
        case GgufType::string:
            put_string(out, v.str);
            return;
        case GgufType::array:
            put_u32(out, static_cast<uint32_t>(v.elem_type));
            put_u64(out, v.count);
            if (v.elem_type == GgufType::string) {
                for (const auto& s : v.strings) put_string(out, s);
            } else if (v.elem_type == GgufType::array) {
                for (const auto& item : v.items) put_value(out, item);
            } else {
                put_bytes(out, v.raw.data(), v.raw.size());
            }
            return;
        default:
            put_bytes(out, &v.scalar, gguf_scalar_size(v.type));
            return;
    }
}

Status check_value(const GgufWriteValue& v, const std::string& key, int depth) {
    if (static_cast<uint32_t>(v.type) > static_cast<uint32_t>(GgufType::f64))
        return make_error(ErrorCode::invalid_argument, "gguf writer: '{}' has unknown value type {}", key,
                          static_cast<uint32_t>(v.type));
    if (v.type != GgufType::array) return Status::ok();
    if (depth >= 8)
        return make_error(ErrorCode::invalid_argument, "gguf writer: '{}' nests arrays too deep", key);
    if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufType::f64))
        return make_error(ErrorCode::invalid_argument, "gguf writer: '{}' has unknown element type", key);
    uint64_t have = 0;
    if (v.elem_type == GgufType::string) {
        have = v.strings.size();
    } else if (v.elem_type == GgufType::array) {
        have = v.items.size();
        for (const auto& item : v.items) {
            if (item.type != GgufType::array)
                return make_error(ErrorCode::invalid_argument,
                                  "gguf writer: '{}': array of arrays holds a {}", key,
                                  gguf_type_name(item.type));
            DK_TRY(check_value(item, key, depth + 1));
        }
    } else {
        const size_t es = gguf_scalar_size(v.elem_type);
        if (v.raw.size() % es != 0)
            return make_error(ErrorCode::invalid_argument,
                              "gguf writer: '{}': {} raw bytes are not whole {} elements", key, v.raw.size(),
                              gguf_type_name(v.elem_type));
        have = v.raw.size() / es;
    }
    if (have != v.count)
        return make_error(ErrorCode::invalid_argument, "gguf writer: '{}': count {} but {} elements", key,
                          v.count, have);
    return Status::ok();
}

uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

// Buffered writer to a file descriptor that maps ENOSPC to disk_full.
class FdSink final : public GgufTensorSink {
public:
    FdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) { buf_.reserve(kBuf); }
    Status write(const void* data, size_t n) override {
        const auto* p = static_cast<const uint8_t*>(data);
        if (buf_.size() + n > kBuf) {
            DK_TRY(flush());
            if (n >= kBuf) return write_fd(p, n);
        }
        put_bytes(buf_, p, n);
        return Status::ok();
    }
    Status flush() {
        Status st = write_fd(buf_.data(), buf_.size());
        buf_.clear();
        return st;
    }

private:
    static constexpr size_t kBuf = 8u << 20;
    Status write_fd(const uint8_t* p, size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                const int e = errno;
                return make_error(e == ENOSPC ? ErrorCode::disk_full : ErrorCode::io_error,
                                  "{}: write failed: {}", path_, std::strerror(e));
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
        return Status::ok();
    }
    int fd_;
    std::string path_;
    std::vector<uint8_t> buf_;
};

class MemorySink final : public GgufTensorSink {
public:
    explicit MemorySink(std::vector<uint8_t>* out) : out_(out) {}
    Status write(const void* data, size_t n) override {
        put_bytes(*out_, data, n);
        return Status::ok();
    }

private:
    std::vector<uint8_t>* out_;
};

// Counts what a producer writes so that a wrong size is caught instead of corrupting the layout.
class CountingSink final : public GgufTensorSink {
public:
    CountingSink(GgufTensorSink& inner, uint64_t limit, const std::string& name)
        : inner_(inner), limit_(limit), name_(name) {}
    Status write(const void* data, size_t n) override {
        if (n > limit_ - written_)
            return make_error(ErrorCode::invalid_argument,
                              "gguf writer: tensor '{}' producer wrote more than {} bytes", name_, limit_);
        written_ += n;
        return inner_.write(data, n);
    }
    uint64_t written() const { return written_; }

private:
    GgufTensorSink& inner_;
    uint64_t limit_;
    uint64_t written_ = 0;
    const std::string& name_;
};

}  // namespace

GgufWriteValue GgufWriteValue::u8(uint8_t v) {
    return make_scalar(GgufType::u8, v);
}
GgufWriteValue GgufWriteValue::i8(int8_t v) {
    return make_scalar(GgufType::i8, v);
}
GgufWriteValue GgufWriteValue::u16(uint16_t v) {
    return make_scalar(GgufType::u16, v);
}
GgufWriteValue GgufWriteValue::i16(int16_t v) {
    return make_scalar(GgufType::i16, v);
}
GgufWriteValue GgufWriteValue::u32(uint32_t v) {
    return make_scalar(GgufType::u32, v);
}
GgufWriteValue GgufWriteValue::i32(int32_t v) {
    return make_scalar(GgufType::i32, v);
}
GgufWriteValue GgufWriteValue::u64(uint64_t v) {
    return make_scalar(GgufType::u64, v);
}
GgufWriteValue GgufWriteValue::i64(int64_t v) {
    return make_scalar(GgufType::i64, v);
}
GgufWriteValue GgufWriteValue::f32(float v) {
    return make_scalar(GgufType::f32, v);
}
GgufWriteValue GgufWriteValue::f64(double v) {
    return make_scalar(GgufType::f64, v);
}
GgufWriteValue GgufWriteValue::boolean(bool v) {
    return make_scalar(GgufType::boolean, static_cast<uint8_t>(v ? 1 : 0));
}

GgufWriteValue GgufWriteValue::string(std::string v) {
    GgufWriteValue w;
    w.type = GgufType::string;
    w.str = std::move(v);
    return w;
}

GgufWriteValue GgufWriteValue::numeric_array(GgufType elem, std::vector<uint8_t> bytes) {
    GgufWriteValue w;
    w.type = GgufType::array;
    w.elem_type = elem;
    const size_t es = gguf_scalar_size(elem);
    w.count = es ? bytes.size() / es : 0;
    w.raw = std::move(bytes);
    return w;
}

GgufWriteValue GgufWriteValue::i32_array(const std::vector<int32_t>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return numeric_array(GgufType::i32, std::move(b));
}

GgufWriteValue GgufWriteValue::f32_array(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return numeric_array(GgufType::f32, std::move(b));
}

GgufWriteValue GgufWriteValue::string_array(std::vector<std::string> v) {
    GgufWriteValue w;
    w.type = GgufType::array;
    w.elem_type = GgufType::string;
    w.count = v.size();
    w.strings = std::move(v);
    return w;
}

GgufWriteValue GgufWriteValue::array_of_arrays(std::vector<GgufWriteValue> items) {
    GgufWriteValue w;
    w.type = GgufType::array;
    w.elem_type = GgufType::array;
    w.count = items.size();
    w.items = std::move(items);
    return w;
}

GgufWriteValue GgufWriteValue::from_read(const GgufValue& v) {
    switch (v.type) {
        case GgufType::string:
            return string(std::string(v.str));
        case GgufType::array: {
            if (v.elem_type == GgufType::string) {
                std::vector<std::string> s(v.strings.begin(), v.strings.end());
                return string_array(std::move(s));
            }
            if (v.elem_type == GgufType::array) {
                std::vector<GgufWriteValue> items;
                items.reserve(v.items.size());
                for (const auto& item : v.items) items.push_back(from_read(item));
                return array_of_arrays(std::move(items));
            }
            const size_t n = v.count * gguf_scalar_size(v.elem_type);
            return numeric_array(v.elem_type, std::vector<uint8_t>(v.raw, v.raw + n));
        }
        case GgufType::f32:
            return f32(static_cast<float>(v.f));
        case GgufType::f64:
            return f64(v.f);
        default: {
            GgufWriteValue w;
            w.type = v.type;
            w.scalar = v.u;  // integers and bools: the low bytes of u hold the little-endian pattern
            return w;
        }
    }
}

Status GgufWriter::set(std::string key, GgufWriteValue value) {
    for (const auto& kv : kvs_)
        if (kv.key == key)
            return make_error(ErrorCode::invalid_argument, "gguf writer: duplicate key '{}'", key);
    DK_TRY(check_value(value, key, 0));
    if (key == "general.alignment") {
        const uint64_t a = value.scalar;
        if (value.type != GgufType::u32 || !gguf_alignment_valid(a))
            return make_error(
                ErrorCode::invalid_argument,
                "gguf writer: general.alignment must be a u32 power of two from 8 to 2^30, got {}", a);
        alignment_ = a;
    }
    kvs_.push_back({std::move(key), std::move(value)});
    return Status::ok();
}

Status GgufWriter::add_tensor_info(std::string name, GgmlType type, std::vector<int64_t> ne, Tensor* t) {
    if (name.empty() || name.size() > kMaxTensorName)
        return make_error(ErrorCode::invalid_argument, "gguf writer: tensor name '{}' must have 1..{} bytes",
                          name, kMaxTensorName);
    for (const auto& other : tensors_)
        if (other.name == name)
            return make_error(ErrorCode::invalid_argument, "gguf writer: duplicate tensor '{}'", name);
    const GgmlTypeTraits* tr = ggml_type_traits(type);
    if (!tr) return make_error(ErrorCode::unsupported, "gguf writer: tensor '{}' has unknown type", name);
    if (ne.empty() || ne.size() > 4)
        return make_error(ErrorCode::invalid_argument, "gguf writer: tensor '{}' has {} dimensions (1..4)",
                          name, ne.size());
    uint64_t nel = 1;
    for (int64_t d : ne) {
        if (d <= 0 || __builtin_mul_overflow(nel, static_cast<uint64_t>(d), &nel) ||
            nel > (uint64_t{1} << 62))
            return make_error(ErrorCode::invalid_argument, "gguf writer: tensor '{}' has a bad shape", name);
    }
    if (ne[0] % tr->block_size != 0)
        return make_error(ErrorCode::invalid_argument,
                          "gguf writer: tensor '{}': ne[0]={} is not a multiple of {}", name, ne[0],
                          tr->block_size);
    t->name = std::move(name);
    t->type = type;
    t->ne = std::move(ne);
    t->nbytes = nel / tr->block_size * tr->type_size;
    return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                              std::vector<uint8_t> data) {
    Tensor t;
    DK_TRY(add_tensor_info(std::move(name), type, std::move(ne), &t));
    if (data.size() != t.nbytes)
        return make_error(ErrorCode::invalid_argument, "gguf writer: tensor '{}' needs {} bytes, got {}",
                          t.name, t.nbytes, data.size());
    t.data = std::move(data);
    tensors_.push_back(std::move(t));
    return Status::ok();
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                              GgufTensorProducer producer) {
    Tensor t;
    DK_TRY(add_tensor_info(std::move(name), type, std::move(ne), &t));
    if (!producer)
        return make_error(ErrorCode::invalid_argument, "gguf writer: tensor '{}' has no producer", t.name);
    t.producer = std::move(producer);
    tensors_.push_back(std::move(t));
    return Status::ok();
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
    std::vector<uint8_t> h;
    put_bytes(h, "GGUF", 4);
    put_u32(h, kGgufVersion);
    put_u64(h, tensors_.size());
    put_u64(h, kvs_.size());
    for (const auto& kv : kvs_) {
        put_string(h, kv.key);
        put_u32(h, static_cast<uint32_t>(kv.value.type));
        put_value(h, kv.value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        put_string(h, t.name);
        put_u32(h, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) put_u64(h, static_cast<uint64_t>(d));
        put_u32(h, static_cast<uint32_t>(t.type));
        put_u64(h, offset);
        offset = align_up(offset + t.nbytes, alignment_);
    }
    h.resize(align_up(h.size(), alignment_), 0);
    return h;
}

uint64_t GgufWriter::file_size() const {
    uint64_t data = 0;
    for (const auto& t : tensors_) data = align_up(data + t.nbytes, alignment_);
    return header_bytes().size() + data;
}

Status GgufWriter::write_all(GgufTensorSink& out) const {
    const std::vector<uint8_t> header = header_bytes();
    DK_TRY(out.write(header.data(), header.size()));
    static const std::vector<uint8_t> zeros(4096, 0);
    for (const auto& t : tensors_) {
        if (t.producer) {
            CountingSink counted(out, t.nbytes, t.name);
            DK_TRY(t.producer(counted));
            if (counted.written() != t.nbytes)
                return make_error(ErrorCode::invalid_argument,
                                  "gguf writer: tensor '{}' producer wrote {} bytes, expected {}", t.name,
                                  counted.written(), t.nbytes);
        } else {
            DK_TRY(out.write(t.data.data(), t.data.size()));
        }
        uint64_t pad = align_up(t.nbytes, alignment_) - t.nbytes;
        while (pad > 0) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, zeros.size()));
            DK_TRY(out.write(zeros.data(), n));
            pad -= n;
        }
    }
    return Status::ok();
}

Result<std::vector<uint8_t>> GgufWriter::write_memory() const {
    std::vector<uint8_t> out;
    MemorySink sink(&out);
    DK_TRY(write_all(sink));
    return out;
}

namespace {

// The output must be a regular file or nothing: rename() replaces whatever the name holds, so a device node,
// FIFO or symbolic link would be replaced by the model (and a directory refused only after it was written).
Status check_output_target(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT) return Status::ok();
        return make_error(ErrorCode::io_error, "{}: cannot stat: {}", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return make_error(ErrorCode::invalid_argument,
                          "{}: is {}; a model is written only to a regular file or a new name", path,
                          file_type_name(st.st_mode));
    return Status::ok();
}

// A temporary file next to `path` that did not exist before: O_EXCL | O_NOFOLLOW, so a name planted in
// advance (a symbolic link to another file, a stale file) is never opened, let alone truncated.
Result<int> create_temporary(const std::string& path, std::string* tmp) {
    const std::string base = path + ".tmp." + std::to_string(::getpid());
    for (int attempt = 0; attempt < 100; ++attempt) {
        *tmp = attempt == 0 ? base : base + "." + std::to_string(attempt);
        const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) return fd;
        const int e = errno;
        if (e != EEXIST)
            return make_error(ErrorCode::io_error, "{}: cannot create: {}", *tmp, std::strerror(e));
    }
    return make_error(ErrorCode::io_error, "{}: no free temporary name next to it", path);
}

}  // namespace

Status GgufWriter::write_file(const std::string& path) const {
    DK_TRY(check_output_target(path));
    std::string tmp;
    DK_ASSIGN_OR_RETURN(const int fd, create_temporary(path, &tmp));
    auto fail = [&](Status st) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return st;
    };
    FdSink sink(fd, tmp);
    if (Status st = write_all(sink); !st) return fail(st);
    if (Status st = sink.flush(); !st) return fail(st);
    if (::fsync(fd) != 0) {
        const int e = errno;
        return fail(make_error(ErrorCode::io_error, "{}: fsync failed: {}", tmp, std::strerror(e)));
    }
    if (::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error(ErrorCode::io_error, "{}: close failed: {}", tmp, std::strerror(e));
    }
    // Again just before the rename: the name may have changed while the model was written.
    if (Status st = check_output_target(path); !st) {
        ::unlink(tmp.c_str());
        return st;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return make_error(ErrorCode::io_error, "cannot rename {} to {}: {}", tmp, path, std::strerror(e));
    }
    // Make the rename itself durable.
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    const std::filesystem::path dir = parent.empty() ? std::filesystem::path(".") : parent;
    // The file is in place either way; an error here means it may not survive a power loss.
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        const int e = errno;
        return make_error(ErrorCode::io_error,
                          "{} written, but its directory {} cannot be opened to sync it: {}", path,
                          dir.string(), std::strerror(e));
    }
    if (::fsync(dfd) != 0) {
        const int e = errno;
        ::close(dfd);
        return make_error(ErrorCode::io_error, "{} written, but syncing its directory {} failed: {}", path,
                          dir.string(), std::strerror(e));
    }
    ::close(dfd);
    return Status::ok();
}

}  // namespace docket

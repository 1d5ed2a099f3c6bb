#include "model/fingerprint.h"

#include <xxhash.h>

#include <algorithm>
#include <vector>

#include "util/thread_pool.h"

namespace docket {
namespace {

// Part of the fingerprint's definition: changing it changes every fingerprint.
constexpr size_t kChunkBytes = 64ull << 20;

// Appends a canonical, self-delimiting encoding of a metadata value (type tag, lengths, little-endian data).
void append_value(std::string& out, const GgufValue& v) {
    auto put = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
    auto put_u64 = [&](uint64_t x) { put(&x, 8); };
    put_u64(static_cast<uint64_t>(v.type));
    switch (v.type) {
        case GgufType::string:
            put_u64(v.str.size());
            put(v.str.data(), v.str.size());
            break;
        case GgufType::array:
            put_u64(static_cast<uint64_t>(v.elem_type));
            put_u64(v.count);
            if (v.elem_type == GgufType::string) {
                for (auto s : v.strings) {
                    put_u64(s.size());
                    put(s.data(), s.size());
                }
            } else if (v.elem_type == GgufType::array) {
                for (const auto& item : v.items) append_value(out, item);
            } else if (v.raw) {
                put(v.raw, v.count * gguf_scalar_size(v.elem_type));
            }
            break;
        case GgufType::f32:
        case GgufType::f64:
            put(&v.f, 8);
            break;
        default:
            put_u64(v.u);
            put_u64(static_cast<uint64_t>(v.i));
            break;
    }
}

}  // namespace

bool fingerprint_covers_key(std::string_view key, std::string_view arch) {
    if (key == "general.architecture") return true;
    if (key.substr(0, 10) == "tokenizer.") return true;
    return !arch.empty() && key.size() > arch.size() && key.substr(0, arch.size()) == arch &&
           key[arch.size()] == '.';
}

Result<Hash128> model_fingerprint(const GgufFile& g, const FingerprintOptions& opt) {
    std::string arch = g.get_string_or("general.architecture", "");
    if (arch.empty())
        return make_error(ErrorCode::corrupt_data, "{}: general.architecture missing; cannot fingerprint",
                          g.name());
    std::string meta = "docket-model-fingerprint-v1";
    std::vector<const GgufKv*> kvs;
    for (const auto& kv : g.kvs())
        if (fingerprint_covers_key(kv.key, arch)) kvs.push_back(&kv);
    // Key order in the file does not change the model: sort so that a rewritten file keeps its fingerprint.
    std::sort(kvs.begin(), kvs.end(), [](const GgufKv* a, const GgufKv* b) { return a->key < b->key; });
    for (const GgufKv* kv : kvs) {
        uint64_t n = kv->key.size();
        meta.append(reinterpret_cast<const char*>(&n), 8).append(kv->key);
        append_value(meta, kv->value);
    }
    for (const auto& t : g.tensors()) {
        uint64_t fields[7] = {t.name.size(),
                              static_cast<uint64_t>(t.type),
                              static_cast<uint64_t>(t.ne[0]),
                              static_cast<uint64_t>(t.ne[1]),
                              static_cast<uint64_t>(t.ne[2]),
                              static_cast<uint64_t>(t.ne[3]),
                              t.offset};
        meta.append(reinterpret_cast<const char*>(fields), sizeof(fields)).append(t.name);
    }

    // Tensor data: the whole data section, hashed in parallel chunks (file order, so the tensors' bytes and
    // their placement are both covered).
    const uint8_t* data = g.file_data() + g.data_offset();
    const size_t size = g.data_size();
    const size_t chunk = kChunkBytes;
    const size_t n_chunks = (size + chunk - 1) / chunk;
    std::vector<XXH128_hash_t> parts(n_chunks);
    // The pool clamps the count and survives a refused thread start; more threads than chunks would idle.
    ThreadPool pool(
        static_cast<int>(std::min<size_t>(clamp_thread_count(opt.threads), std::max<size_t>(n_chunks, 1))));
    pool.parallel_for(static_cast<int64_t>(n_chunks), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) {
            const size_t begin = static_cast<size_t>(i) * chunk, len = std::min(chunk, size - begin);
            parts[static_cast<size_t>(i)] = XXH3_128bits(data + begin, len);
        }
    });

    uint64_t sizes[2] = {size, chunk};
    meta.append(reinterpret_cast<const char*>(sizes), sizeof(sizes));
    meta.append(reinterpret_cast<const char*>(parts.data()), parts.size() * sizeof(XXH128_hash_t));
    XXH128_hash_t h = XXH3_128bits(meta.data(), meta.size());
    return Hash128{h.low64, h.high64};
}

Result<Hash128> model_fingerprint_file(const std::string& path, const FingerprintOptions& opt) {
    DK_ASSIGN_OR_RETURN(auto g, GgufFile::open(path));
    return model_fingerprint(*g, opt);
}

}  // namespace docket

// Mutation fuzzing of the GGUF reader (and of dequantization of whatever it accepts) under AddressSanitizer
// and UBSan. The reader sources are compiled into this executable with sanitizers (see CMakeLists.txt); any
// out-of-bounds access, overflow or UB aborts the run. Deterministic: seeded mutations over two real files, a
// writer-made model with every value type and many tensor types, and a real vocabulary GGUF.
//
// DOCKET_FUZZ_ITERATIONS (default 100000) and DOCKET_FUZZ_SEED override the defaults.
#include <QtTest>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "model/dequant.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "test_paths.h"

using namespace docket;

namespace {

std::vector<uint8_t> writer_seed_file() {
    std::mt19937_64 rng(1234);
    GgufWriter w;
    auto ok = [](Status st) { Q_ASSERT(st.is_ok()); };
    ok(w.set_string("general.architecture", "llama"));
    ok(w.set("general.alignment", GgufWriteValue::u32(32)));
    ok(w.set("v.u8", GgufWriteValue::u8(7)));
    ok(w.set("v.i8", GgufWriteValue::i8(-7)));
    ok(w.set("v.u16", GgufWriteValue::u16(700)));
    ok(w.set("v.i16", GgufWriteValue::i16(-700)));
    ok(w.set("v.u32", GgufWriteValue::u32(70000)));
    ok(w.set("v.i32", GgufWriteValue::i32(-70000)));
    ok(w.set("v.u64", GgufWriteValue::u64(1ull << 40)));
    ok(w.set("v.i64", GgufWriteValue::i64(-(1ll << 40))));
    ok(w.set("v.f32", GgufWriteValue::f32(1.5f)));
    ok(w.set("v.f64", GgufWriteValue::f64(-2.25)));
    ok(w.set("v.bool", GgufWriteValue::boolean(true)));
    ok(w.set("tokenizer.ggml.tokens", GgufWriteValue::string_array({"<s>", "</s>", "a", "b", "ab", "Ġthe"})));
    ok(w.set("tokenizer.ggml.scores", GgufWriteValue::f32_array({0, 0, -1, -2, -3, -4})));
    ok(w.set("tokenizer.ggml.token_type", GgufWriteValue::i32_array({3, 3, 1, 1, 1, 1})));
    ok(w.set("a.bool", GgufWriteValue::numeric_array(GgufType::boolean, {1, 0, 1})));
    ok(w.set("a.u64", GgufWriteValue::numeric_array(GgufType::u64, std::vector<uint8_t>(24, 0x11))));
    ok(w.set("a.nested", GgufWriteValue::array_of_arrays(
                             {GgufWriteValue::i32_array({1, 2}), GgufWriteValue::string_array({"x", "yz"}),
                              GgufWriteValue::array_of_arrays({GgufWriteValue::f32_array({9.0f})})})));
    struct T {
        const char* name;
        GgmlType type;
        std::vector<int64_t> ne;
    };
    const T tensors[] = {
        {"f32", GgmlType::F32, {16, 2}},     {"f16", GgmlType::F16, {32}},
        {"bf16", GgmlType::BF16, {8, 2, 2}}, {"q4_0", GgmlType::Q4_0, {64}},
        {"q4_1", GgmlType::Q4_1, {32, 2}},   {"q5_0", GgmlType::Q5_0, {32}},
        {"q5_1", GgmlType::Q5_1, {32}},      {"q8_0", GgmlType::Q8_0, {32, 2}},
        {"q8_1", GgmlType::Q8_1, {32}},      {"q2_k", GgmlType::Q2_K, {256}},
        {"q3_k", GgmlType::Q3_K, {256}},     {"q4_k", GgmlType::Q4_K, {256, 2}},
        {"q5_k", GgmlType::Q5_K, {256}},     {"q6_k", GgmlType::Q6_K, {256}},
        {"q8_k", GgmlType::Q8_K, {256}},     {"i32", GgmlType::I32, {4}},
    };
    for (const auto& t : tensors) {
        int64_t rows = 1;
        for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
        std::vector<uint8_t> data(ggml_row_size(t.type, t.ne[0]) * rows);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        ok(w.add_tensor(t.name, t.type, t.ne, std::move(data)));
    }
    return *w.write_memory();
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// What each accepted file goes through: every getter on every key, and dequantization of every tensor.
uint64_t exercise(const GgufFile& g) {
    uint64_t work = 0;
    for (const auto& kv : g.kvs()) {
        work += g.get_uint(kv.key).is_ok() + g.get_int(kv.key).is_ok() + g.get_float(kv.key).is_ok();
        work += g.get_bool(kv.key).is_ok() + g.get_string(kv.key).is_ok();
        if (auto a = g.get_string_array(kv.key)) work += a->size();
        if (auto a = g.get_f32_array(kv.key)) work += a->size();
        if (auto a = g.get_int_array(kv.key)) work += a->size();
    }
    std::vector<float> row;
    for (const auto& t : g.tensors()) {
        if (!can_dequantize(t.type)) continue;
        row.resize(static_cast<size_t>(t.ne[0]));
        for (int64_t r = 0; r < t.nrows(); ++r) {
            Status st = dequantize_row(t.type, t.row(r), row.data(), t.ne[0]);
            if (!st) qFatal("dequantize_row failed on an accepted tensor: %s", st.to_string().c_str());
            work += static_cast<uint64_t>(t.ne[0]);
        }
    }
    return work;
}

class Mutator {
public:
    explicit Mutator(uint64_t seed) : rng_(seed) {}

    // Applies 1..4 random mutations to `b`; positions favour the header (where the parser looks) 3:1.
    void mutate(std::vector<uint8_t>& b, size_t header_end, const std::vector<uint8_t>& donor) {
        const int n = 1 + static_cast<int>(rng_() % 4);
        for (int k = 0; k < n; ++k) {
            if (b.empty()) b.push_back(0);
            const size_t span =
                (rng_() % 4 != 0 && header_end > 0) ? std::min(header_end, b.size()) : b.size();
            const size_t pos = rng_() % span;
            switch (rng_() % 9) {
                case 0:  // bit flips
                    for (int i = 1 + rng_() % 8; i > 0; --i)
                        b[(pos + rng_() % 16) % b.size()] ^= 1u << (rng_() % 8);
                    break;
                case 1: {  // interesting bytes
                    static const uint8_t v[] = {0, 0xFF, 0x7F, 0x80, 1, 2, 9, 12, 13, 0x40};
                    for (int i = 1 + rng_() % 4; i > 0; --i)
                        b[(pos + i) % b.size()] = v[rng_() % std::size(v)];
                    break;
                }
                case 2: {  // interesting u64 (counts, lengths, dims, offsets)
                    const uint64_t v[] = {0,           ~0ull,      1ull << 63, 1ull << 32,
                                          0x7FFFFFFF,  0xFFFFFFFF, b.size(),   b.size() + 1,
                                          rng_() % 64, 1ull << 40, 32,         4096};
                    put(b, pos, v[rng_() % std::size(v)], 8);
                    break;
                }
                case 3: {  // interesting u32 (type ids, versions, dims)
                    const uint64_t v[] = {0,  1,  2,  3,  4,  5,  8,  9,  12,
                                          13, 14, 15, 16, 24, 30, 31, 39, 0xFFFFFFFF};
                    put(b, pos, v[rng_() % std::size(v)], 4);
                    break;
                }
                case 4:  // truncate
                    b.resize(rng_() % (b.size() + 1));
                    break;
                case 5: {  // insert random bytes
                    std::vector<uint8_t> ins(1 + rng_() % 64);
                    for (auto& x : ins) x = static_cast<uint8_t>(rng_());
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), ins.begin(), ins.end());
                    break;
                }
                case 6: {  // delete a range
                    const size_t len = std::min(b.size() - pos, static_cast<size_t>(1 + rng_() % 64));
                    b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos),
                            b.begin() + static_cast<std::ptrdiff_t>(pos + len));
                    break;
                }
                case 7: {  // splice a range of the donor file over this one
                    if (donor.empty()) break;
                    const size_t from = rng_() % donor.size();
                    const size_t len =
                        std::min({donor.size() - from, b.size() - pos, size_t(1 + rng_() % 256)});
                    std::memcpy(b.data() + pos, donor.data() + from, len);
                    break;
                }
                default: {  // duplicate a range of itself elsewhere (repeated keys, tensor infos)
                    const size_t from = rng_() % b.size();
                    const size_t len = std::min(b.size() - from, static_cast<size_t>(1 + rng_() % 128));
                    std::vector<uint8_t> chunk(b.begin() + static_cast<std::ptrdiff_t>(from),
                                               b.begin() + static_cast<std::ptrdiff_t>(from + len));
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), chunk.begin(), chunk.end());
                    break;
                }
            }
        }
    }

private:
    static void put(std::vector<uint8_t>& b, size_t pos, uint64_t v, size_t n) {
        for (size_t i = 0; i < n && pos + i < b.size(); ++i) b[pos + i] = static_cast<uint8_t>(v >> (8 * i));
    }
    std::mt19937_64 rng_;
};

uint64_t env_u64(const char* name, uint64_t def) {
    const char* e = std::getenv(name);
    return e && *e ? std::strtoull(e, nullptr, 10) : def;
}

}  // namespace

class TestGgufFuzz : public QObject {
    Q_OBJECT
private slots:
    void mutated_files_never_crash_the_reader() {
        struct Seed {
            const char* name;
            std::vector<uint8_t> bytes;
            size_t header_end;
            uint64_t share;  // parts per 100 of the iterations
        };
        std::vector<Seed> seeds;
        seeds.push_back({"writer-made model (all value types, 16 tensor types)", writer_seed_file(), 0, 90});
        // The smallest real vocabulary GGUF (llama.cpp's SPM test vocab: 32000 tokens with scores and types).
        const std::string real = test::shared_dir() + "/data/tokenizer/ggml-vocab-llama-spm.gguf";
        seeds.push_back({"ggml-vocab-llama-spm.gguf", read_file(real), 0, 10});
        for (auto& s : seeds) {
            QVERIFY2(s.bytes.size() > 1000, s.name);
            auto f = GgufFile::parse(s.bytes.data(), s.bytes.size(), s.name);
            QVERIFY2(f.is_ok(), f.status().to_string().c_str());
            s.header_end = (*f)->data_offset();
            exercise(**f);
        }

        const uint64_t total = env_u64("DOCKET_FUZZ_ITERATIONS", 100000);
        Mutator mut(env_u64("DOCKET_FUZZ_SEED", 20241122));
        std::map<std::string, uint64_t> outcomes;
        uint64_t work = 0, done = 0;
        size_t arena_size = 0;
        std::unique_ptr<uint8_t[]> arena;
        const auto start = std::chrono::steady_clock::now();
        for (size_t si = 0; si < seeds.size(); ++si) {
            const Seed& s = seeds[si];
            const Seed& donor = seeds[(si + 1) % seeds.size()];
            const uint64_t n = si + 1 == seeds.size() ? total - done : total * s.share / 100;
            std::vector<uint8_t> b;
            for (uint64_t it = 0; it < n; ++it, ++done) {
                b = s.bytes;
                mut.mutate(b, s.header_end, donor.bytes);
                // The bytes end exactly where the heap block ends, so ASan sees any read past the end (and
                // UBSan any misaligned typed access, since the start moves with the size).
                if (b.size() > arena_size) {
                    arena_size = b.size() * 2;
                    arena.reset(new uint8_t[arena_size]);
                }
                uint8_t* at = arena.get() + (arena_size - b.size());
                if (!b.empty()) std::memcpy(at, b.data(), b.size());
                auto f = GgufFile::parse(at, b.size(), "fuzz.gguf");
                if (f) {
                    work += exercise(**f);
                    ++outcomes["accepted"];
                } else {
                    const Status st = f.status();
                    if (st.message().find("fuzz.gguf") == std::string::npos)
                        QFAIL(qPrintable(
                            QString("error does not name the file: %1").arg(st.to_string().c_str())));
                    ++outcomes[std::string("rejected: ") + error_code_name(st.code())];
                }
            }
            qInfo("%s: %llu mutations, %.1f s so far", s.name, static_cast<unsigned long long>(n),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        qInfo("%llu mutations in %.1f s (%llu values dequantized/read); 0 crashes, 0 sanitizer reports",
              static_cast<unsigned long long>(done), secs, static_cast<unsigned long long>(work));
        for (const auto& [k, v] : outcomes)
            qInfo("  %-28s %8llu", k.c_str(), static_cast<unsigned long long>(v));
        QCOMPARE(done, total);
        QVERIFY(outcomes["accepted"] > 0);  // the mutations must not all be trivially rejected...
        QVERIFY(outcomes["rejected: corrupt data"] > total / 10);  // ...nor all accepted
    }
};

QTEST_GUILESS_MAIN(TestGgufFuzz)
#include "test_gguf_fuzz.moc"

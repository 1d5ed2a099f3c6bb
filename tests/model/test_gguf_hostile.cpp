// The GGUF reader turns hostile input into typed errors whose message names the field and the file offset; it
// never crashes, reads out of bounds or allocates what the file cannot back.
#include <QtTest>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "model/fingerprint.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"

using namespace docket;

// Counts the bytes requested from operator new, so a test can bound what parsing a file allocates.
namespace {
std::atomic<uint64_t> g_new_bytes{0};
}  // namespace
void* operator new(size_t n) {
    g_new_bytes.fetch_add(n, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, size_t) noexcept {
    std::free(p);
}

namespace {

// Hand-assembled GGUF bytes, so that each field can be made wrong on purpose.
struct Raw {
    std::vector<uint8_t> b;
    Raw& bytes(const void* p, size_t n) {
        const auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    Raw& u8(uint8_t v) { return bytes(&v, 1); }
    Raw& u32(uint32_t v) { return bytes(&v, 4); }
    Raw& u64(uint64_t v) { return bytes(&v, 8); }
    Raw& str(const std::string& s) { return u64(s.size()).bytes(s.data(), s.size()); }
    Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return bytes("GGUF", 4).u32(version).u64(n_tensors).u64(n_kv);
    }
    Raw& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
    Raw& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(ne.size()));
        for (auto d : ne) u64(d);
        return u32(type).u64(offset);
    }
    Raw& pad_to(size_t align) {
        while (b.size() % align) b.push_back(0);
        return *this;
    }
    Raw& zeros(size_t n) {
        b.resize(b.size() + n, 0);
        return *this;
    }
};

Status parse(const std::vector<uint8_t>& b) {
    auto r = GgufFile::parse(b.data(), b.size(), "hostile.gguf");
    return r.status();
}

// A small valid file from the writer (several value types, three tensors) for the truncation sweep.
std::vector<uint8_t> small_valid_file() {
    GgufWriter w;
    (void)w.set_string("general.architecture", "llama");
    (void)w.set_u32("llama.block_count", 2);
    (void)w.set("tokenizer.ggml.tokens", GgufWriteValue::string_array({"a", "b", "<s>"}));
    (void)w.set("nested", GgufWriteValue::array_of_arrays(
                              {GgufWriteValue::i32_array({1, 2}), GgufWriteValue::string_array({"x"})}));
    (void)w.set_f32("eps", 1e-5f);
    (void)w.add_tensor("a", GgmlType::F32, {8}, std::vector<uint8_t>(32, 1));
    (void)w.add_tensor("b", GgmlType::Q8_0, {32, 2}, std::vector<uint8_t>(68, 2));
    (void)w.add_tensor("c", GgmlType::F16, {3}, std::vector<uint8_t>(6, 3));
    return *w.write_memory();
}

}  // namespace

#define EXPECT_ERROR(bytes, want_code, ...)                                                                \
    do {                                                                                                   \
        Status st_ = parse(bytes);                                                                         \
        QVERIFY2(!st_.is_ok(), "hostile input was accepted");                                              \
        QVERIFY2(st_.code() == (want_code), st_.to_string().c_str());                                      \
        for (const char* needle_ : {__VA_ARGS__})                                                          \
            QVERIFY2(st_.message().find(needle_) != std::string::npos,                                     \
                     qPrintable(QString("message lacks '%1': %2").arg(needle_, st_.to_string().c_str()))); \
    } while (0)

class TestGgufHostile : public QObject {
    Q_OBJECT
private slots:
    void truncation_at_every_byte_is_an_error() {
        const auto full = small_valid_file();
        QVERIFY(parse(full).is_ok());
        auto f = GgufFile::parse(full.data(), full.size(), "x");
        uint64_t need = 0;
        for (const auto& t : (*f)->tensors())
            need = std::max(need, (*f)->data_offset() + t.offset + t.nbytes);
        int errors = 0;
        for (size_t len = 0; len < full.size(); ++len) {
            std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
            Status st = parse(cut);
            if (len >= need) {
                QVERIFY2(st.is_ok(), st.to_string().c_str());  // only trailing padding was cut
                continue;
            }
            QVERIFY2(!st.is_ok(), qPrintable(QString("truncated to %1 bytes was accepted").arg(len)));
            QCOMPARE(st.code(), ErrorCode::corrupt_data);
            QVERIFY2(st.message().find("offset") != std::string::npos, st.to_string().c_str());
            QVERIFY2(st.message().find("hostile.gguf") != std::string::npos, st.to_string().c_str());
            ++errors;
        }
        QVERIFY(errors > 200);
    }

    void bad_magic_and_versions() {
        Raw r;
        r.bytes("GGUX", 4).u32(3).u64(0).u64(0);
        EXPECT_ERROR(r.b, ErrorCode::corrupt_data, "magic", "offset 0");
        EXPECT_ERROR(Raw().header(0, 0, 1).b, ErrorCode::unsupported, "version 1", "offset 4");
        EXPECT_ERROR(Raw().header(0, 0, 99).b, ErrorCode::corrupt_data, "version 99", "offset 4");
        EXPECT_ERROR(Raw().header(0, 0, 0).b, ErrorCode::corrupt_data, "version 0", "offset 4");
        EXPECT_ERROR(Raw().header(0, 0, 0x03000000).b, ErrorCode::unsupported, "big-endian", "offset 4");
        QVERIFY(parse(Raw().header(0, 0, 2).b).is_ok());
        QVERIFY(parse(Raw().header(0, 0, 3).b).is_ok());
    }

    void absurd_counts() {
        EXPECT_ERROR(Raw().header(0, uint64_t{1} << 60).b, ErrorCode::corrupt_data, "metadata count",
                     "offset 16");
        EXPECT_ERROR(Raw().header(~uint64_t{0}, 0).b, ErrorCode::corrupt_data, "tensor count", "offset 8");
        // Counts that fit the bound but not the file.
        EXPECT_ERROR(Raw().header(0, 3).kv_u32("a", 1).bytes(std::string(30, '\xff').data(), 30).b,
                     ErrorCode::corrupt_data, "metadata entry 1", "offset");
    }

    void string_lengths_past_eof() {
        EXPECT_ERROR(Raw().header(0, 1).u64(1000).bytes("abcdefghijklmnop", 16).b, ErrorCode::corrupt_data,
                     "key of metadata entry 0", "length 1000", "offset 24");
        EXPECT_ERROR(Raw().header(0, 1).str("k").u32(8).u64(~uint64_t{0}).b, ErrorCode::corrupt_data,
                     "metadata 'k'", "offset 37");
        EXPECT_ERROR(Raw().header(1, 0).u64(uint64_t{1} << 40).zeros(40).b, ErrorCode::corrupt_data,
                     "name of tensor 0", "offset 24");
    }

    void array_counts_and_nesting() {
        EXPECT_ERROR(Raw().header(0, 1).str("arr").u32(9).u32(4).u64(uint64_t{1} << 61).b,
                     ErrorCode::corrupt_data, "metadata 'arr'", "array of", "offset 39");
        EXPECT_ERROR(Raw().header(0, 1).str("arr").u32(9).u32(8).u64(5).str("x").b, ErrorCode::corrupt_data,
                     "metadata 'arr'", "offset");
        // Arrays of arrays 9 deep (the limit is 8).
        Raw deep;
        deep.header(0, 1).str("deep").u32(9);
        for (int i = 0; i < 9; ++i) deep.u32(9).u64(1);
        deep.u32(4).u64(0);
        EXPECT_ERROR(deep.b, ErrorCode::corrupt_data, "nested deeper", "offset");
        // 8 deep is fine.
        Raw ok;
        ok.header(0, 1).str("deep").u32(9);
        for (int i = 0; i < 7; ++i) ok.u32(9).u64(1);
        ok.u32(4).u64(1).u32(7);
        QVERIFY2(parse(ok.b).is_ok(), parse(ok.b).to_string().c_str());
        EXPECT_ERROR(Raw().header(0, 1).str("b").u32(9).u32(7).u64(2).u8(1).u8(2).b, ErrorCode::corrupt_data,
                     "boolean has value 2", "offset 50");
        EXPECT_ERROR(Raw().header(0, 1).str("b").u32(7).u8(5).b, ErrorCode::corrupt_data,
                     "boolean has value 5", "offset 37");
    }

    void unknown_value_and_tensor_types() {
        EXPECT_ERROR(Raw().header(0, 1).str("k").u32(13).u32(0).b, ErrorCode::corrupt_data,
                     "unknown value type 13", "offset 33");
        EXPECT_ERROR(Raw().header(0, 1).str("k").u32(9).u32(77).u64(0).b, ErrorCode::corrupt_data,
                     "unknown array element type 77", "offset 37");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {32}, 99, 0).pad_to(32).zeros(64).b,
                     ErrorCode::unsupported, "tensor 't'", "unknown tensor type 99", "offset");
        // Type ids between known ones (4, 5 were Q4_2/Q4_3, removed from ggml).
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {32}, 4, 0).pad_to(32).zeros(64).b,
                     ErrorCode::unsupported, "unknown tensor type 4");
    }

    void bad_dimensions() {
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {}, 0, 0).zeros(64).b, ErrorCode::corrupt_data,
                     "tensor 't'", "0 dimensions", "offset 33");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).zeros(64).b,
                     ErrorCode::corrupt_data, "5 dimensions", "offset 33");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {4, 0}, 0, 0).zeros(64).b, ErrorCode::corrupt_data,
                     "dimension 1 is 0", "offset 45");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0).zeros(64).b,
                     ErrorCode::corrupt_data, "overflows", "offset 45");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {~uint64_t{0}}, 0, 0).zeros(64).b,
                     ErrorCode::corrupt_data, "dimension 0 is", "offset 37");
        // Element count fits but the byte count does not (F32: 4 bytes each).
        EXPECT_ERROR(Raw()
                         .header(1, 0)
                         .tensor("t", {uint64_t{1} << 31, uint64_t{1} << 31}, 0, 0)
                         .pad_to(32)
                         .zeros(64)
                         .b,
                     ErrorCode::corrupt_data, "tensor 't'", "offset");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {33}, 2, 0).zeros(64).b, ErrorCode::corrupt_data,
                     "row length 33", "offset");
    }

    void tensor_offsets() {
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {8}, 0, 4).pad_to(32).zeros(64).b,
                     ErrorCode::corrupt_data, "tensor 't'", "not aligned", "offset 49");
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {8}, 0, 64).pad_to(32).zeros(64).b,
                     ErrorCode::corrupt_data, "tensor 't'", "runs past", "offset");
        EXPECT_ERROR(
            Raw().header(1, 0).tensor("t", {8}, 0, ~uint64_t{0} & ~uint64_t{31}).pad_to(32).zeros(64).b,
            ErrorCode::corrupt_data, "tensor 't'", "runs past");
        // Data section itself past EOF.
        EXPECT_ERROR(Raw().header(1, 0).tensor("t", {8}, 0, 0).b, ErrorCode::corrupt_data, "data section",
                     "offset 64");
        QVERIFY(parse(Raw().header(1, 0).tensor("t", {8}, 0, 0).pad_to(32).zeros(32).b).is_ok());
    }

    void duplicates() {
        EXPECT_ERROR(Raw().header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2).b, ErrorCode::corrupt_data,
                     "metadata key 'a.b'", "duplicate", "offset 43");
        EXPECT_ERROR(Raw().header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad_to(32).zeros(64).b,
                     ErrorCode::corrupt_data, "tensor 't'", "duplicate", "offset 57");
    }

    void bad_alignment() {
        for (uint32_t a :
             {0u, 1u, 2u, 3u, 4u, 48u, 0x80000000u}) {  // also below 8: GGUF needs a multiple of 8
            Raw r;
            r.header(0, 1).kv_u32("general.alignment", a);
            EXPECT_ERROR(r.b, ErrorCode::corrupt_data, "general.alignment", "power of two", "offset 24");
        }
        EXPECT_ERROR(Raw().header(0, 1).str("general.alignment").u32(8).str("32").b, ErrorCode::corrupt_data,
                     "general.alignment", "must be an integer", "offset 24");
        EXPECT_ERROR(Raw().header(0, 1).str("general.alignment").u32(5).u32(-32).b, ErrorCode::corrupt_data,
                     "general.alignment", "-32");
        // A valid non-default alignment moves the data section.
        Raw r;
        r.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {8}, 0, 0).pad_to(64).zeros(32);
        auto f = GgufFile::parse(r.b.data(), r.b.size(), "x");
        QVERIFY2(f.is_ok(), f.status().to_string().c_str());
        QCOMPARE((*f)->alignment(), uint64_t(64));
        QCOMPARE((*f)->data_offset() % 64, uint64_t(0));
    }

    // Counts that the size check lets through (each entry's minimum size times the count fits the file) must
    // not make the reader allocate many times the file: vectors are pre-sized at most 4096 entries, and
    // arrays of arrays share a budget of 65536 items.
    void counts_within_the_file_do_not_force_huge_allocations() {
        const size_t body = size_t{1} << 20;
        auto bytes_for = [](const std::vector<uint8_t>& b) {
            const uint64_t before = g_new_bytes.load();
            Status st = parse(b);
            return std::make_pair(st, g_new_bytes.load() - before);
        };
        {  // n_kv = remaining / 12 over zeros: an empty key, a u8, then a duplicate empty key.
            Raw r;
            r.header(0, body / 12).zeros(body);
            auto [st, bytes] = bytes_for(r.b);
            QVERIFY(!st.is_ok());
            QVERIFY2(st.message().find("duplicate") != std::string::npos, st.to_string().c_str());
            QVERIFY2(bytes < r.b.size(), qPrintable(QString("parsing allocated %1 bytes").arg(bytes)));
        }
        {  // n_tensors = remaining / 28 over zeros: the first tensor has 0 dimensions.
            Raw r;
            r.header(body / 28, 0).zeros(body);
            auto [st, bytes] = bytes_for(r.b);
            QVERIFY(!st.is_ok());
            QVERIFY2(st.message().find("0 dimensions") != std::string::npos, st.to_string().c_str());
            QVERIFY2(bytes < r.b.size(), qPrintable(QString("parsing allocated %1 bytes").arg(bytes)));
        }
        {  // An array of body/12 empty u8 arrays: every item is valid, so only the budget stops it.
            Raw r;
            r.header(0, 1).str("nest").u32(9).u32(9).u64(body / 12);
            for (size_t k = 0; k < body / 12; ++k) r.u32(0).u64(0);
            auto [st, bytes] = bytes_for(r.b);
            EXPECT_ERROR(r.b, ErrorCode::corrupt_data, "metadata 'nest'", "arrays of arrays", "offset 40");
            QVERIFY2(bytes < 2 * r.b.size(), qPrintable(QString("parsing allocated %1 bytes").arg(bytes)));
            // Within the budget the same shape parses.
            Raw ok;
            ok.header(0, 1).str("nest").u32(9).u32(9).u64(1000);
            for (int k = 0; k < 1000; ++k) ok.u32(0).u64(0);
            QVERIFY2(parse(ok.b).is_ok(), parse(ok.b).to_string().c_str());
        }
        {  // A string array claiming remaining / 8 entries whose 11th is bad: memory follows the entries
           // read.
            Raw r;
            r.header(0, 1).str("s").u32(9).u32(8).u64(body / 8);
            for (int k = 0; k < 10; ++k) r.str("x");
            r.u64(~uint64_t{0}).zeros(body - 90);
            auto [st, bytes] = bytes_for(r.b);
            QVERIFY(!st.is_ok());
            QVERIFY2(bytes < r.b.size(), qPrintable(QString("parsing allocated %1 bytes").arg(bytes)));
        }
    }

    // A tensor-less file may end inside the alignment padding: the data section is empty, not past the end
    // (the fingerprint used to compute file_size - data_offset and underflow).
    void tensorless_file_has_an_empty_data_section() {
        Raw r;
        r.header(0, 1).str("general.architecture").u32(8).str("llama");
        QVERIFY(r.b.size() % 32 != 0);
        auto f = GgufFile::parse(r.b.data(), r.b.size(), "notensors.gguf");
        QVERIFY2(f.is_ok(), f.status().to_string().c_str());
        QCOMPARE((*f)->data_offset(), uint64_t(r.b.size()));
        QCOMPARE((*f)->data_size(), size_t(0));
        auto fp = model_fingerprint(**f);
        QVERIFY2(fp.is_ok(), fp.status().to_string().c_str());
        // Same metadata, different padding at the end: the empty data section hashes the same.
        Raw padded = r;
        padded.pad_to(32);
        auto g = GgufFile::parse(padded.b.data(), padded.b.size(), "padded.gguf");
        QVERIFY2(g.is_ok(), g.status().to_string().c_str());
        QCOMPARE((*g)->data_size(), size_t(0));
        auto fp2 = model_fingerprint(**g);
        QVERIFY(fp2.is_ok());
        QVERIFY(*fp == *fp2);
    }

    void empty_and_tiny_inputs() {
        EXPECT_ERROR(std::vector<uint8_t>{}, ErrorCode::corrupt_data, "magic", "offset 0");
        EXPECT_ERROR(std::vector<uint8_t>({'G', 'G'}), ErrorCode::corrupt_data, "magic", "offset 0");
    }
};

QTEST_GUILESS_MAIN(TestGgufHostile)
#include "test_gguf_hostile.moc"

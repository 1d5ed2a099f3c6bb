// GgufWriter -> GgufFile round trip: every metadata value type (nested arrays included), tensors of every
// type and rank, alignment honoured, atomic replacement on disk.
#include <QTemporaryDir>
#include <QtTest>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "model/dequant.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"

using namespace docket;

namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 7));
    return v;
}

// Every value type, with extremes.
void add_all_values(GgufWriter& w) {
    QVERIFY(w.set("v.u8", GgufWriteValue::u8(255)).is_ok());
    QVERIFY(w.set("v.i8", GgufWriteValue::i8(-128)).is_ok());
    QVERIFY(w.set("v.u16", GgufWriteValue::u16(65535)).is_ok());
    QVERIFY(w.set("v.i16", GgufWriteValue::i16(-32768)).is_ok());
    QVERIFY(w.set("v.u32", GgufWriteValue::u32(4000000000u)).is_ok());
    QVERIFY(w.set("v.i32", GgufWriteValue::i32(std::numeric_limits<int32_t>::min())).is_ok());
    QVERIFY(w.set("v.u64", GgufWriteValue::u64(~uint64_t{0})).is_ok());
    QVERIFY(w.set("v.i64", GgufWriteValue::i64(std::numeric_limits<int64_t>::min())).is_ok());
    QVERIFY(w.set("v.f32", GgufWriteValue::f32(-1.5e-7f)).is_ok());
    QVERIFY(w.set("v.f64", GgufWriteValue::f64(3.141592653589793)).is_ok());
    QVERIFY(w.set("v.true", GgufWriteValue::boolean(true)).is_ok());
    QVERIFY(w.set("v.false", GgufWriteValue::boolean(false)).is_ok());
    QVERIFY(w.set("v.str", GgufWriteValue::string("héllo\nwörld")).is_ok());
    QVERIFY(w.set("v.empty_str", GgufWriteValue::string("")).is_ok());
    QVERIFY(
        w.set("a.i32", GgufWriteValue::i32_array({-1, 0, 7, std::numeric_limits<int32_t>::max()})).is_ok());
    QVERIFY(w.set("a.f32", GgufWriteValue::f32_array({0.5f, -2.0f})).is_ok());
    QVERIFY(w.set("a.u8", GgufWriteValue::numeric_array(GgufType::u8, {1, 2, 3})).is_ok());
    QVERIFY(w.set("a.bool", GgufWriteValue::numeric_array(GgufType::boolean, {1, 0, 1})).is_ok());
    std::vector<uint8_t> u64s(16);
    const uint64_t big[2] = {~uint64_t{0}, 42};
    std::memcpy(u64s.data(), big, 16);
    QVERIFY(w.set("a.u64", GgufWriteValue::numeric_array(GgufType::u64, u64s)).is_ok());
    QVERIFY(w.set("a.str", GgufWriteValue::string_array({"a", "", "Ġthe"})).is_ok());
    QVERIFY(w.set("a.empty", GgufWriteValue::i32_array({})).is_ok());
    QVERIFY(
        w.set("a.nested", GgufWriteValue::array_of_arrays(
                              {GgufWriteValue::i32_array({1, 2}), GgufWriteValue::string_array({"x", "yz"}),
                               GgufWriteValue::array_of_arrays({GgufWriteValue::f32_array({9.0f})})}))
            .is_ok());
}

void check_all_values(const GgufFile& f) {
    QCOMPARE(*f.get_uint("v.u8"), uint64_t(255));
    QCOMPARE(*f.get_int("v.i8"), int64_t(-128));
    QCOMPARE(*f.get_uint("v.u16"), uint64_t(65535));
    QCOMPARE(*f.get_int("v.i16"), int64_t(-32768));
    QCOMPARE(*f.get_uint("v.u32"), uint64_t(4000000000u));
    QCOMPARE(*f.get_int("v.i32"), int64_t(std::numeric_limits<int32_t>::min()));
    QCOMPARE(*f.get_uint("v.u64"), ~uint64_t{0});
    QCOMPARE(*f.get_int("v.i64"), std::numeric_limits<int64_t>::min());
    QCOMPARE(f.find("v.f32")->type, GgufType::f32);
    QCOMPARE(static_cast<float>(*f.get_float("v.f32")), -1.5e-7f);
    QCOMPARE(*f.get_float("v.f64"), 3.141592653589793);
    QCOMPARE(*f.get_bool("v.true"), true);
    QCOMPARE(*f.get_bool("v.false"), false);
    QCOMPARE(std::string(*f.get_string("v.str")), std::string("héllo\nwörld"));
    QCOMPARE(std::string(*f.get_string("v.empty_str")), std::string());
    QCOMPARE(*f.get_int_array("a.i32"),
             (std::vector<int64_t>{-1, 0, 7, std::numeric_limits<int32_t>::max()}));
    QCOMPARE(f.find("a.i32")->elem_type, GgufType::i32);
    QCOMPARE(*f.get_f32_array("a.f32"), (std::vector<float>{0.5f, -2.0f}));
    QCOMPARE(*f.get_int_array("a.u8"), (std::vector<int64_t>{1, 2, 3}));
    QCOMPARE(f.find("a.bool")->elem_type, GgufType::boolean);
    QCOMPARE(*f.get_int_array("a.bool"), (std::vector<int64_t>{1, 0, 1}));
    QCOMPARE(f.find("a.u64")->elem_type, GgufType::u64);
    QCOMPARE(f.find("a.u64")->count, uint64_t(2));
    auto strs = *f.get_string_array("a.str");
    QCOMPARE(strs.size(), size_t(3));
    QCOMPARE(std::string(strs[2]), std::string("Ġthe"));
    QCOMPARE(std::string(strs[1]), std::string());
    QCOMPARE(f.find("a.empty")->count, uint64_t(0));
    const GgufValue* n = f.find("a.nested");
    QVERIFY(n && n->type == GgufType::array && n->elem_type == GgufType::array);
    QCOMPARE(n->items.size(), size_t(3));
    QCOMPARE(n->items[0].elem_type, GgufType::i32);
    QCOMPARE(n->items[0].count, uint64_t(2));
    QCOMPARE(n->items[1].strings.size(), size_t(2));
    QCOMPARE(std::string(n->items[1].strings[1]), std::string("yz"));
    QCOMPARE(n->items[2].items.size(), size_t(1));
    float nine;
    std::memcpy(&nine, n->items[2].items[0].raw, 4);
    QCOMPARE(nine, 9.0f);
}

struct TensorSpec {
    const char* name;
    GgmlType type;
    std::vector<int64_t> ne;
};

const std::vector<TensorSpec>& tensor_specs() {
    static const std::vector<TensorSpec> specs = {
        {"f32.1d", GgmlType::F32, {7}},
        {"f16.2d", GgmlType::F16, {3, 5}},
        {"bf16.3d", GgmlType::BF16, {2, 3, 4}},
        {"q4_0.4d", GgmlType::Q4_0, {64, 2, 1, 3}},
        {"q4_1", GgmlType::Q4_1, {32, 3}},
        {"q5_0", GgmlType::Q5_0, {32, 1}},
        {"q5_1", GgmlType::Q5_1, {64}},
        {"q8_0", GgmlType::Q8_0, {32, 2}},
        {"q2_k", GgmlType::Q2_K, {256}},
        {"q3_k", GgmlType::Q3_K, {256, 2}},
        {"q4_k", GgmlType::Q4_K, {512}},
        {"q5_k", GgmlType::Q5_K, {256}},
        {"q6_k", GgmlType::Q6_K, {256, 3}},
        {"q8_k", GgmlType::Q8_K, {256}},
        {"i32", GgmlType::I32, {5}},
        {"f64", GgmlType::F64, {3}},
    };
    return specs;
}

size_t nbytes(const TensorSpec& s) {
    int64_t rows = 1;
    for (size_t d = 1; d < s.ne.size(); ++d) rows *= s.ne[d];
    return ggml_row_size(s.type, s.ne[0]) * static_cast<size_t>(rows);
}

}  // namespace

class TestGgufWriter : public QObject {
    Q_OBJECT
private slots:
    void round_trip_all_values_and_tensor_types() {
        for (uint32_t align : {0u, 8u, 64u, 4096u}) {  // 0: default (32), no key; 8: the smallest allowed
            GgufWriter w;
            if (align) QVERIFY(w.set("general.alignment", GgufWriteValue::u32(align)).is_ok());
            add_all_values(w);
            uint8_t seed = 1;
            for (const auto& s : tensor_specs())
                QVERIFY(w.add_tensor(s.name, s.type, s.ne, pattern(nbytes(s), seed++)).is_ok());
            auto bytes = w.write_memory();
            QVERIFY(bytes.is_ok());
            QCOMPARE(bytes->size(), size_t(w.file_size()));
            auto f = GgufFile::parse(bytes->data(), bytes->size(), "mem.gguf");
            QVERIFY2(f.is_ok(), f.status().to_string().c_str());
            const GgufFile& g = **f;
            QCOMPARE(g.version(), 3u);
            const uint64_t a = align ? align : 32;
            QCOMPARE(g.alignment(), a);
            QCOMPARE(g.data_offset() % a, uint64_t(0));
            check_all_values(g);
            QCOMPARE(g.tensors().size(), tensor_specs().size());
            seed = 1;
            for (size_t i = 0; i < tensor_specs().size(); ++i) {
                const auto& s = tensor_specs()[i];
                const GgufTensor& t = g.tensors()[i];
                QCOMPARE(t.name, std::string(s.name));
                QCOMPARE(t.type, s.type);
                QCOMPARE(t.n_dims, static_cast<int>(s.ne.size()));
                for (size_t d = 0; d < 4; ++d) QCOMPARE(t.ne[d], d < s.ne.size() ? s.ne[d] : int64_t(1));
                QCOMPARE(t.offset % a, uint64_t(0));
                QCOMPARE(size_t(t.nbytes), nbytes(s));
                QVERIFY(std::memcmp(t.data, pattern(nbytes(s), seed++).data(), t.nbytes) == 0);
            }
        }
    }

    void streamed_tensor_and_atomic_file() {
        QTemporaryDir dir;
        const std::string path = dir.filePath("m.gguf").toStdString();
        {  // an older file that a failed write must leave alone
            std::ofstream(path) << "old";
        }
        auto make = [](bool wrong_size) {
            GgufWriter w;
            (void)w.set_string("general.architecture", "llama");
            (void)w.add_tensor("streamed", GgmlType::F32, {1000, 3},
                               [wrong_size](GgufTensorSink& sink) -> Status {
                                   std::vector<float> row(1000);
                                   for (int r = 0; r < (wrong_size ? 2 : 3); ++r) {
                                       for (int i = 0; i < 1000; ++i) row[i] = r * 1000.0f + i;
                                       DK_TRY(sink.write(row.data(), row.size() * 4));
                                   }
                                   return Status::ok();
                               });
            return w;
        };
        Status bad = make(true).write_file(path);
        QCOMPARE(bad.code(), ErrorCode::invalid_argument);
        QVERIFY2(bad.message().find("streamed") != std::string::npos, bad.to_string().c_str());
        QCOMPARE(std::filesystem::file_size(path), uintmax_t(3));
        QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()), {}),
                 1);  // no tmp left

        QVERIFY(make(false).write_file(path).is_ok());
        QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()), {}), 1);
        auto f = GgufFile::open(path);
        QVERIFY2(f.is_ok(), f.status().to_string().c_str());
        const GgufTensor* t = (*f)->find_tensor("streamed");
        QVERIFY(t);
        std::vector<float> row(1000);
        QVERIFY(dequantize_row(t->type, t->row(2), row.data(), 1000).is_ok());
        QCOMPARE(row[999], 2999.0f);

        Status no_dir = make(false).write_file(dir.filePath("missing/sub/m.gguf").toStdString());
        QCOMPARE(no_dir.code(), ErrorCode::io_error);
    }

    // Issue 13 item 4: `make-model --out /dev/full` replaced the device node with a regular file (the
    // temporary file was renamed over whatever the name held), and the temporary was opened with O_TRUNC, so
    // a name planted in advance as a link truncated the file it pointed to.
    void write_file_refuses_non_regular_targets_and_planted_temporaries() {
        QTemporaryDir dir;
        auto small = [] {
            GgufWriter w;
            (void)w.set_string("general.name", "x");
            return w;
        };
        auto at = [&](const char* name) { return dir.filePath(name).toStdString(); };
        auto type_of = [](const std::string& p) {
            struct stat st {};
            return ::lstat(p.c_str(), &st) == 0 ? st.st_mode & S_IFMT : 0;
        };
        auto content = [](const std::string& p) {
            std::ifstream in(p, std::ios::binary);
            return std::string(std::istreambuf_iterator<char>(in), {});
        };
        const std::string fifo = at("fifo"), sub = at("sub"), link = at("link"), victim = at("victim");
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QCOMPARE(::mkdir(sub.c_str(), 0700), 0);
        std::ofstream(victim) << "precious";
        QCOMPARE(::symlink(victim.c_str(), link.c_str()), 0);
        const std::pair<std::string, const char*> targets[] = {
            {fifo, "is a FIFO"}, {sub, "is a directory"}, {link, "is a symbolic link"}};
        for (const auto& [target, what] : targets) {
            const Status st = small().write_file(target);
            QCOMPARE(st.code(), ErrorCode::invalid_argument);
            QVERIFY2(st.message().find(what) != std::string::npos, st.to_string().c_str());
        }
        QCOMPARE(type_of(fifo), mode_t(S_IFIFO));
        QCOMPARE(type_of(sub), mode_t(S_IFDIR));
        QCOMPARE(type_of(link), mode_t(S_IFLNK));
        // The temporary name tried first is planted as a link to the victim: it is skipped, not followed.
        const std::string out = at("m.gguf"), planted = out + ".tmp." + std::to_string(::getpid());
        QCOMPARE(::symlink(victim.c_str(), planted.c_str()), 0);
        QVERIFY(small().write_file(out).is_ok());
        QCOMPARE(content(victim), std::string("precious"));
        QCOMPARE(type_of(planted), mode_t(S_IFLNK));
        QCOMPARE(type_of(out), mode_t(S_IFREG));
        QVERIFY(GgufFile::open(out).is_ok());
    }

    void writer_rejects_bad_input() {
        GgufWriter w;
        QVERIFY(w.set_u32("k", 1).is_ok());
        QCOMPARE(w.set_u32("k", 2).code(), ErrorCode::invalid_argument);
        QCOMPARE(w.set("general.alignment", GgufWriteValue::u32(48)).code(), ErrorCode::invalid_argument);
        // GGUF alignment is a multiple of 8 (smaller ones would misalign f32 data read in place).
        for (uint32_t a : {0u, 1u, 2u, 4u, (1u << 31)})
            QCOMPARE(w.set("general.alignment", GgufWriteValue::u32(a)).code(), ErrorCode::invalid_argument);
        QCOMPARE(w.set("general.alignment", GgufWriteValue::u64(64)).code(), ErrorCode::invalid_argument);
        GgufWriteValue broken = GgufWriteValue::i32_array({1, 2});
        broken.count = 3;
        QCOMPARE(w.set("broken", broken).code(), ErrorCode::invalid_argument);
        QCOMPARE(w.set("aoa", GgufWriteValue::array_of_arrays({GgufWriteValue::u8(1)})).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(w.add_tensor("t", GgmlType::Q4_0, {33}, std::vector<uint8_t>(18)).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(w.add_tensor("t", GgmlType::F32, {4}, std::vector<uint8_t>(15)).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(w.add_tensor("t", GgmlType::F32, {0}, std::vector<uint8_t>()).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(w.add_tensor(std::string(64, 'x'), GgmlType::F32, {1}, std::vector<uint8_t>(4)).code(),
                 ErrorCode::invalid_argument);
        QVERIFY(w.add_tensor("t", GgmlType::F32, {1}, std::vector<uint8_t>(4)).is_ok());
        QCOMPARE(w.add_tensor("t", GgmlType::F32, {1}, std::vector<uint8_t>(4)).code(),
                 ErrorCode::invalid_argument);
    }

    // Copying values read from a real file reproduces them (used by make-model --vocab-from).
    void from_read_copies_a_real_tokenizer() {
        const std::string src = std::string(DOCKET_SHARED_DIR) + "/data/tokenizer/ggml-vocab-gpt-2.gguf";
        auto in = GgufFile::open(src);
        QVERIFY2(in.is_ok(), in.status().to_string().c_str());
        GgufWriter w;
        for (const auto& kv : (*in)->kvs())
            QVERIFY(w.set(std::string(kv.key), GgufWriteValue::from_read(kv.value)).is_ok());
        auto bytes = w.write_memory();
        auto out = GgufFile::parse(bytes->data(), bytes->size(), "copy");
        QVERIFY2(out.is_ok(), out.status().to_string().c_str());
        QCOMPARE((*out)->kvs().size(), (*in)->kvs().size());
        for (const auto& kv : (*in)->kvs()) {
            const GgufValue* v = (*out)->find(kv.key);
            QVERIFY(v);
            QCOMPARE(v->type, kv.value.type);
            QCOMPARE(v->count, kv.value.count);
            QCOMPARE(v->u, kv.value.u);
            QCOMPARE(v->str, kv.value.str);
            QCOMPARE(v->strings, kv.value.strings);
            if (v->raw)
                QVERIFY(std::memcmp(v->raw, kv.value.raw, v->count * gguf_scalar_size(v->elem_type)) == 0);
        }
    }
};

QTEST_GUILESS_MAIN(TestGgufWriter)
#include "test_gguf_writer.moc"

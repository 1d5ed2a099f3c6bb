// Dequantization is bit-identical to an independent reference (the PyPI gguf package's numpy dequantizers,
// data in tests/golden/dequant/), and the reference quantizers produce blocks whose dequantization stays
// close.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "model/dequant.h"
#include "test_paths.h"

using namespace docket;

namespace {

struct Golden {
    GgmlType type;
    std::vector<uint8_t> blocks;
    std::vector<uint32_t> expected_bits;
};

bool load_golden(const std::string& name, Golden* g, QString* err) {
    std::string path = test::source_dir() + "/tests/golden/dequant/" + name + ".bin";
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        *err = QString::fromStdString("cannot open " + path);
        return false;
    }
    char magic[4];
    uint32_t hdr[3];
    f.read(magic, 4);
    f.read(reinterpret_cast<char*>(hdr), sizeof hdr);
    if (!f || std::memcmp(magic, "DQG1", 4) != 0) {
        *err = QString::fromStdString(path + ": bad header");
        return false;
    }
    g->type = static_cast<GgmlType>(hdr[0]);
    g->blocks.resize(hdr[2]);
    g->expected_bits.resize(hdr[1]);
    f.read(reinterpret_cast<char*>(g->blocks.data()), hdr[2]);
    f.read(reinterpret_cast<char*>(g->expected_bits.data()), static_cast<std::streamsize>(hdr[1]) * 4);
    if (!f) {
        *err = QString::fromStdString(path + ": truncated");
        return false;
    }
    return true;
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// Weights as make-model draws them, plus a few outliers so that scales are exercised.
std::vector<float> sample_weights(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> x(n);
    for (auto& v : x) v = nd(rng);
    for (int64_t i = 0; i < n; i += 97) x[i] *= 8.0f;
    return x;
}

}  // namespace

class TestDequant : public QObject {
    Q_OBJECT
private slots:
    void bit_identical_to_gguf_reference() {
        QFETCH(QString, type_name);
        Golden g{};
        QString err;
        QVERIFY2(load_golden(type_name.toStdString(), &g, &err), qPrintable(err));
        QCOMPARE(QString(ggml_type_name(g.type)), type_name);
        QVERIFY(can_dequantize(g.type));
        const int64_t n = static_cast<int64_t>(g.expected_bits.size());
        QCOMPARE(ggml_row_size(g.type, n), g.blocks.size());
        std::vector<float> out(n, -12345.0f);
        Status st = dequantize_row(g.type, g.blocks.data(), out.data(), n);
        QVERIFY2(st.is_ok(), st.to_string().c_str());
        int64_t mismatches = 0, first = -1;
        for (int64_t i = 0; i < n; ++i)
            if (bits(out[i]) != g.expected_bits[i]) {
                if (first < 0) first = i;
                ++mismatches;
            }
        if (mismatches) {
            float want;
            std::memcpy(&want, &g.expected_bits[first], 4);
            QFAIL(qPrintable(QString("%1: %2 of %3 values differ; first at %4: got %5 (0x%6) want %7 (0x%8)")
                                 .arg(type_name)
                                 .arg(mismatches)
                                 .arg(n)
                                 .arg(first)
                                 .arg(out[first])
                                 .arg(bits(out[first]), 8, 16, QChar('0'))
                                 .arg(want)
                                 .arg(g.expected_bits[first], 8, 16, QChar('0'))));
        }
    }
    void bit_identical_to_gguf_reference_data() {
        QTest::addColumn<QString>("type_name");
        for (const char* t : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K",
                              "Q4_K", "Q5_K", "Q6_K"})
            QTest::newRow(t) << QString(t);
    }

    // Q8_K and Q8_1 have no numpy reference; check them against their definition (y = d * q).
    void dequant_q8_k_and_q8_1_by_definition() {
        std::vector<uint8_t> b(292);
        const float d = 0.375f;
        std::memcpy(b.data(), &d, 4);
        for (int i = 0; i < 256; ++i) b[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(i - 128));
        std::vector<float> y(256);
        QVERIFY(dequantize_row(GgmlType::Q8_K, b.data(), y.data(), 256).is_ok());
        for (int i = 0; i < 256; ++i) QCOMPARE(y[i], d * static_cast<float>(i - 128));
        std::vector<uint8_t> c(36);
        const uint16_t h = fp32_to_fp16(0.5f), s = fp32_to_fp16(3.0f);
        std::memcpy(c.data(), &h, 2);
        std::memcpy(c.data() + 2, &s, 2);
        for (int i = 0; i < 32; ++i) c[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 7 - 100));
        std::vector<float> z(32);
        QVERIFY(dequantize_row(GgmlType::Q8_1, c.data(), z.data(), 32).is_ok());
        for (int i = 0; i < 32; ++i) QCOMPARE(z[i], 0.5f * static_cast<float>(i * 7 - 100));
    }

    // Every fp16 value converts to float and back unchanged; float->fp16 rounds to nearest even.
    void fp16_conversion_round_trips_and_rounds_to_even() {
        for (uint32_t h = 0; h < 0x10000; ++h) {
            const bool nan = (h & 0x7C00) == 0x7C00 && (h & 0x3FF);
            if (nan) continue;
            QCOMPARE(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), static_cast<uint16_t>(h));
        }
        QCOMPARE(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), uint16_t(0x3C00));      // tie -> even (down)
        QCOMPARE(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), uint16_t(0x3C02));  // tie -> even (up)
        QCOMPARE(fp32_to_fp16(65520.0f), uint16_t(0x7C00));
        QCOMPARE(fp32_to_fp16(65519.0f), uint16_t(0x7BFF));
        QCOMPARE(fp32_to_fp16(std::ldexp(1.0f, -25)), uint16_t(0x0000));  // tie between 0 and min subnormal
        QCOMPARE(fp32_to_fp16(std::ldexp(1.5f, -25)), uint16_t(0x0001));
        QCOMPARE(fp32_to_fp16(-std::ldexp(3.0f, -25)), uint16_t(0x8002));  // 1.5 subnormal units -> 2 (even)
        QCOMPARE(fp32_to_fp16(std::nanf("")), uint16_t(0x7E00));
        QCOMPARE(fp32_to_bf16(1.0f), uint16_t(0x3F80));
        QCOMPARE(fp32_to_bf16(bf16_to_fp32(0x4049)), uint16_t(0x4049));
    }

    // Quantize -> dequantize stays within a per-format bound relative to the data's RMS.
    void quantizers_round_trip_within_bounds() {
        QFETCH(int, type);
        QFETCH(double, max_rel_rms);
        const auto t = static_cast<GgmlType>(type);
        QVERIFY(can_quantize(t));
        const int64_t n = 256 * 64;
        auto x = sample_weights(n, 7 + type);
        std::vector<uint8_t> q(ggml_row_size(t, n));
        QVERIFY(quantize_row(t, x.data(), q.data(), n).is_ok());
        std::vector<float> y(n);
        QVERIFY(dequantize_row(t, q.data(), y.data(), n).is_ok());
        double se = 0, sx = 0;
        for (int64_t i = 0; i < n; ++i) {
            QVERIFY(std::isfinite(y[i]));
            se += (y[i] - x[i]) * double(y[i] - x[i]);
            sx += double(x[i]) * x[i];
        }
        const double rel = std::sqrt(se / sx);
        qInfo("%s: relative RMS error %.5f (bound %.3f)", ggml_type_name(t), rel, max_rel_rms);
        QVERIFY2(rel <= max_rel_rms, qPrintable(QString("relative RMS error %1").arg(rel)));
        // Zeros stay exactly zero (a padded row must not pick up a bias).
        std::vector<float> zeros(256, 0.0f), back(256, 1.0f);
        QVERIFY(quantize_row(t, zeros.data(), q.data(), 256).is_ok());
        QVERIFY(dequantize_row(t, q.data(), back.data(), 256).is_ok());
        for (float v : back) QCOMPARE(v, 0.0f);
    }
    void quantizers_round_trip_within_bounds_data() {
        QTest::addColumn<int>("type");
        QTest::addColumn<double>("max_rel_rms");
        QTest::newRow("F32") << int(GgmlType::F32) << 0.0;
        QTest::newRow("F16") << int(GgmlType::F16) << 0.001;
        QTest::newRow("BF16") << int(GgmlType::BF16) << 0.005;
        QTest::newRow("Q8_0") << int(GgmlType::Q8_0) << 0.012;
        QTest::newRow("Q6_K") << int(GgmlType::Q6_K) << 0.035;
        QTest::newRow("Q4_0") << int(GgmlType::Q4_0) << 0.16;
        QTest::newRow("Q4_1") << int(GgmlType::Q4_1) << 0.12;
        QTest::newRow("Q4_K") << int(GgmlType::Q4_K) << 0.12;
    }

    void rejects_bad_counts_and_types() {
        std::vector<float> y(64);
        std::vector<uint8_t> b(64);
        Status st = dequantize_row(GgmlType::Q4_0, b.data(), y.data(), 33);
        QCOMPARE(st.code(), ErrorCode::invalid_argument);
        QVERIFY(!can_dequantize(GgmlType::I32));
        QCOMPARE(dequantize_row(GgmlType::I32, b.data(), y.data(), 4).code(), ErrorCode::unsupported);
        QVERIFY(!can_quantize(GgmlType::Q2_K));
        QCOMPARE(quantize_row(GgmlType::Q2_K, y.data(), b.data(), 256).code(), ErrorCode::unsupported);
    }
};

QTEST_GUILESS_MAIN(TestDequant)
#include "test_dequant.moc"

// KV page codecs: layout constants, lossless fp16, KIVI int8/int4/int2 round trips with asserted error
// bounds, the documented bit packing, partial pages.
#include <QtTest>

#include <cmath>
#include <cstring>

#include "format/kv_codec.h"
#include "format/kv_page.h"
#include "store_test_util.h"
#include "util/half.h"

using namespace docket;
using namespace docket::store;
namespace kp = docket::kv_page;

namespace {

struct Err {
    double k_rel = 0, v_rel = 0;
};

// Encodes and decodes a whole synthetic layer set page by page; returns Frobenius relative errors.
Err roundtrip_error(Codec c, const test::SyntheticKv& kv) {
    const auto& s = kv.shape;
    const size_t per_token = size_t(s.n_kv_heads) * s.head_dim;
    std::vector<uint8_t> page(kp::page_bytes(c, s.n_kv_heads, s.head_dim));
    std::vector<float> k(per_token * 64), v(per_token * 64);
    double kn = 0, ke = 0, vn = 0, ve = 0;
    for (int l = 0; l < s.n_layers; ++l)
        for (int64_t t0 = 0; t0 < kv.n_tokens; t0 += 64) {
            const int valid = int(std::min<int64_t>(64, kv.n_tokens - t0));
            const float* kin = kv.k[l].data() + t0 * per_token;
            const float* vin = kv.v[l].data() + t0 * per_token;
            if (!encode_page(c, s.n_kv_heads, s.head_dim, kin, vin, valid, page.data())) return {1e9, 1e9};
            if (!decode_page(c, s.n_kv_heads, s.head_dim, page.data(), valid, k.data(), v.data()))
                return {1e9, 1e9};
            for (size_t i = 0; i < valid * per_token; ++i) {
                kn += double(kin[i]) * kin[i];
                ke += double(k[i] - kin[i]) * (k[i] - kin[i]);
                vn += double(vin[i]) * vin[i];
                ve += double(v[i] - vin[i]) * (v[i] - vin[i]);
            }
        }
    return {std::sqrt(ke / kn), std::sqrt(ve / vn)};
}

float half_at(const uint8_t* p) {
    uint16_t u;
    std::memcpy(&u, p, 2);
    return fp16_to_fp32(u);
}

}  // namespace

class TestStoreCodec : public QObject {
    Q_OBJECT
private slots:
    void page_layout_parts_aligned_and_sized() {
        for (int c = 0; c < kp::kNumCodecs; ++c)
            for (auto [h, d] : {std::pair{3, 64}, {8, 128}, {1, 4}, {5, 96}}) {
                const auto L = kp::page_layout(Codec(c), h, d);
                QCOMPARE(L.bytes % kp::kPageAlign, size_t(0));
                for (size_t off : {L.k_codes, L.v_codes, L.k_scales, L.v_scales})
                    QCOMPARE(off % kp::kPartAlign, size_t(0));
                QVERIFY(L.v_codes >= L.k_codes + L.k_codes_bytes);
                QVERIFY(L.k_scales >= L.v_codes + L.v_codes_bytes);
                QVERIFY(L.v_scales >= L.k_scales + L.k_scales_bytes);
                QVERIFY(L.bytes >= L.v_scales + L.v_scales_bytes);
                const int bits = kp::codec_bits(Codec(c));
                QCOMPARE(L.k_codes_bytes, size_t(h) * d * 64 * bits / 8);
            }
        // SmolLM2 (3 KV heads x 64) bytes per token per layer, scales included.
        QCOMPARE(kp::page_bytes(Codec::fp16, 3, 64) / 64, size_t(768));
        QCOMPARE(kp::page_bytes(Codec::int8, 3, 64) / 64, size_t(408));
        QCOMPARE(kp::page_bytes(Codec::int4, 3, 64) / 64, size_t(216));
        QCOMPARE(kp::page_bytes(Codec::int2, 3, 64) / 64, size_t(120));
    }

    void fp16_roundtrip_is_lossless() {
        auto kv = test::make_kv(7, {2, 3, 64}, 150);
        for (auto* layers : {&kv.k, &kv.v})
            for (auto& l : *layers)
                for (float& x : l) x = fp16_to_fp32(fp32_to_fp16(x));  // make every input a half
        Err e = roundtrip_error(Codec::fp16, kv);
        QCOMPARE(e.k_rel, 0.0);
        QCOMPARE(e.v_rel, 0.0);
    }

    void quantized_roundtrip_error_bounds_data() {
        QTest::addColumn<int>("codec");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("dim");
        QTest::addColumn<double>("k_bound");
        QTest::addColumn<double>("v_bound");
        // Bounds: relative Frobenius error on synthetic KV (Gaussian, outlier key channels), measured then
        // given ~1.5x headroom. A regression in rounding or packing blows through them by orders of
        // magnitude.
        for (auto [h, d] : {std::pair{3, 64}, {8, 128}}) {
            const QByteArray shape = QByteArray::number(h) + "x" + QByteArray::number(d);
            QTest::newRow("int8 " + shape) << int(Codec::int8) << h << d << 0.006 << 0.009;
            QTest::newRow("int4 " + shape) << int(Codec::int4) << h << d << 0.10 << 0.15;
            QTest::newRow("int2 " + shape) << int(Codec::int2) << h << d << 0.5 << 0.75;
        }
    }
    void quantized_roundtrip_error_bounds() {
        QFETCH(int, codec);
        QFETCH(int, heads);
        QFETCH(int, dim);
        QFETCH(double, k_bound);
        QFETCH(double, v_bound);
        auto kv = test::make_kv(11, {2, heads, dim}, 64 * 3 + 17);  // a partial last page too
        Err e = roundtrip_error(Codec(codec), kv);
        qInfo("%s %dx%d: K rel err %.5f, V rel err %.5f", kp::codec_name(Codec(codec)), heads, dim, e.k_rel,
              e.v_rel);
        QVERIFY2(e.k_rel < k_bound, qPrintable(QString("K rel err %1 >= %2").arg(e.k_rel).arg(k_bound)));
        QVERIFY2(e.v_rel < v_bound, qPrintable(QString("V rel err %1 >= %2").arg(e.v_rel).arg(v_bound)));
    }

    // Every element lies within half a quantization step of its group's (scale, zero) grid.
    void quantized_element_error_within_half_step() {
        const int H = 2, D = 64;
        auto kv = test::make_kv(3, {1, H, D}, 64);
        for (Codec c : {Codec::int8, Codec::int4, Codec::int2}) {
            const auto L = kp::page_layout(c, H, D);
            std::vector<uint8_t> page(L.bytes);
            std::vector<float> k(H * D * 64), v(H * D * 64);
            QVERIFY(encode_page(c, H, D, kv.k[0].data(), kv.v[0].data(), 64, page.data()).is_ok());
            QVERIFY(decode_page(c, H, D, page.data(), 64, k.data(), v.data()).is_ok());
            for (int t = 0; t < 64; ++t)
                for (int h = 0; h < H; ++h)
                    for (int d = 0; d < D; ++d) {
                        const size_t i = (size_t(t) * H + h) * D + d;
                        const float ks = half_at(&page[L.k_scales + (h * D + d) * 4]);
                        const float kz = half_at(&page[L.k_scales + (h * D + d) * 4 + 2]);
                        const float vs = half_at(&page[L.v_scales + (h * 64 + t) * 4]);
                        const float vz = half_at(&page[L.v_scales + (h * 64 + t) * 4 + 2]);
                        const float kt = 0.5f * ks + std::fabs(kz) * 1e-3f + 1e-6f;
                        const float vt = 0.5f * vs + std::fabs(vz) * 1e-3f + 1e-6f;
                        QVERIFY2(std::fabs(k[i] - kv.k[0][i]) <= kt,
                                 qPrintable(QString("%1 K t%2 h%3 d%4: %5 vs %6")
                                                .arg(kp::codec_name(c))
                                                .arg(t)
                                                .arg(h)
                                                .arg(d)
                                                .arg(k[i])
                                                .arg(kv.k[0][i])));
                        QVERIFY2(std::fabs(v[i] - kv.v[0][i]) <= vt,
                                 qPrintable(QString("%1 V t%2 h%3 d%4: %5 vs %6")
                                                .arg(kp::codec_name(c))
                                                .arg(t)
                                                .arg(h)
                                                .arg(d)
                                                .arg(v[i])
                                                .arg(kv.v[0][i])));
                    }
        }
    }

    // The bit positions documented in format/kv_page.h, checked from the raw bytes (what the CUDA kernels
    // rely on).
    void codes_packed_as_documented() {
        const int H = 2, D = 8;
        for (Codec c : {Codec::int8, Codec::int4, Codec::int2}) {
            const int bits = kp::codec_bits(c), qmax = (1 << bits) - 1;
            std::vector<float> k(64 * H * D), v(64 * H * D);
            // Integer-valued inputs spanning 0..qmax in every group: codes equal the values exactly.
            for (int t = 0; t < 64; ++t)
                for (int h = 0; h < H; ++h)
                    for (int d = 0; d < D; ++d) {
                        k[(t * H + h) * D + d] = float((t * 7 + h * 3 + d) % (qmax + 1));
                        v[(t * H + h) * D + d] = float((d * 5 + t + h) % (qmax + 1));
                    }
            for (int h = 0; h < H; ++h)
                for (int d = 0; d < D; ++d) k[(0 * H + h) * D + d] = 0, k[(1 * H + h) * D + d] = float(qmax);
            for (int t = 0; t < 64; ++t)
                for (int h = 0; h < H; ++h) v[(t * H + h) * D + 0] = 0, v[(t * H + h) * D + 1] = float(qmax);
            const auto L = kp::page_layout(c, H, D);
            std::vector<uint8_t> page(L.bytes);
            QVERIFY(encode_page(c, H, D, k.data(), v.data(), 64, page.data()).is_ok());
            for (int t = 0; t < 64; ++t)
                for (int h = 0; h < H; ++h)
                    for (int d = 0; d < D; ++d) {
                        const int kbit = t * bits, vbit = d * bits;
                        const uint8_t* kc = &page[L.k_codes + size_t(h * D + d) * (64 * bits / 8)];
                        const uint8_t* vc = &page[L.v_codes + size_t(h * 64 + t) * (D * bits / 8)];
                        QCOMPARE(int((kc[kbit / 8] >> (kbit % 8)) & qmax), int(k[(t * H + h) * D + d]));
                        QCOMPARE(int((vc[vbit / 8] >> (vbit % 8)) & qmax), int(v[(t * H + h) * D + d]));
                    }
        }
    }

    void partial_page_slots_are_zero() {
        const int H = 3, D = 64, valid = 10;
        auto kv = test::make_kv(5, {1, H, D}, valid);
        for (int c = 0; c < kp::kNumCodecs; ++c) {
            const auto L = kp::page_layout(Codec(c), H, D);
            std::vector<uint8_t> page(L.bytes, 0xAB);
            QVERIFY(encode_page(Codec(c), H, D, kv.k[0].data(), kv.v[0].data(), valid, page.data()).is_ok());
            const int bits = kp::codec_bits(Codec(c));
            for (int h = 0; h < H; ++h)
                for (int t = valid; t < 64; ++t) {
                    if (c == int(Codec::fp16)) {
                        for (int d = 0; d < D; ++d) {
                            QCOMPARE(half_at(&page[L.k_codes + ((h * 64 + t) * D + d) * 2]), 0.0f);
                            QCOMPARE(half_at(&page[L.v_codes + ((h * 64 + t) * D + d) * 2]), 0.0f);
                        }
                        continue;
                    }
                    QCOMPARE(half_at(&page[L.v_scales + (h * 64 + t) * 4]), 0.0f);
                    QCOMPARE(half_at(&page[L.v_scales + (h * 64 + t) * 4 + 2]), 0.0f);
                    for (int d = 0; d < D; ++d) {
                        const uint8_t* kc = &page[L.k_codes + size_t(h * D + d) * (64 * bits / 8)];
                        QCOMPARE((kc[t * bits / 8] >> (t * bits % 8)) & ((1 << bits) - 1), 0);
                    }
                    for (size_t b = 0; b < size_t(D) * bits / 8; ++b)
                        QCOMPARE(int(page[L.v_codes + (h * 64 + t) * (D * bits / 8) + b]), 0);
                }
            // Tail padding of the page is zero too (the 0xAB fill must be gone).
            const size_t end =
                c == int(Codec::fp16) ? L.v_codes + L.v_codes_bytes : L.v_scales + L.v_scales_bytes;
            for (size_t b = end; b < L.bytes; ++b) QCOMPARE(int(page[b]), 0);
        }
    }

    void hostile_inputs_rejected_or_sanitized() {
        std::vector<float> k(64 * 64, std::nanf("")), v(64 * 64, INFINITY);
        std::vector<uint8_t> page(kp::page_bytes(Codec::int4, 1, 64));
        QVERIFY(encode_page(Codec::int4, 1, 64, k.data(), v.data(), 64, page.data()).is_ok());
        std::vector<float> ko(64 * 64), vo(64 * 64);
        QVERIFY(decode_page(Codec::int4, 1, 64, page.data(), 64, ko.data(), vo.data()).is_ok());
        for (float x : ko) QVERIFY(std::isfinite(x));
        for (float x : vo) QVERIFY(std::isfinite(x));
        QCOMPARE(encode_page(Codec::int4, 1, 64, k.data(), v.data(), 65, page.data()).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(encode_page(Codec::int4, 1, 62, k.data(), v.data(), 1, page.data()).code(),
                 ErrorCode::invalid_argument);
        QCOMPARE(encode_page(Codec(9), 1, 64, k.data(), v.data(), 1, page.data()).code(),
                 ErrorCode::invalid_argument);
    }
    // One spelling per codec (format/kv_page.h): every name parses back to its codec; other spellings, such
    // as the kernels' former "f16", are refused with a message naming the option and the codecs.
    void codec_names_are_one_spelling() {
        for (int c = 0; c < kp::kNumCodecs; ++c) {
            auto r = kp::parse_codec(kp::codec_name(Codec(c)), "--codec");
            QVERIFY(r.is_ok());
            QCOMPARE(int(*r), c);
        }
        for (const char* bad : {"f16", "FP16", "int3", "", "int4 "}) {
            auto r = kp::parse_codec(bad, "--codec");
            QVERIFY2(!r.is_ok(), bad);
            QCOMPARE(r.status().code(), ErrorCode::invalid_argument);
            QVERIFY(r.status().message().find("--codec") != std::string::npos);
            QVERIFY(r.status().message().find(kp::kCodecNames) != std::string::npos);
        }
    }
    // Pages of other token counts (the CUDA kernels' tests) follow the same layout; counts outside 16..256 or
    // not a multiple of 16 are refused.
    void page_tokens_other_than_64() {
        const auto kv = test::make_kv(7, {1, 2, 64}, 32);
        for (int T : {16, 32, 256}) {
            const int valid = std::min(T, 32);
            std::vector<uint8_t> page(kp::page_bytes(Codec::int4, 2, 64, T));
            QCOMPARE(page.size() % kp::kPageAlign, size_t(0));
            QVERIFY(encode_page(Codec::int4, 2, 64, kv.k[0].data(), kv.v[0].data(), valid, page.data(), T)
                        .is_ok());
            std::vector<float> k(valid * 2 * 64), v(k.size());
            QVERIFY(decode_page(Codec::int4, 2, 64, page.data(), valid, k.data(), v.data(), T).is_ok());
            double num = 0, den = 0;
            for (size_t i = 0; i < k.size(); ++i)
                num += (k[i] - kv.k[0][i]) * (k[i] - kv.k[0][i]), den += kv.k[0][i] * kv.k[0][i];
            QVERIFY2(std::sqrt(num / den) < 0.10, qPrintable(QString("page of %1 tokens").arg(T)));
        }
        std::vector<uint8_t> page(kp::page_bytes(Codec::int4, 2, 64, 256));
        for (int T : {8, 17, 272})
            QCOMPARE(
                encode_page(Codec::int4, 2, 64, kv.k[0].data(), kv.v[0].data(), 1, page.data(), T).code(),
                ErrorCode::invalid_argument);
    }
};

QTEST_GUILESS_MAIN(TestStoreCodec)
#include "test_store_codec.moc"

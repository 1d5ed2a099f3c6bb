// The CPU kernels of every instruction set this machine runs (scalar, AVX2, AVX-512) against plain
// references: fused dequant + dot and tile dequantization vs dequantize_row (the model room's bit-exact ggml
// reference) and a double-precision dot; f32 GEMM, attention and SwiGLU vs naive loops.
#include <QtTest>

#include <cmath>
#include <random>
#include <vector>

#include "model/dequant.h"
#include "runtime/cpu/simd.h"

using namespace docket;
using namespace docket::cpu;

namespace {

std::vector<float> random_vec(std::mt19937& rng, int64_t n, float scale = 1.0f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

std::vector<const CpuKernels*> levels() {
    std::vector<const CpuKernels*> v;
    for (SimdLevel l : {SimdLevel::scalar, SimdLevel::avx2, SimdLevel::avx512})
        if (const CpuKernels* k = kernels_for(l)) v.push_back(k);
    return v;
}

const GgmlType kFusedTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                                GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K};

}  // namespace

class TestKernels : public QObject {
    Q_OBJECT
private slots:
    void reports_levels() {
        QVERIFY(kernels_for(SimdLevel::scalar) != nullptr);
        qInfo("SIMD levels here: scalar%s%s; selected %s", kernels_for(SimdLevel::avx2) ? " avx2" : "",
              kernels_for(SimdLevel::avx512) ? " avx512" : "", simd_level_name(kernels().level));
    }

    void fused_dot_and_dequant_match_dequantize_row() {
        std::mt19937 rng(42);
        for (GgmlType type : kFusedTypes) {
            for (int64_t n : {256, 576, 4096}) {
                const auto* tr = ggml_type_traits(type);
                QVERIFY(tr);
                if (n % tr->block_size) continue;
                // A few rows with different magnitudes so block scales vary.
                const int rows = 4;
                std::vector<uint8_t> q(ggml_row_size(type, n) * rows);
                std::vector<std::vector<float>> ref(rows, std::vector<float>(n));
                for (int r = 0; r < rows; ++r) {
                    auto w = random_vec(rng, n, 0.02f * (r + 1));
                    QVERIFY(quantize_row(type, w.data(), q.data() + r * ggml_row_size(type, n), n).is_ok());
                    QVERIFY(dequantize_row(type, q.data() + r * ggml_row_size(type, n), ref[r].data(), n)
                                .is_ok());
                }
                const auto x = random_vec(rng, n);
                for (const CpuKernels* k : levels()) {
                    const int ti = static_cast<int>(type);
                    QVERIFY2(k->dot[ti] && k->dequant[ti], ggml_type_name(type));
                    double worst_dot = 0.0, worst_deq = 0.0;
                    for (int r = 0; r < rows; ++r) {
                        const uint8_t* row = q.data() + r * ggml_row_size(type, n);
                        std::vector<float> mine(n);
                        k->dequant[ti](row, mine.data(), n);
                        for (int64_t i = 0; i < n; ++i) {
                            // Bit-exact except where the compiler fused q*d+m into one FMA (one rounding
                            // less).
                            const double e = std::fabs(mine[i] - ref[r][i]) / (std::fabs(ref[r][i]) + 1e-30);
                            if (ref[r][i] != 0.0f)
                                worst_deq = std::max(worst_deq, e);
                            else
                                QCOMPARE(mine[i], 0.0f);
                        }
                        double exact = 0.0, mag = 0.0;
                        for (int64_t i = 0; i < n; ++i) {
                            exact += static_cast<double>(ref[r][i]) * x[i];
                            mag += std::fabs(static_cast<double>(ref[r][i]) * x[i]);
                        }
                        const float got = k->dot[ti](row, x.data(), n);
                        worst_dot = std::max(worst_dot, std::fabs(got - exact) / mag);
                    }
                    const QByteArray what = QByteArray(ggml_type_name(type)) + " n=" + QByteArray::number(n) +
                                            " " + simd_level_name(k->level);
                    qInfo("%s: dot error / sum|w*x| = %.2e, dequant max rel error = %.2e", what.constData(),
                          worst_dot, worst_deq);
                    QVERIFY2(worst_deq <= 2.5e-7, what.constData());  // <= ~2 ulp
                    QVERIFY2(worst_dot <= 2e-6, what.constData());
                }
            }
        }
    }

    void gemm_nt_matches_naive() {
        std::mt19937 rng(7);
        for (const CpuKernels* k : levels()) {
            for (auto [m, n, kk] :
                 {std::tuple{1, 1, 1}, {3, 5, 17}, {7, 16, 576}, {64, 16, 1536}, {5, 3, 40}}) {
                const auto a = random_vec(rng, m * kk), b = random_vec(rng, n * kk);
                std::vector<float> c(m * n, NAN);
                k->gemm_nt(m, n, kk, a.data(), kk, b.data(), kk, c.data(), n);
                for (int i = 0; i < m; ++i)
                    for (int j = 0; j < n; ++j) {
                        double exact = 0.0, mag = 0.0;
                        for (int t = 0; t < kk; ++t) {
                            exact += static_cast<double>(a[i * kk + t]) * b[j * kk + t];
                            mag += std::fabs(static_cast<double>(a[i * kk + t]) * b[j * kk + t]);
                        }
                        QVERIFY2(std::fabs(c[i * n + j] - exact) <= 2e-6 * mag + 1e-30,
                                 simd_level_name(k->level));
                    }
            }
        }
    }

    void attention_matches_naive_softmax() {
        std::mt19937 rng(9);
        const int n_keys = 37, n_kv = 3, nq = 6;
        for (const CpuKernels* k : levels()) {
            for (int hd : {16, 64, 80, 128}) {
                const int stride = n_kv * hd, g = 1;  // attend to kv head 1 of 3
                const auto q = random_vec(rng, nq * hd), kv = random_vec(rng, n_keys * stride),
                           vv = random_vec(rng, n_keys * stride);
                // Keys in 16-token tiles, as KvCache keeps its rotated copy.
                const int64_t tile = static_cast<int64_t>(stride) * 16;
                std::vector<float> kt((n_keys + 15) / 16 * tile, 0.0f);
                for (int j = 0; j < n_keys; ++j)
                    for (int i = 0; i < stride; ++i)
                        kt[(j / 16) * tile + i * 16 + j % 16] = kv[j * stride + i];
                std::vector<int32_t> pos(n_keys);
                for (int j = 0; j < n_keys; ++j) pos[j] = (j * 13) % 50;  // unordered, with gaps
                const std::vector<int32_t> qpos = {30, 0, 49, 12, 3, 30};
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                std::vector<float> scores(nq * ((n_keys + 15) / 16 * 16)), out(nq * hd, NAN);
                k->attention(nq, q.data(), qpos.data(), kt.data() + g * hd * 16, tile, vv.data() + g * hd,
                             stride, pos.data(), n_keys, hd, scale, scores.data(), out.data());
                for (int r = 0; r < nq; ++r) {
                    std::vector<double> s(n_keys, -INFINITY);
                    double mx = -INFINITY;
                    for (int j = 0; j < n_keys; ++j) {
                        if (pos[j] > qpos[r]) continue;
                        double d = 0;
                        for (int i = 0; i < hd; ++i)
                            d += static_cast<double>(q[r * hd + i]) * kv[j * stride + g * hd + i];
                        s[j] = d * scale;
                        mx = std::max(mx, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < n_keys; ++j) sum += pos[j] > qpos[r] ? 0.0 : std::exp(s[j] - mx);
                    for (int i = 0; i < hd; ++i) {
                        double o = 0;
                        for (int j = 0; j < n_keys; ++j)
                            if (pos[j] <= qpos[r])
                                o += std::exp(s[j] - mx) / sum * vv[j * stride + g * hd + i];
                        QVERIFY2(std::fabs(out[r * hd + i] - o) <= 1e-5,
                                 qPrintable(QString("%1 hd %2 row %3 dim %4: %5 vs %6")
                                                .arg(simd_level_name(k->level))
                                                .arg(hd)
                                                .arg(r)
                                                .arg(i)
                                                .arg(out[r * hd + i])
                                                .arg(o)));
                    }
                }
            }
        }
    }

    void swiglu_matches_formula() {
        std::mt19937 rng(11);
        for (const CpuKernels* k : levels()) {
            const int n = 1000 + 3;
            auto g = random_vec(rng, n, 4.0f), u = random_vec(rng, n);
            g[0] = -100.0f;
            g[1] = 100.0f;
            std::vector<float> out(n);
            k->swiglu(n, g.data(), u.data(), out.data());
            for (int i = 0; i < n; ++i) {
                const double ref = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
                QVERIFY2(std::fabs(out[i] - ref) <= 1e-6 * std::fabs(ref) + 1e-30, simd_level_name(k->level));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestKernels)
#include "test_kernels.moc"

// RoPE: hand-computed rotations for both pairings (llama "normal" = adjacent pairs, qwen "NeoX" = halves),
// partial rotation, Llama-3 frequency scaling, and the property Docket's KV composition rests on: after
// rotation, q·k depends only on the position difference.
#include <QtTest>

#include <cmath>
#include <random>

#include "runtime/cpu/ops.h"

using namespace docket;
using namespace docket::cpu;

namespace {

ModelConfig rope_config(RopeStyle style, int head_dim, int n_rot, float base) {
    ModelConfig c;
    c.rope_style = style;
    c.head_dim = head_dim;
    c.n_rot = n_rot;
    c.rope_freq_base = base;
    return c;
}

void rotate(const RopeTable& t, int32_t pos, float* x, int n_heads) {
    std::vector<float> cs(t.n_rot);
    rope_cos_sin(t, pos, cs.data());
    rope_apply(t, cs.data(), x, n_heads);
}

void expect_near(const float* got, const double* want, int n, double tol = 2e-6) {
    for (int i = 0; i < n; ++i)
        QVERIFY2(std::fabs(got[i] - want[i]) <= tol,
                 qPrintable(QString("element %1: got %2, want %3").arg(i).arg(got[i]).arg(want[i])));
}

}  // namespace

class TestRope : public QObject {
    Q_OBJECT
private slots:
    // head_dim 4, base 10000: inv_freq = {1, 0.01}; at position 1 the angles are 1 and 0.01 rad.
    void normal_rotates_adjacent_pairs() {
        const RopeTable t = make_rope_table(rope_config(RopeStyle::normal, 4, 4, 10000.0f), {});
        QCOMPARE(t.inv_freq.size(), size_t(2));
        QCOMPARE(t.inv_freq[0], 1.0f);
        QVERIFY(std::fabs(t.inv_freq[1] - 0.01f) < 1e-9);
        float x[4] = {1, 2, 3, 4};
        rotate(t, 1, x, 1);
        // (x0, x1) by 1 rad, (x2, x3) by 0.01 rad.
        const double want[4] = {-1.1426396637476532, 1.922075596544176, 2.9598506679133294,
                                4.029799501669161};
        expect_near(x, want, 4);
    }

    void neox_rotates_half_split_pairs() {
        const RopeTable t = make_rope_table(rope_config(RopeStyle::neox, 4, 4, 10000.0f), {});
        float x[4] = {1, 2, 3, 4};
        rotate(t, 1, x, 1);
        // (x0, x2) by 1 rad, (x1, x3) by 0.01 rad.
        const double want[4] = {-1.9841106485555495, 1.959900667496664, 2.4623779024123156,
                                4.019799668334994};
        expect_near(x, want, 4);
    }

    void partial_rotation_leaves_tail_dims() {
        // n_rot 2 of head_dim 4: only (x0, x1) turn, by pos * 1 rad; two heads, both rotated.
        const RopeTable t = make_rope_table(rope_config(RopeStyle::normal, 4, 2, 10000.0f), {});
        float x[8] = {1, 2, 3, 4, 1, 2, 3, 4};
        rotate(t, 3, x, 2);
        const double want[4] = {-1.27223251272018, -1.8388649851410237, 3, 4};
        expect_near(x, want, 4);
        expect_near(x + 4, want, 4);
    }

    void position_zero_is_identity() {
        for (RopeStyle s : {RopeStyle::normal, RopeStyle::neox}) {
            const RopeTable t = make_rope_table(rope_config(s, 64, 64, 100000.0f), {});
            std::vector<float> x(64);
            for (int i = 0; i < 64; ++i) x[i] = i * 0.5f - 3;
            auto y = x;
            rotate(t, 0, y.data(), 1);
            for (int i = 0; i < 64; ++i) QCOMPARE(y[i], x[i]);
        }
    }

    void dot_depends_only_on_relative_position() {
        std::mt19937 rng(3);
        std::normal_distribution<float> d;
        for (RopeStyle s : {RopeStyle::normal, RopeStyle::neox}) {
            const RopeTable t = make_rope_table(rope_config(s, 64, 64, 100000.0f), {});
            std::vector<float> q(64), k(64);
            for (auto& v : q) v = d(rng);
            for (auto& v : k) v = d(rng);
            auto dot_at = [&](int32_t pq, int32_t pk) {
                auto a = q, b = k;
                rotate(t, pq, a.data(), 1);
                rotate(t, pk, b.data(), 1);
                double r = 0;
                for (int i = 0; i < 64; ++i) r += static_cast<double>(a[i]) * b[i];
                return r;
            };
            const double base = dot_at(7, 3);
            for (int32_t off : {0, 1, 100, 1000, 4000}) {
                const double r = dot_at(7 + off, 3 + off);
                // f32 angles lose precision as positions grow: allow ~1e-3 of |q||k| (~64 here).
                QVERIFY2(std::fabs(r - base) < 1e-3 * 64,
                         qPrintable(QString("offset %1: %2 vs %3").arg(off).arg(r).arg(base)));
            }
            // And it does change with the difference (the rotation is not a no-op).
            QVERIFY(std::fabs(dot_at(7, 3) - dot_at(9, 3)) > 1e-3);
        }
    }

    void llama3_scaling_follows_the_reference_formula() {
        ModelConfig c = rope_config(RopeStyle::normal, 128, 128, 500000.0f);
        c.rope_llama3 = true;
        c.rope_scaling_factor = 8.0f;
        c.rope_low_freq_factor = 1.0f;
        c.rope_high_freq_factor = 4.0f;
        c.rope_orig_ctx = 8192;
        const RopeTable plain = make_rope_table(rope_config(RopeStyle::normal, 128, 128, 500000.0f), {});
        const RopeTable t = make_rope_table(c, {});
        int unchanged = 0, divided = 0, smoothed = 0;
        for (int i = 0; i < 64; ++i) {
            const double f = plain.inv_freq[i], wavelen = 2 * M_PI / f;
            double want;
            if (wavelen < 8192.0 / 4) {
                want = f, ++unchanged;
            } else if (wavelen > 8192.0 / 1) {
                want = f / 8, ++divided;
            } else {
                const double sm = (8192.0 / wavelen - 1) / (4 - 1);
                want = (1 - sm) * f / 8 + sm * f, ++smoothed;
            }
            QVERIFY2(std::fabs(t.inv_freq[i] - want) <= 1e-6 * want, qPrintable(QString("pair %1").arg(i)));
        }
        QVERIFY(unchanged > 0 && divided > 0 && smoothed > 0);
        // rope_freqs.weight factors (how llama.cpp stores the same scaling) divide the frequencies instead.
        std::vector<float> factors(64, 2.0f);
        const RopeTable tf = make_rope_table(c, factors);
        QCOMPARE(tf.inv_freq[0], plain.inv_freq[0] / 2.0f);
    }
};

QTEST_APPLESS_MAIN(TestRope)
#include "test_rope.moc"

// Sampling: greedy is the argmax; each filter (top-k, top-p, min-p, repetition penalty) keeps exactly the set
// its definition names; a seed makes sampling reproducible; the generation loop stops where it should.
#include <QtTest>

#include <cmath>
#include <limits>
#include <map>

#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "runtime_test_util.h"

using namespace docket;

namespace {

// Logits whose softmax at temperature 1 is exactly `probs` (up to the normalization constant).
std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> l;
    for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
    return l;
}

std::vector<TokenId> ids(const std::vector<std::pair<TokenId, float>>& c) {
    std::vector<TokenId> v;
    for (auto& [id, p] : c) v.push_back(id);
    return v;
}

SamplerParams neutral(float temp) {
    SamplerParams p;
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    return p;
}

}  // namespace

class TestSampler : public QObject {
    Q_OBJECT
    // probabilities 0.05 0.4 0.1 0.3 0.15 for ids 0..4
    const std::vector<float> L = logits_of({0.05, 0.4, 0.1, 0.3, 0.15});

private slots:
    void greedy_is_argmax_and_ignores_filters() {
        SamplerParams p = neutral(0.0f);
        p.top_k = 1;
        p.min_p = 0.9f;
        Sampler s(p);
        for (int i = 0; i < 5; ++i) QCOMPARE(s.sample(L), 1);
        // Ties go to the lowest id.
        const std::vector<float> tie = {1.0f, 3.0f, 3.0f};
        QCOMPARE(s.sample(tie), 1);
    }

    void top_k_keeps_the_k_largest() {
        SamplerParams p = neutral(1.0f);
        p.top_k = 2;
        const auto c = Sampler(p).candidates(L);
        QCOMPARE(ids(c), (std::vector<TokenId>{1, 3}));
        QVERIFY(std::fabs(c[0].second - 0.4 / 0.7) < 1e-6);
    }

    void top_p_keeps_the_smallest_set_reaching_p() {
        SamplerParams p = neutral(1.0f);
        p.top_p = 0.7f;  // 0.4 + 0.3 = 0.7 reaches it
        QCOMPARE(ids(Sampler(p).candidates(L)), (std::vector<TokenId>{1, 3}));
        p.top_p = 0.71f;  // needs the 0.15 too
        QCOMPARE(ids(Sampler(p).candidates(L)), (std::vector<TokenId>{1, 3, 4}));
    }

    void min_p_drops_tokens_below_a_fraction_of_the_best() {
        SamplerParams p = neutral(1.0f);
        p.min_p = 0.3f;  // floor 0.12: keeps 0.4, 0.3, 0.15
        QCOMPARE(ids(Sampler(p).candidates(L)), (std::vector<TokenId>{1, 3, 4}));
        p.min_p = 0.8f;  // floor 0.32: keeps 0.4 only
        QCOMPARE(ids(Sampler(p).candidates(L)), (std::vector<TokenId>{1}));
    }

    void temperature_sharpens_and_flattens() {
        SamplerParams p = neutral(0.5f);
        const auto sharp = Sampler(p).candidates(L);
        p.temperature = 2.0f;
        const auto flat = Sampler(p).candidates(L);
        QVERIFY(sharp[0].second > 0.4f + 0.1f);
        QVERIFY(flat[0].second < 0.4f - 0.05f);
        // p ~ p0^(1/T): at T = 0.5, 0.4^2 / sum(p^2).
        const double sum2 = 0.05 * 0.05 + 0.4 * 0.4 + 0.1 * 0.1 + 0.3 * 0.3 + 0.15 * 0.15;
        QVERIFY(std::fabs(sharp[0].second - 0.16 / sum2) < 1e-5);
    }

    void repetition_penalty_discourages_recent_tokens() {
        SamplerParams p = neutral(0.0f);
        p.repeat_penalty = 2.0f;
        p.repeat_last_n = 2;
        Sampler s(p);
        const std::vector<float> l = {1.0f, 4.0f, 3.0f, -1.0f};
        QCOMPARE(s.sample(l), 1);
        s.accept(1);  // 4 -> 2: now id 2 (3.0) wins
        QCOMPARE(s.sample(l), 2);
        s.accept(2);  // 3 -> 1.5, id 1 at 2.0 wins again
        QCOMPARE(s.sample(l), 1);
        s.accept(0);
        s.accept(3);  // window of 2 now holds {0, 3}: ids 1 and 2 unpenalized
        QCOMPARE(s.sample(l), 1);
        // Negative logits are multiplied (pushed further down).
        SamplerParams q = neutral(1.0f);
        q.repeat_penalty = 2.0f;
        Sampler t(q);
        t.accept(3);
        const auto c = t.candidates(l);
        QCOMPARE(c.back().first, 3);
    }

    void same_seed_same_tokens_different_seed_different_tokens() {
        SamplerParams p = neutral(1.0f);
        std::vector<float> flat(64, 0.0f);
        auto draw = [&](uint64_t seed) {
            p.seed = seed;
            Sampler s(p);
            std::vector<TokenId> v;
            for (int i = 0; i < 50; ++i) v.push_back(s.sample(flat));
            return v;
        };
        QCOMPARE(draw(1), draw(1));
        QVERIFY(draw(1) != draw(2));
        // Frequencies follow the distribution (5000 draws from L: id 1 about 40%).
        p.seed = 9;
        Sampler s(p);
        std::map<TokenId, int> n;
        for (int i = 0; i < 5000; ++i) ++n[s.sample(L)];
        QVERIFY(std::abs(n[1] - 2000) < 150);
        QVERIFY(std::abs(n[0] - 250) < 80);
        // reset() restarts the stream.
        Sampler r(p);
        const TokenId a = r.sample(L);
        r.reset();
        QCOMPARE(r.sample(L), a);
    }

    // NaN logits used to break the comparators' strict weak order (undefined behaviour in std::sort): now
    // they count as -inf, so they are never chosen while a finite logit exists, in greedy and sampled modes.
    void nan_logits_are_never_chosen() {
        const float nan = std::numeric_limits<float>::quiet_NaN(),
                    inf = std::numeric_limits<float>::infinity();
        std::vector<float> l(4096);
        for (size_t i = 0; i < l.size(); ++i) l[i] = (i % 3 == 0) ? nan : static_cast<float>(i % 17) * 0.1f;
        l[1000] = 5.0f;  // the best finite logit
        l[1] = nan;
        for (float temp : {0.0f, 0.7f, 1.5f}) {
            for (int top_k : {0, 40}) {
                SamplerParams p = neutral(temp);
                p.top_k = top_k;
                p.top_p = 0.9f;
                p.min_p = 0.01f;
                Sampler s(p);
                const auto c = s.candidates(l);
                QVERIFY(!c.empty());
                for (const auto& [id, prob] : c) {
                    QVERIFY2(!std::isnan(l[id]), qPrintable(QString("NaN logit %1 is a candidate").arg(id)));
                    QVERIFY(std::isfinite(prob));
                }
                QCOMPARE(c[0].first, 1000);
                for (int i = 0; i < 200; ++i) QVERIFY(!std::isnan(l[s.sample(l)]));
            }
        }
        // All NaN: a valid id (the first), not garbage. +inf wins like the largest logit.
        SamplerParams p = neutral(1.0f);
        Sampler s(p);
        QCOMPARE(s.sample(std::vector<float>(8, nan)), 0);
        QCOMPARE(s.sample(std::vector<float>{1.0f, inf, nan, 2.0f}), 1);
        QCOMPARE(Sampler(neutral(0.0f)).sample(std::vector<float>{nan, -1.0f, nan}), 1);
    }

    void non_finite_parameters_are_rejected() {
        QVERIFY(validate_sampler_params(neutral(0.8f)).is_ok());
        for (float bad :
             {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(), -1.0f}) {
            Status st = validate_sampler_params(neutral(bad));
            QCOMPARE(st.code(), ErrorCode::invalid_argument);
            QVERIFY2(st.message().find("temperature") != std::string::npos, st.to_string().c_str());
        }
        SamplerParams p = neutral(1.0f);
        p.repeat_penalty = 0.0f;
        QVERIFY(validate_sampler_params(p).message().find("repeat_penalty") != std::string::npos);
        p = neutral(1.0f);
        p.top_p = std::numeric_limits<float>::quiet_NaN();
        QVERIFY(!validate_sampler_params(p).is_ok());
        // generate() refuses them before running the model.
        QTemporaryDir dir;
        auto m = docket::test::tiny_model(dir, ModelArch::llama, GgmlType::F16);
        CpuForward fw(*m, 1);
        auto cache = docket::test::new_cache(m->config(), 16);
        GenerateParams gp;
        gp.sampling = neutral(std::numeric_limits<float>::quiet_NaN());
        const std::vector<TokenId> prompt = {1, 2};
        auto r = generate(fw, *cache, prompt, gp, nullptr, nullptr);
        QVERIFY(!r.is_ok());
        QCOMPARE(r.status().code(), ErrorCode::invalid_argument);
        QCOMPARE(cache->size(), 0);
    }

    void generation_stops_on_eog_max_tokens_cancel_and_callback() {
        QTemporaryDir dir;
        auto m = docket::test::tiny_model(dir, ModelArch::llama, GgmlType::F16);
        CpuForward fw(*m, 2);
        const auto prompt = docket::test::some_tokens(5, m->config().n_vocab);
        GenerateParams gp;
        gp.max_tokens = 12;
        auto run = [&](auto is_eog, auto on_token) {
            auto cache = docket::test::new_cache(m->config(), 64);
            auto r = generate(fw, *cache, prompt, gp, is_eog, on_token);
            if (!r) qFatal("%s", r.status().to_string().c_str());
            return std::move(r).value();
        };
        const auto full = run(nullptr, nullptr);
        QCOMPARE(full.stop, StopReason::max_tokens);
        QCOMPARE(full.generated, 12);
        QCOMPARE(run(nullptr, nullptr).tokens, full.tokens);  // greedy is deterministic
        const TokenId stop_at = full.tokens[4];
        const auto eog = run([&](TokenId t) { return t == stop_at; }, nullptr);
        QCOMPARE(eog.stop, StopReason::eog);
        QVERIFY(eog.generated <= 5);
        QCOMPARE(eog.tokens.back(), stop_at);
        int seen = 0;
        const auto cb = run(nullptr, [&](TokenId) { return ++seen < 3; });
        QCOMPARE(cb.stop, StopReason::callback);
        QCOMPARE(cb.generated, 3);
        std::atomic<bool> cancel{false};
        gp.cancel = &cancel;
        const auto cn = run(nullptr, [&](TokenId) {
            cancel = true;
            return true;
        });
        QCOMPARE(cn.stop, StopReason::cancelled);
        QCOMPARE(cn.generated, 1);
        gp.cancel = nullptr;
        // A context that fills up stops the loop instead of failing.
        auto small = docket::test::new_cache(m->config(), 8);
        auto r = generate(fw, *small, prompt, gp, nullptr, nullptr);
        QVERIFY(r.is_ok());
        QCOMPARE(r->stop, StopReason::context_full);
        QCOMPARE(small->size(), 8);
    }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "test_sampler.moc"

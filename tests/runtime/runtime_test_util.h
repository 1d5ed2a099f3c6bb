#pragma once
// Shared helpers of the runtime tests: tiny random models written with make-model, evaluation shortcuts.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "model/model_maker.h"
#include "runtime/forward.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"

namespace docket::test {

// Writes make-model's "tiny" shape (2 layers, n_embd 256, 4 heads / 2 kv heads x 64, vocab 512) for `arch`
// with weight type `type` into `dir` and loads it.
inline std::unique_ptr<Model> tiny_model(const QTemporaryDir& dir, ModelArch arch, GgmlType type,
                                         uint64_t seed = 1) {
    MakeModelOptions o;
    auto shape = model_shape("tiny");
    if (!shape) qFatal("tiny shape: %s", shape.status().to_string().c_str());
    o.shape = *shape;
    o.arch = arch;
    o.type = type;
    o.seed = seed;
    o.threads = 2;
    const std::string path =
        dir.filePath(QString("tiny_%1_%2.gguf").arg(model_arch_name(arch)).arg(ggml_type_name(type)))
            .toStdString();
    Status s = make_model(o, path);
    if (!s.is_ok()) qFatal("make_model: %s", s.to_string().c_str());
    auto m = Model::load(path);
    if (!m) qFatal("load %s: %s", path.c_str(), m.status().to_string().c_str());
    return std::move(*m);
}

inline std::unique_ptr<KvCache> new_cache(const ModelConfig& c, int32_t capacity) {
    auto r = KvCache::create(c, capacity);
    if (!r) qFatal("KvCache::create: %s", r.status().to_string().c_str());
    return std::move(r).value();
}

inline std::vector<TokenId> some_tokens(int n, int vocab, int salt = 0) {
    std::vector<TokenId> t(n);
    for (int i = 0; i < n; ++i) t[i] = static_cast<TokenId>((i * 7919 + salt * 104729 + 13) % vocab);
    return t;
}

inline std::vector<int32_t> iota_positions(int n, int first) {
    std::vector<int32_t> p(n);
    for (int i = 0; i < n; ++i) p[i] = first + i;
    return p;
}

inline int argmax(const float* v, int n) {
    return static_cast<int>(std::max_element(v, v + n) - v);
}

// max |a - b| over rows, divided by the mean (max - min) logit range of a's rows.
inline double max_diff_over_range(const std::vector<float>& a, const std::vector<float>& b, int vocab) {
    double worst = 0.0, range = 0.0;
    const size_t rows = a.size() / vocab;
    for (size_t r = 0; r < rows; ++r) {
        const float* x = a.data() + r * vocab;
        range += *std::max_element(x, x + vocab) - *std::min_element(x, x + vocab);
    }
    range /= std::max<size_t>(rows, 1);
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    return worst / range;
}

}  // namespace docket::test

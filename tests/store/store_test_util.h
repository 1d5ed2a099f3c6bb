#pragma once
// Shared by the store tests and the crash-test writer: deterministic synthetic KV that looks like a real
// model's (keys with a few large outlier channels, values without), keys derived from a seed so that a
// checker in another process can regenerate exactly what a writer stored.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "format/kv_codec.h"
#include "store/store.h"

namespace docket::test {

struct SyntheticKv {
    store::KvShape shape;
    int64_t n_tokens = 0;
    std::vector<std::vector<float>> k, v;  // per layer [n_tokens, n_kv_heads, head_dim]
    store::LayerKvFn fn() const {
        return [this](int l) { return store::LayerKv{k[l].data(), v[l].data()}; };
    }
};

inline SyntheticKv make_kv(uint64_t seed, store::KvShape shape, int64_t n_tokens) {
    SyntheticKv kv{shape, n_tokens, {}, {}};
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
    std::normal_distribution<float> n01(0.0f, 1.0f);
    const size_t per_token = static_cast<size_t>(shape.n_kv_heads) * shape.head_dim;
    for (int l = 0; l < shape.n_layers; ++l) {
        // Per channel: keys have a channel bias and scale (a few channels 10x: the outliers KIVI is built
        // for).
        std::vector<float> bias(per_token), scale(per_token);
        for (size_t c = 0; c < per_token; ++c) {
            bias[c] = n01(rng) * 2.0f;
            scale[c] = (rng() % 16 == 0) ? 8.0f : 0.5f + std::fabs(n01(rng));
        }
        std::vector<float> k(per_token * n_tokens), v(per_token * n_tokens);
        for (int64_t t = 0; t < n_tokens; ++t)
            for (size_t c = 0; c < per_token; ++c) {
                k[t * per_token + c] = bias[c] + scale[c] * n01(rng);
                v[t * per_token + c] = 0.3f * n01(rng);
            }
        kv.k.push_back(std::move(k));
        kv.v.push_back(std::move(v));
    }
    return kv;
}

// The crash writer's snapshots: everything about one follows from its seed.
struct SeededSnapshot {
    store::SnapshotKey key;
    store::KvShape shape;
    int64_t n_tokens;
};
inline SeededSnapshot seeded_snapshot(uint64_t seed) {
    std::mt19937_64 rng(seed);
    SeededSnapshot s;
    s.shape = store::KvShape{static_cast<int>(2 + rng() % 5), static_cast<int>(1 + rng() % 3), 64};
    s.n_tokens = static_cast<int64_t>(1 + rng() % 700);
    const auto codec = static_cast<store::Codec>(rng() % 4);
    s.key.codec = kv_page::default_codec_params(codec, s.shape.head_dim);
    s.key.model = Hash128{0x1111, 0x2222};
    s.key.prefix = Hash128{0x3333, 0x4444};
    s.key.content = Hash128{seed, seed ^ 0xC0FFEEull};
    return s;
}

// Pages the store must return for a seeded snapshot: [layer][page], page_bytes each.
inline std::vector<uint8_t> expected_pages(const SeededSnapshot& s, uint64_t seed) {
    SyntheticKv kv = make_kv(seed, s.shape, s.n_tokens);
    const size_t pb = kv_page::page_bytes(s.key.codec.codec, s.shape.n_kv_heads, s.shape.head_dim);
    const int n_pages = kv_page::pages_for_tokens(s.n_tokens);
    const size_t per_token = static_cast<size_t>(s.shape.n_kv_heads) * s.shape.head_dim;
    std::vector<uint8_t> out(static_cast<size_t>(s.shape.n_layers) * n_pages * pb);
    for (int l = 0; l < s.shape.n_layers; ++l)
        for (int p = 0; p < n_pages; ++p) {
            const int64_t t0 = int64_t{p} * kv_page::kTokens;
            const int valid = static_cast<int>(std::min<int64_t>(64, s.n_tokens - t0));
            (void)kv_page::encode_page(s.key.codec.codec, s.shape.n_kv_heads, s.shape.head_dim,
                                       kv.k[l].data() + t0 * per_token, kv.v[l].data() + t0 * per_token,
                                       valid, out.data() + (static_cast<size_t>(l) * n_pages + p) * pb);
        }
    return out;
}

// A fresh directory under the build tree's scratch area (not /tmp: O_DIRECT needs a real filesystem).
inline std::string scratch_dir(const std::string& name) {
    std::string base = std::string(DOCKET_BINARY_DIR) + "/test-scratch";
    std::filesystem::create_directories(base);
    std::string dir = base + "/" + name + "-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir);
    return dir;
}

}  // namespace docket::test

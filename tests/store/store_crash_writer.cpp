// Test helper for test_store_crash_recovery: writes seeded snapshots into a store forever (with a small
// byte budget so that eviction and compaction run too) until the test SIGKILLs it or a crash point fires.
// usage: store_crash_writer DIR BASE_SEED
#include <cstdio>
#include <cstdlib>

#include "store/store.h"
#include "store_crash_options.h"
#include "store_test_util.h"
#include "util/log.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: store_crash_writer DIR BASE_SEED\n");
        return 2;
    }
    docket::log::init();
    docket::log::set_level(spdlog::level::warn);
    const uint64_t base = std::strtoull(argv[2], nullptr, 10);
    auto store = docket::store::Store::open(argv[1], docket::test::crash_test_options());
    if (!store) {
        std::fprintf(stderr, "open: %s\n", store.status().to_string().c_str());
        return 1;
    }
    for (uint64_t i = 0; i < 100000; ++i) {
        const uint64_t seed = base * 100000 + i;
        auto s = docket::test::seeded_snapshot(seed);
        auto kv = docket::test::make_kv(seed, s.shape, s.n_tokens);
        auto id = (*store)->put(s.key, s.shape, s.n_tokens, kv.fn());
        if (!id) {
            std::fprintf(stderr, "put seed %llu: %s\n", (unsigned long long)seed,
                         id.status().to_string().c_str());
            return 1;
        }
    }
    return 0;
}

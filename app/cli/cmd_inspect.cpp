// docket-cli inspect: what a KV snapshot store holds (files, snapshots, bytes per token).
#include <cstdio>

#include "api/store_admin.h"
#include "command.h"

namespace docket::cli {
namespace {

const char* kUsage = "usage: docket-cli inspect --store DIR [--snapshots]\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--store"}, .flags = {"--snapshots"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("inspect", s.message(), kUsage);
    const std::string dir = args.get("--store");
    if (dir.empty()) return fail("inspect", "--store DIR is required");
    std::vector<StoreSnapshot> list;
    auto s = inspect_store(dir, args.has("--snapshots") ? &list : nullptr);
    if (!s) return fail("inspect", s.status().to_string());
    std::printf(
        "%s\n  snapshots: %lld ready, %lld bad\n  extents:   %lld\n  files:     %lld, %.1f MB "
        "(live %.1f MB, dead %.1f MB)\n  raw pages: %.1f MB (zstd saves %.1f%%)\n",
        dir.c_str(), (long long)s->snapshots_ready, (long long)s->snapshots_bad, (long long)s->extents,
        (long long)s->files, s->file_bytes / 1e6, s->live_bytes / 1e6, s->dead_bytes / 1e6,
        s->raw_bytes / 1e6, s->raw_bytes ? 100.0 * (1.0 - double(s->live_bytes) / s->raw_bytes) : 0.0);
    if (args.has("--snapshots")) {
        std::printf("  %-6s %-7s %-5s %-14s %7s %10s %8s  %s\n", "id", "state", "codec", "shape", "tokens",
                    "bytes", "B/token", "document");
        for (const auto& x : list)
            std::printf("  %-6lld %-7s %-5s %3dx%dx%-6d %7lld %10llu %8.0f  %s\n", (long long)x.id,
                        x.state.c_str(), x.codec.c_str(), x.n_layers, x.n_kv_heads, x.head_dim,
                        (long long)x.n_tokens, (unsigned long long)x.bytes,
                        x.n_tokens ? double(x.bytes) / x.n_tokens : 0.0, x.document.c_str());
    }
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("inspect", "summarize a KV snapshot store (files, snapshots, bytes per token)", run);

}  // namespace docket::cli

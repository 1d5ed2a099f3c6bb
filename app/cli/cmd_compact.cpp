// docket-cli compact: evicts to a byte budget (optional) and reclaims dead extents of a KV snapshot store.
#include <cstdio>
#include <limits>

#include "api/store_admin.h"
#include "command.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-cli compact --store DIR [--min-dead FRACTION] [--budget BYTES]\n"
    "  Moves the live extents out of segment files that are at least FRACTION dead (default 0.3;\n"
    "  0 compacts every sealed file) and deletes those files. Crash-safe at any point.\n"
    "  --budget first evicts least-recently-used snapshots down to BYTES.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--store", "--min-dead", "--budget"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("compact", s.message(), kUsage);
    const std::string dir = args.get("--store");
    if (dir.empty()) return fail("compact", "--store DIR is required");
    OptionReader o(args);
    const double min_dead = o.get_double("--min-dead", 0.3, 0.0, 1.0);
    const long long budget = o.get_int("--budget", 0, 0, std::numeric_limits<long long>::max());
    if (!o.ok()) return fail("compact", o.error());
    auto cs = compact_store(dir, min_dead, static_cast<uint64_t>(budget));
    if (!cs) return fail("compact", cs.status().to_string());
    if (budget > 0)
        std::printf("evicted %lld snapshot(s) to fit %lld bytes\n", (long long)cs->evicted, budget);
    std::printf(
        "%s: compacted %d file(s), moved %lld extents (%.1f MB); files %.1f MB -> %.1f MB, live %.1f MB\n",
        dir.c_str(), cs->files_compacted, (long long)cs->extents_moved, cs->bytes_moved / 1e6,
        cs->file_bytes_before / 1e6, cs->file_bytes_after / 1e6, cs->live_bytes_after / 1e6);
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("compact", "reclaim dead extents of a KV snapshot store (crash-safe)", run);

}  // namespace docket::cli

// docket-cli verify: reads every extent of a KV snapshot store, checks checksums, files and the index.
#include <cstdio>

#include "api/store_admin.h"
#include "command.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-cli verify --store DIR [--mark-bad | --rebuild-index]\n"
    "  Reads and checks every snapshot extent (checksum, header, zstd), the segment files against\n"
    "  the index, and the index itself, writing nothing. Exit status 1 when a problem was found.\n"
    "  --mark-bad marks failing snapshots bad (they are recomputed on next use).\n"
    "  --rebuild-index rebuilds the index rows of every intact snapshot from the extent headers of\n"
    "  the segment files (for a store whose index was lost, emptied or rolled back), deleting\n"
    "  nothing: an unreadable index.db is renamed aside. Then verifies.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--store"}, .flags = {"--mark-bad", "--rebuild-index"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("verify", s.message(), kUsage);
    const std::string dir = args.get("--store");
    if (dir.empty()) return fail("verify", "--store DIR is required");
    const bool mark_bad = args.has("--mark-bad"), rebuild = args.has("--rebuild-index");
    if (mark_bad && rebuild) return fail("verify", "--mark-bad and --rebuild-index are exclusive");
    const StoreVerifyMode mode = rebuild    ? StoreVerifyMode::rebuild_index
                                 : mark_bad ? StoreVerifyMode::mark_bad
                                            : StoreVerifyMode::check;
    StoreRebuildReport r;
    auto rep = verify_store(dir, mode, &r);
    if (!rep) return fail("verify", rep.status().to_string());
    if (rebuild) {
        if (!r.moved_index.empty()) std::printf("unreadable index moved to %s\n", r.moved_index.c_str());
        std::printf(
            "rebuilt the index of %s from %d segment file(s) (%d new to it): %lld intact extents, "
            "%lld unreadable 4 KiB blocks; snapshots: %lld kept, %lld repaired, %lld recovered, "
            "%lld marked bad, %lld incomplete\n",
            dir.c_str(), r.files, r.files_added, (long long)r.extents_valid, (long long)r.blocks_unreadable,
            (long long)r.snapshots_kept, (long long)r.snapshots_repaired, (long long)r.snapshots_recovered,
            (long long)r.snapshots_marked_bad, (long long)r.snapshots_incomplete);
    }
    for (const auto& p : rep->problems) {
        if (p.snapshot_id)
            std::printf("BAD snapshot %lld%s%s: %s\n", (long long)p.snapshot_id,
                        p.document.empty() ? "" : " document ", p.document.c_str(), p.message.c_str());
        else
            std::printf("BAD %s\n", p.message.c_str());
    }
    std::printf("%s: %lld snapshots, %lld extents, %.1f MB checked, %lld bad snapshot(s), %zu problem(s)%s\n",
                dir.c_str(), (long long)rep->snapshots, (long long)rep->extents, rep->bytes_checked / 1e6,
                (long long)rep->bad_snapshots, rep->problems.size(),
                mark_bad && !rep->ok() ? " (marked bad)" : "");
    return rep->ok() ? 0 : 1;
}

}  // namespace

DOCKET_CLI_COMMAND("verify", "check every extent of a KV snapshot store (checksums, files, index)", run);

}  // namespace docket::cli

// docket-cli verify: reads every extent of a KV snapshot store, checks checksums, files and the index.
#include <cstdio>

#include "command.h"
#include "store/store.h"

namespace docket::cli {
namespace {

int run(const std::vector<std::string>& argv) {
    Args args(argv);
    if (args.has("--help")) {
        std::printf(
            "usage: docket-cli verify --store DIR [--mark-bad]\n"
            "  Reads and checks every snapshot extent (checksum, header, zstd), the segment files against\n"
            "  the index, and the index itself. --mark-bad marks failing snapshots bad (they are\n"
            "  recomputed on next use). Exit status 1 when a problem was found.\n");
        return 0;
    }
    if (auto bad = args.unknown({"--store", "--mark-bad", "--help"}); !bad.empty())
        return fail("verify", "unknown option " + bad[0]);
    const std::string dir = args.get("--store");
    if (dir.empty()) return fail("verify", "--store DIR is required");
    store::StoreOptions opt;
    opt.create_if_missing = false;  // a mistyped path must fail, not verify a new empty store
    auto store = store::Store::open(dir, opt);
    if (!store) return fail("verify", store.status().to_string());
    auto rep = (*store)->verify(args.has("--mark-bad"));
    if (!rep) return fail("verify", rep.status().to_string());
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
                args.has("--mark-bad") && !rep->ok() ? " (marked bad)" : "");
    return rep->ok() ? 0 : 1;
}

}  // namespace

DOCKET_CLI_COMMAND("verify", "check every extent of a KV snapshot store (checksums, files, index)", run);

}  // namespace docket::cli

// docket-dev bench <name>: dispatches to the benchmarks registered with DOCKET_CLI_BENCH (cpu, gpu, store, ...).
// Each prints its figures beside the limit it measured in the same run.
#include <algorithm>
#include <cstdio>

#include "command.h"

namespace docket::cli {

static std::vector<Command>& bench_registry() {
    static std::vector<Command> r;
    return r;
}
bool register_bench(Command bench) {
    bench_registry().push_back(std::move(bench));
    return true;
}
const std::vector<Command>& benches() { return bench_registry(); }

namespace {
int run(const std::vector<std::string>& args) {
    auto list = benches();
    std::sort(list.begin(), list.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
    if (args.empty() || args[0] == "--help" || args[0] == "help") {
        std::printf("usage: docket-dev bench <name> [options]\n\nbenchmarks:\n");
        for (const auto& b : list) std::printf("  %-10s %s\n", b.name.c_str(), b.summary.c_str());
        return args.empty() ? 2 : 0;
    }
    for (const auto& b : list)
        if (b.name == args[0]) return b.run(std::vector<std::string>(args.begin() + 1, args.end()));
    return fail("bench", "unknown benchmark '" + args[0] + "' (try 'docket-dev bench help')");
}
}  // namespace

DOCKET_CLI_COMMAND("bench", "run a benchmark (cpu, gpu, store): figures beside the limits measured in the same run", run);

}  // namespace docket::cli

// docket-cli collections | documents | remove: what a data directory holds.
#include <cstdio>

#include "command.h"
#include "engine_cli.h"

namespace docket::cli {
namespace {

// Parses the common options and opens the engine; `extra` are the command's own options (with values).
int with_engine(const std::vector<std::string>& argv, const char* cmd, const char* usage,
                const std::vector<std::string>& extra, const std::function<int(Engine&, const Args&)>& fn) {
    std::vector<std::string> values = kEngineOptions;
    values.insert(values.end(), extra.begin(), extra.end());
    Args args(argv, {.values = values});
    if (args.has("--help")) {
        std::printf("%s%s", usage, kEngineOptionsHelp);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error(cmd, s.message(), usage);
    auto engine = open_engine(args);
    if (!engine) return fail(cmd, engine.status().message());
    return fn(**engine, args);
}

Result<std::string> required_collection(const Args& args) {
    DK_ASSIGN_OR_RETURN(std::string c, args.get_string("--collection"));
    if (c.empty()) return make_error(ErrorCode::invalid_argument, "--collection NAME is required");
    return c;
}

int run_collections(const std::vector<std::string>& argv) {
    return with_engine(
        argv, "collections", "usage: docket-cli collections [options]\nLists the collections.\n", {},
        [](Engine& e, const Args&) {
            auto cs = e.collections();
            if (!cs) return fail("collections", cs.status().message());
            if (cs->empty())
                std::printf("no collections yet (docket-cli ingest --collection NAME PATH...)\n");
            for (const auto& c : *cs)
                std::printf("%-24s %6lld documents %8lld segments %10lld tokens\n", c.name.c_str(),
                            static_cast<long long>(c.documents), static_cast<long long>(c.segments),
                            static_cast<long long>(c.tokens));
            return 0;
        });
}

int run_documents(const std::vector<std::string>& argv) {
    return with_engine(argv, "documents",
                       "usage: docket-cli documents --collection NAME [options]\nLists a collection's "
                       "documents: status, format, "
                       "size, segments, tokens, and why a file could not be read.\n",
                       {"--collection"}, [](Engine& e, const Args& args) {
                           auto coll = required_collection(args);
                           if (!coll) return fail("documents", coll.status().message(), 2);
                           auto docs = e.documents(*coll);
                           if (!docs) return fail("documents", docs.status().message());
                           std::printf("%-9s %-4s %9s %5s %7s  %s\n", "status", "fmt", "bytes", "segs",
                                       "tokens", "document");
                           for (const auto& d : *docs) {
                               std::printf("%-9s %-4s %9lld %5lld %7lld  %s\n", d.status.c_str(),
                                           d.format.c_str(), static_cast<long long>(d.bytes),
                                           static_cast<long long>(d.segments),
                                           static_cast<long long>(d.tokens), d.path.c_str());
                               if (!d.error.empty()) std::printf("%37s  error: %s\n", "", d.error.c_str());
                           }
                           return 0;
                       });
}

int run_remove(const std::vector<std::string>& argv) {
    return with_engine(
        argv, "remove",
        "usage: docket-cli remove --collection NAME [options]\nRemoves a collection, its documents' "
        "catalog rows and every snapshot no other collection uses.\n",
        {"--collection"}, [](Engine& e, const Args& args) {
            auto coll = required_collection(args);
            if (!coll) return fail("remove", coll.status().message(), 2);
            if (Status s = e.remove_collection(*coll); !s) return fail("remove", s.message());
            std::printf("removed collection %s\n", coll->c_str());
            return 0;
        });
}

}  // namespace

DOCKET_CLI_COMMAND("collections", "list the collections of a data directory", run_collections);
DOCKET_CLI_COMMAND("documents", "list a collection's documents with status and errors", run_documents);
DOCKET_CLI_COMMAND("remove", "remove a collection and its snapshots", run_remove);

}  // namespace docket::cli

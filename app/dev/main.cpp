// docket-dev: developer tools beside docket-cli (benchmarks, random models of real shapes, raw generate /
// logits / tokenize on a GGUF). Built with the project, not installed; it may use the engine's rooms
// directly.
#include "command.h"

int main(int argc, char** argv) {
    using namespace docket::cli;
    MainOptions opt;
    opt.program = "docket-dev";
    opt.footer = "\nArchives, questions and stores: docket-cli.\n";
    for (const char* user :
         {"ingest", "ask", "collections", "documents", "remove", "eval", "inspect", "verify", "compact"})
        opt.elsewhere.emplace_back(user, "docket-cli");
    return run_main(argc, argv, opt);
}

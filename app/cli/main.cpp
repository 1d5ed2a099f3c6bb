// docket-cli: the installed command-line front end. Every command here reaches the engine through engine/api
// only (the include check enforces it); developer tools are in docket-dev.
#include "command.h"

int main(int argc, char** argv) {
    using namespace docket::cli;
    MainOptions opt;
    opt.program = "docket-cli";
    for (const char* dev : {"bench", "generate", "logits", "make-model", "model-info", "tokenize"})
        opt.elsewhere.emplace_back(dev, "docket-dev (the developer tool built beside docket-cli)");
    return run_main(argc, argv, opt);
}

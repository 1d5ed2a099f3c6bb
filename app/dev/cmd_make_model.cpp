// docket-dev make-model: a random-weight GGUF model of a real shape (see engine/model/model_maker.h).
#include <chrono>
#include <cstdio>
#include <limits>

#include "command.h"
#include "model/model_maker.h"

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-dev make-model --shape tiny|smollm2-135m|llama3-1b|llama3-8b --type "
    "f16|q8_0|q4_0|q4_k|q6_k\n"
    "                             --out FILE.gguf [--seed N] [--arch llama|qwen2|qwen3] [--vocab-from "
    "MODEL.gguf]\n"
    "                             [--threads N] [--quiet]\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv,
              {.values = {"--shape", "--type", "--out", "--seed", "--arch", "--vocab-from", "--threads"},
               .flags = {"--quiet"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("make-model", s.message(), kUsage);
    OptionReader o(args);
    const std::string out = o.get_string("--out"), shape_name = o.get_string("--shape"),
                      type_name = o.get_string("--type"), arch_name = o.get_string("--arch", "llama"),
                      vocab_from = o.get_string("--vocab-from");
    const long long seed = o.get_int("--seed", 1, 0, std::numeric_limits<int64_t>::max());
    const long long threads = o.get_int("--threads", 0, 0, 1024);
    if (!o.ok()) return fail("make-model", o.error());
    if (shape_name.empty() || type_name.empty() || out.empty())
        return fail("make-model", std::string("--shape, --type and --out are required\n") + kUsage);
    auto shape = model_shape(shape_name);
    if (!shape) return fail("make-model", shape.status().message());
    auto type = parse_weight_type(type_name);
    if (!type) return fail("make-model", type.status().message());
    auto arch = parse_model_arch(arch_name);
    if (!arch) return fail("make-model", arch.status().message());

    MakeModelOptions opt;
    opt.shape = *shape;
    opt.type = *type;
    opt.arch = *arch;
    opt.seed = static_cast<uint64_t>(seed);
    opt.vocab_from = vocab_from;
    opt.threads = static_cast<int>(threads);
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    const bool quiet = args.has("--quiet");
    if (!quiet) {
        opt.progress = [&](const MakeModelProgress& p) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last < std::chrono::seconds(1) && p.bytes_done < p.bytes_total) return;
            last = now;
            std::fprintf(stderr, "\rmake-model: %5.1f%%  %.2f / %.2f GB  tensor %d/%d %-28s",
                         p.bytes_total ? 100.0 * p.bytes_done / p.bytes_total : 0.0, p.bytes_done / 1e9,
                         p.bytes_total / 1e9, p.tensors_done + 1, p.tensors_total, p.tensor.c_str());
            std::fflush(stderr);
        };
    }
    Status st = make_model(opt, out);
    if (!quiet) std::fprintf(stderr, "\n");
    if (!st) return fail("make-model", st.to_string());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %s %s %s, seed %llu, written in %.1f s\n", out.c_str(), shape->name.c_str(),
                model_arch_name(opt.arch), type_name.c_str(), static_cast<unsigned long long>(opt.seed),
                secs);
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("make-model", "write a random-weight GGUF model of a real shape (tiny .. llama3-8b)", run);

}  // namespace docket::cli

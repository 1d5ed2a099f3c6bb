// docket-dev model-info: the GGUF header of a model file (metadata and tensor table).
#include <cstdio>

#include "command.h"
#include "model/gguf.h"
#include "util/text_escape.h"

namespace docket::cli {
namespace {

std::string value_summary(const GgufValue& v) {
    switch (v.type) {
        case GgufType::string:  // metadata is untrusted: escapes, not raw bytes, reach the terminal
            return fmt::format("\"{}{}\"", escape_control(v.str.substr(0, 80)), v.str.size() > 80 ? "..." : "");
        case GgufType::array: return fmt::format("[{} x {}]", v.count, gguf_type_name(v.elem_type));
        case GgufType::f32: case GgufType::f64: return fmt::format("{}", v.f);
        case GgufType::boolean: return v.u ? "true" : "false";
        case GgufType::i8: case GgufType::i16: case GgufType::i32: case GgufType::i64: return fmt::format("{}", v.i);
        default: return fmt::format("{}", v.u);
    }
}

constexpr const char* kUsage = "usage: docket-dev model-info --model FILE.gguf [--tensors]\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model"}, .flags = {"--tensors"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("model-info", s.message(), kUsage);
    auto path_r = args.get_string("--model");
    if (!path_r) return fail("model-info", path_r.status().message());
    const std::string path = *path_r;
    if (path.empty()) return fail("model-info", "--model FILE.gguf is required");
    auto f = GgufFile::open(path);
    if (!f) return fail("model-info", f.status().to_string());
    const auto& g = **f;
    std::printf("%s: GGUF v%u, %zu metadata entries, %zu tensors, alignment %llu, data at %llu\n",
                escape_control(path).c_str(), g.version(), g.kvs().size(), g.tensors().size(),
                (unsigned long long)g.alignment(), (unsigned long long)g.data_offset());
    for (const auto& kv : g.kvs())
        std::printf("  %-42s %s\n", escape_control(kv.key).c_str(), value_summary(kv.value).c_str());
    if (args.has("--tensors")) {
        for (const auto& t : g.tensors())
            std::printf("  %-36s %-5s [%lld, %lld, %lld, %lld] %llu bytes\n", escape_control(t.name).c_str(),
                        ggml_type_name(t.type), (long long)t.ne[0], (long long)t.ne[1], (long long)t.ne[2],
                        (long long)t.ne[3], (unsigned long long)t.nbytes);
    }
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("model-info", "print a GGUF model's metadata and tensor table", run);

}  // namespace docket::cli

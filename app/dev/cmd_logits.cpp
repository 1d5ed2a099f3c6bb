// docket-dev logits: the top-K next-token logits after a prompt, as JSON (for comparing with other runtimes).
#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "command.h"
#include "json.h"
#include "prompt_input.h"
#include "runtime/cuda/backend.h"
#include "runtime/session.h"

namespace docket::cli {
namespace {

constexpr const char* kUsage =
    "usage: docket-dev logits --model FILE.gguf (--prompt-file FILE | --prompt TEXT) [--top K] [--chat]\n"
    "       [--chat-format NAME] [--system TEXT] [--ctx N] [--threads N] [--backend cpu|cuda|auto]\n"
    "Prints {\"token_ids\":[...],\"top\":[{\"id\":..,\"logit\":..,\"piece\":\"..\"}...]} for the next "
    "token.\n"
    "  --ctx N   most prompt tokens (default 4096; a warning past the model's context length)\n"
    "Ctrl-C stops it, also during the prompt, with exit code 130.\n";

// The next-token logits after `ids` on the chosen backend (the CPU when "auto" finds no usable GPU).
Status compute_logits(const Model& model, const std::string& backend, int threads, const std::vector<TokenId>& ids,
                      const CancelFlag* cancel, std::vector<float>* logits) {
    std::string note;
    DK_ASSIGN_OR_RETURN(auto session,
                        open_session(model, backend, static_cast<int32_t>(ids.size()), threads, &note));
    if (backend != "cpu") std::fprintf(stderr, "backend: %s\n", note.c_str());
    return session->eval(ids, LogitsMode::last, logits, cancel);
}

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model", "--prompt", "--prompt-file", "--top", "--chat-format", "--system",
                                "--threads", "--backend", "--ctx"},
                     .flags = {"--chat"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("logits", s.message(), kUsage);
    OptionReader o(args);
    const std::string path = o.get_string("--model");
    constexpr long long kI32 = std::numeric_limits<int32_t>::max();
    const int top = static_cast<int>(o.get_int("--top", 10, 1, kI32));
    const int threads = static_cast<int>(o.get_int("--threads", 0, 0, 1024));
    const int ctx = static_cast<int>(o.get_int("--ctx", 4096, 1, kI32));
    if (!o.ok()) return fail("logits", o.error());
    if (path.empty()) return fail("logits", "--model FILE.gguf is required");
    if (!args.has("--prompt") && !args.has("--prompt-file"))
        return fail("logits", "--prompt TEXT or --prompt-file FILE is required");
    // CPU unless asked: this command is the reference other runtimes are compared with.
    const std::string backend = args.get("--backend", "cpu");
    if (auto choice = select_backend(backend); !choice) return fail("logits", choice.status().to_string());
    const CancelFlag* cancel = cancel_on_sigint();
    auto model = Model::load(path);
    if (!model) return fail("logits", model.status().to_string());
    auto tok = Tokenizer::from_gguf((*model)->gguf());
    if (!tok) return fail("logits", tok.status().to_string());
    auto ids = bounded_prompt(args, **model, **tok, ctx, /*max_new=*/0, "logits");
    if (!ids) return fail("logits", ids.status().to_string());
    std::vector<float> logits;
    if (Status s = compute_logits(**model, backend, threads, *ids, cancel, &logits); !s.is_ok())
        return fail("logits", s.to_string(), s.code() == ErrorCode::cancelled ? kExitInterrupted : 1);

    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    const int k = std::min<int>(top, static_cast<int>(order.size()));
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    std::string out = "{\"token_ids\":[";
    for (size_t i = 0; i < ids->size(); ++i) out += (i ? "," : "") + std::to_string((*ids)[i]);
    out += "],\"top\":[";
    for (int i = 0; i < k; ++i) {
        const int32_t id = order[i];
        out += fmt::format("{}{{\"id\":{},\"logit\":{:.6f},\"piece\":\"{}\"}}", i ? "," : "", id, logits[id],
                           json_escape((*tok)->token_to_piece(id)));
    }
    out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

}  // namespace

DOCKET_CLI_COMMAND("logits", "print the top-K next-token logits after a prompt as JSON (CPU or CUDA runtime)",
                   run);

}  // namespace docket::cli

// docket-dev generate: run a prompt through the CPU or CUDA runtime and stream the continuation to stdout.
#include <unistd.h>

#include <cstdio>
#include <limits>

#include "command.h"
#include "model/tokenizer.h"
#include "prompt_input.h"
#include "runtime/cuda/backend.h"
#include "runtime/generate.h"
#include "runtime/session.h"
#include "util/text_escape.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-dev generate --model FILE.gguf (--prompt TEXT | --prompt-file FILE) [options]\n"
    "  --chat               wrap the prompt in the model's chat template (user turn + assistant opening)\n"
    "  --chat-format NAME   force the template: chatml, llama3, mistral, llama2\n"
    "  --system TEXT        system message for --chat (default: the template's own)\n"
    "  -n N                 tokens to generate (default 256)\n"
    "  --temp T             temperature; 0 (the default) is greedy decoding\n"
    "  --top-k K            (default 40)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
    "  --repeat-penalty R   (default 1.0, off)   --repeat-last-n N (default 64)\n"
    "  --seed S             sampling seed (default 1)\n"
    "  --threads N          compute threads (default: all cores)\n"
    "  --ctx N              context size in tokens (default 4096)\n"
    "  --backend B          cpu, cuda or auto (default): auto takes the GPU when a usable one and a\n"
    "                       supported model are there, else the CPU, and says why on stderr\n"
    "Text streams to stdout as it is produced (control characters escaped on a terminal); a speed line goes\n"
    "to stderr. Ctrl-C stops it, also during the prompt, with exit code 130.\n";

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--model", "--chat-format", "--system", "--prompt", "--prompt-file", "-n",
                                "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                "--repeat-last-n", "--seed", "--threads", "--ctx", "--backend"},
                     .flags = {"--chat"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("generate", s.message(), kUsage);
    OptionReader o(args);
    const std::string path = o.get_string("--model");
    GenerateParams gp;
    constexpr long long kI32 = std::numeric_limits<int32_t>::max();
    gp.max_tokens = static_cast<int32_t>(o.get_int("-n", 256, 1, kI32));
    gp.sampling.temperature = static_cast<float>(o.get_double("--temp", 0.0, 0.0, 1e6));
    gp.sampling.top_k = static_cast<int32_t>(o.get_int("--top-k", 40, 0, kI32));
    gp.sampling.top_p = static_cast<float>(o.get_double("--top-p", 0.95, 0.0, 1.0, /*lo_open=*/true));
    gp.sampling.min_p = static_cast<float>(o.get_double("--min-p", 0.05, 0.0, 1.0));
    gp.sampling.repeat_penalty =
        static_cast<float>(o.get_double("--repeat-penalty", 1.0, 0.0, 1e6, /*lo_open=*/true));
    gp.sampling.repeat_last_n = static_cast<int32_t>(o.get_int("--repeat-last-n", 64, 0, kI32));
    gp.sampling.seed = static_cast<uint64_t>(o.get_int("--seed", 1, 0, std::numeric_limits<int64_t>::max()));
    const int threads = static_cast<int>(o.get_int("--threads", 0, 0, 1024));
    const int ctx = static_cast<int>(o.get_int("--ctx", 4096, 1, kI32));
    if (!o.ok()) return fail("generate", o.error());
    if (path.empty()) return fail("generate", "--model FILE.gguf is required");
    if (!args.has("--prompt") && !args.has("--prompt-file"))
        return fail("generate", "--prompt TEXT or --prompt-file FILE is required");
    const std::string backend = args.get("--backend", "auto");
    if (auto choice = select_backend(backend); !choice) return fail("generate", choice.status().to_string());
    gp.cancel = cancel_on_sigint();

    auto model = Model::load(path);
    if (!model) return fail("generate", model.status().to_string());
    auto tok = Tokenizer::from_gguf((*model)->gguf());
    if (!tok) return fail("generate", tok.status().to_string());
    auto ids = bounded_prompt(args, **model, **tok, ctx, gp.max_tokens, "generate");
    if (!ids) return fail("generate", ids.status().to_string());
    // The session's limit; on the CPU its memory grows with the tokens actually produced.
    const int capacity =
        static_cast<int>(std::min<int64_t>(ctx, static_cast<int64_t>(ids->size()) + gp.max_tokens));
    std::string backend_note;
    auto session = open_session(**model, backend, capacity, threads, &backend_note);
    if (!session) return fail("generate", session.status().to_string());
    std::fprintf(stderr, "backend: %s\n", backend_note.c_str());
    StreamingDecoder dec(**tok);
    const Tokenizer& t = **tok;
    // Generated text is the model's: on a terminal its control characters are shown, not obeyed.
    const bool tty = ::isatty(::fileno(stdout)) != 0;
    auto emit = [&](const std::string& s) {
        const std::string shown = tty ? escape_control(s, /*as_text=*/true) : s;
        std::fwrite(shown.data(), 1, shown.size(), stdout);
        std::fflush(stdout);
    };
    auto is_eog = [&](TokenId id) { return t.is_eog(id); };
    auto on_token = [&](TokenId id) {
        if (!t.is_eog(id)) emit(dec.push(id));
        return true;
    };
    auto st = generate(**session, *ids, gp, is_eog, on_token);
    emit(dec.flush() + "\n");
    if (!st) return fail("generate", st.status().to_string());
    std::fprintf(stderr,
                 "prompt: %d tokens in %.2f s (%.1f tok/s); generated: %d tokens in %.2f s (%.1f tok/s); "
                 "stop: %s; %s\n",
                 st->prompt_tokens, st->prompt_seconds,
                 st->prompt_tokens / std::max(st->prompt_seconds, 1e-9), st->generated, st->generate_seconds,
                 st->generated > 1 ? (st->generated - 1) / std::max(st->generate_seconds, 1e-9) : 0.0,
                 stop_reason_name(st->stop), backend_note.c_str());
    return st->stop == StopReason::cancelled ? kExitInterrupted : 0;
}

}  // namespace

DOCKET_CLI_COMMAND("generate",
                   "generate text with the CPU or CUDA runtime (greedy by default; --chat for chat models)",
                   run);

}  // namespace docket::cli

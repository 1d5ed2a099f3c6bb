// docket-dev bench compose: composition fidelity. For each question, the segments BM25 picks are put in
// context twice: composed from their stored snapshots (with selective recompute at each share r), and
// prefilled as one text (the reference). Reported: KL divergence of the next-token distribution after the
// question, top-1 agreement, and whether the greedy answers are identical.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "command.h"
#include "kv/blend.h"
#include "kv/workspace.h"
#include "query/retriever.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "store/store.h"

namespace docket::cli {
namespace {

const char* kUsage =
    "usage: docket-dev bench compose --data DIR --collection C --questions FILE [options]\n"
    "  --model FILE        the model the collection was ingested with (default SmolLM2-135M Q4_1)\n"
    "  --codec C           the codec its snapshots were stored with (default int8)\n"
    "  --recompute LIST    shares of context tokens recomputed, comma separated (default 0,0.05,0.15,0.3)\n"
    "  --budget N          context tokens (default 1200)   --answer N   greedy tokens compared (default 24)\n"
    "  --threads N         --backend cpu|cuda|auto (default cpu; r > 0 needs the CPU)\n"
    "FILE: one question per line.\n";

struct Outcome {
    std::vector<float> logits;
    std::vector<TokenId> greedy;
};

// The question prefilled over `cache`, then `n` greedy tokens.
Result<Outcome> finish(kv::Workspace& ws, Session& cache, const std::vector<TokenId>& q, int n) {
    Outcome o;
    GenerationSteps steps;
    bool first = true;
    steps.prefill = [&](std::vector<float>* logits) {
        Status s = ws.prefill(cache, q, LogitsMode::last, logits, nullptr);
        if (s) o.logits = *logits;
        return s;
    };
    steps.decode = [&](TokenId id, std::vector<float>* logits) {
        return cache.eval(std::span<const TokenId>(&id, 1), LogitsMode::last, logits);
    };
    steps.has_room = [&] { return cache.size() < cache.capacity(); };
    GenerateParams gp;
    gp.max_tokens = n;
    auto on_token = [&](TokenId id) {
        o.greedy.push_back(id);
        first = false;
        return true;
    };
    DK_ASSIGN_OR_RETURN(auto st,
                        run_generation(
                            q, gp, steps, [&](TokenId id) { return ws.tokenizer().is_eog(id); }, on_token));
    (void)st;
    return o;
}

Result<Outcome> reference(kv::Workspace& ws, const std::vector<query::Candidate>& ctx,
                          const std::vector<TokenId>& q, int32_t capacity, int n) {
    DK_ASSIGN_OR_RETURN(auto cache, ws.session_with_prefix(capacity));
    for (const auto& c : ctx)
        DK_TRY(ws.prefill(
            *cache, ws.frame().segment_tokens(c.segment.title, c.segment.row.ordinal, c.segment.row.text),
            LogitsMode::none, nullptr, nullptr));
    return finish(ws, *cache, q, n);
}

Result<Outcome> composed(kv::Workspace& ws, const std::vector<query::Candidate>& ctx,
                         const std::vector<TokenId>& q, int32_t capacity, double r, int n) {
    DK_ASSIGN_OR_RETURN(auto cache, ws.session_with_prefix(capacity));
    std::vector<kv::Placement> placed;
    for (const auto& c : ctx) {
        DK_ASSIGN_OR_RETURN(kv::Placement p, ws.place(*cache, c.segment, nullptr));
        placed.push_back(std::move(p));
    }
    DK_TRY(kv::selective_recompute(ws, *cache, placed, {r}, nullptr).status());
    return finish(ws, *cache, q, n);
}

std::vector<double> parse_list(const std::string& s) {
    std::vector<double> out;
    std::stringstream ss(s);
    for (std::string x; std::getline(ss, x, ',');) out.push_back(std::stod(x));
    return out;
}

int run(const std::vector<std::string>& argv) {
    Args args(argv, {.values = {"--data", "--collection", "--questions", "--model", "--codec", "--recompute",
                                "--budget", "--answer", "--threads", "--backend"}});
    if (args.has("--help")) {
        std::printf("%s", kUsage);
        return 0;
    }
    if (Status s = args.check(); !s) return usage_error("bench compose", s.message(), kUsage);
    OptionReader o(args);
    const std::string data = o.get_string("--data"), coll = o.get_string("--collection");
    const std::string qfile = o.get_string("--questions");
    const std::string home = std::getenv("HOME") ? std::getenv("HOME") : "/root";
    const std::string model_path =
        o.get_string("--model", home + "/.cache/docket/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    const std::string codec_name = o.get_string("--codec", "int8");
    const int64_t budget = o.get_int("--budget", 1200, 64, 1 << 20);
    const int answer = static_cast<int>(o.get_int("--answer", 24, 1, 512));
    const int threads = static_cast<int>(o.get_int("--threads", 0, 0, 1024));
    const std::vector<double> rs = parse_list(o.get_string("--recompute", "0,0.05,0.15,0.3"));
    if (!o.ok()) return fail("bench compose", o.error());
    if (data.empty() || coll.empty() || qfile.empty())
        return usage_error("bench compose", "--data, --collection and --questions are required", kUsage);
    auto codec = kv_page::parse_codec(codec_name, "--codec");
    if (!codec) return fail("bench compose", codec.status().message());
    store::StoreOptions so;
    so.create_if_missing = false;
    auto st = store::Store::open(data + "/store", so);
    if (!st) return fail("bench compose", st.status().to_string());
    auto model = Model::load(model_path);
    if (!model) return fail("bench compose", model.status().to_string());
    auto tok = Tokenizer::from_gguf((*model)->gguf());
    if (!tok) return fail("bench compose", tok.status().to_string());
    auto fp = (*st)->model_fingerprint(model_path);
    if (!fp) return fail("bench compose", fp.status().to_string());
    auto backend = open_backend(**model, o.get_string("--backend", "cpu"), threads);
    if (!backend) return fail("bench compose", backend.status().to_string());
    telemetry::Counters counters;
    auto ws = kv::Workspace::create(**model, **tok, std::move(*backend), **st, *fp, counters, {*codec});
    if (!ws) return fail("bench compose", ws.status().to_string());
    auto cid = (*st)->find_collection(coll);
    if (!cid || !*cid) return fail("bench compose", "no collection " + coll);
    std::ifstream in(qfile);
    std::vector<std::string> questions;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) questions.push_back(line);
    std::vector<double> kl(rs.size(), 0.0), top1(rs.size(), 0.0), same(rs.size(), 0.0), secs(rs.size(), 0.0);
    for (const std::string& q : questions) {
        query::RetrievalOptions ro;
        ro.budget_tokens = budget;
        auto ctx = query::retrieve(**ws, **cid, q, ro, nullptr);
        if (!ctx) return fail("bench compose", ctx.status().to_string());
        int64_t n = 0;
        for (const auto& c : *ctx) n += c.segment.row.n_tokens;
        const auto qt = (*ws)->frame().question_tokens(q);
        const int32_t cap = static_cast<int32_t>((*ws)->prefix_tokens() + 2 * n + qt.size() + answer + 1);
        auto ref = reference(**ws, *ctx, qt, cap, answer);
        if (!ref) return fail("bench compose", ref.status().to_string());
        for (size_t i = 0; i < rs.size(); ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            auto c = composed(**ws, *ctx, qt, cap, rs[i], answer);
            secs[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (!c) return fail("bench compose", c.status().to_string());
            kl[i] += kl_divergence(ref->logits, c->logits);
            auto argmax = [](const std::vector<float>& v) {
                return std::max_element(v.begin(), v.end()) - v.begin();
            };
            top1[i] += argmax(ref->logits) == argmax(c->logits);
            same[i] += ref->greedy == c->greedy;
        }
    }
    const double nq = static_cast<double>(questions.size());
    std::printf("composition fidelity: %zu questions, codec %s, budget %lld, greedy %d tokens, model %s\n",
                questions.size(), codec_name.c_str(), static_cast<long long>(budget), answer,
                model_path.c_str());
    std::printf("%-10s %12s %10s %16s %14s\n", "recompute", "mean KL", "top-1", "greedy identical",
                "compose+answer");
    for (size_t i = 0; i < rs.size(); ++i)
        std::printf("%9.0f%% %12.4f %9.0f%% %15.0f%% %12.2f s\n", 100 * rs[i], kl[i] / nq, 100 * top1[i] / nq,
                    100 * same[i] / nq, secs[i] / nq);
    return 0;
}

}  // namespace

DOCKET_CLI_BENCH(
    "compose",
    "composition fidelity: composed snapshots vs full prefill (KL, top-1, greedy) per recompute share", run);

}  // namespace docket::cli

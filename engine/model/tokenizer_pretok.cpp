#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/tokenizer_pretok.h"

#include <pcre2.h>

#include <initializer_list>

#include "model/tokenizer_unicode.h"
#include "util/log.h"

namespace docket::tok {
namespace {

// The regexes below are the split patterns published in each family's tokenizer.json. PCRE2 runs them nearly
// verbatim; "(?i:...)" contractions are kept as written upstream.

// GPT-2 (also mpt, olmo, jais, phi-2, ...).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 (tiktoken cl100k style): numbers in groups of at most three digits.
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen 2: as Llama 3 but every digit alone.
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-4o / Llama 4 (o200k style).
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral Tekken.
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// The GPT-2 word pattern without its final catch-all, as the multi-stage families use it.
constexpr const char* kGpt2Words =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kCjk = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
// DeepSeek LLM: cased letters of many scripts (its tokenizer.json spells the class out).
constexpr const char* kDeepseekLetters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-"
    "\u0373"
    "\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-"
    "\u052f"
    "\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-"
    "\u1f7d"
    "\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-"
    "\u1ff4"
    "\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-"
    "\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-"
    "\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a"
    "\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
    "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+";
constexpr const char* kDeepseekPunct = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+";
constexpr const char* kBloom = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+";

bool one_of(std::string_view s, std::initializer_list<std::string_view> names) {
    for (auto n : names)
        if (s == n) return true;
    return false;
}

// Per-thread PCRE2 match state: match data plus a JIT stack large enough for long whitespace/letter runs.
struct MatchScratch {
    pcre2_match_data* md = nullptr;
    pcre2_match_context* mctx = nullptr;
    pcre2_jit_stack* stack = nullptr;
    MatchScratch() {
        md = pcre2_match_data_create(16, nullptr);
        mctx = pcre2_match_context_create(nullptr);
        stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
        if (mctx && stack) pcre2_jit_stack_assign(mctx, nullptr, stack);
    }
    ~MatchScratch() {
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(mctx);
        pcre2_match_data_free(md);
    }
};

MatchScratch& scratch() {
    thread_local MatchScratch s;
    return s;
}

}  // namespace

Result<PreFamily> pre_family_for(std::string_view pre) {
    PreFamily f;
    if (pre.empty() || pre == "default") {
        f.name = "default";
        f.regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Words, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    } else if (one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                            "lfm2"})) {
        f.name = "llama3";
        f.regexes = {kLlama3};
        f.ignore_merges = true;
        f.add_bos = true;
    } else if (one_of(pre, {"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"})) {
        f.name = "llama3-regex";
        f.regexes = {kLlama3};
    } else if (one_of(pre, {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"})) {
        f.name = "qwen2";
        f.regexes = {kQwen2};
    } else if (one_of(pre,
                      {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
        // Digits are split off one by one before the GPT-2 pattern runs.
        f.name = "starcoder";
        f.regexes = {R"(\p{N})", kGpt2Words};
    } else if (one_of(pre, {"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v2-es",
                            "jina-v2-de", "jina-v1-en", "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0",
                            "mellum", "exaone4", "trillion"})) {
        f.name = "gpt2";
        f.regexes = {kGpt2};
    } else if (pre == "falcon") {
        f.name = "falcon";
        f.regexes = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2Words, "[0-9][0-9][0-9]"};
    } else if (pre == "deepseek-llm") {
        f.name = "deepseek-llm";
        f.regexes = {"[\r\n]", kDeepseekLetters, kDeepseekPunct, "\\s+$", kCjk, "\\p{N}+"};
    } else if (pre == "deepseek-coder") {
        f.name = "deepseek-coder";
        f.regexes = {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", kCjk, "\\p{N}"};
    } else if (one_of(pre, {"gpt-4o", "llama4"})) {
        f.name = "gpt-4o";
        f.regexes = {kGpt4o};
    } else if (pre == "tekken") {
        f.name = "tekken";
        f.regexes = {kTekken};
        f.ignore_merges = true;
        f.add_bos = true;
    } else if (one_of(pre, {"bloom", "poro-chat", "gpt3-finnish"})) {
        f.name = "bloom";
        f.regexes = {kBloom};
    } else if (pre == "viking") {
        f.name = "viking";
        f.regexes = {kBloom, R"(\p{N})"};
    } else {
        return make_error(ErrorCode::unsupported, "tokenizer.ggml.pre: unknown pre-tokenizer '{}'", pre);
    }
    return f;
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(const PreFamily& family) {
    std::unique_ptr<PreTokenizer> p(new PreTokenizer());
    p->family_ = family;
    for (const auto& rx : family.regexes) {
        int err = 0;
        PCRE2_SIZE err_off = 0;
        // MATCH_INVALID_UTF: hostile input may hold any bytes; invalid sequences simply never match.
        pcre2_code* code =
            pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rx.data()), rx.size(),
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return make_error(ErrorCode::internal,
                              "pre-tokenizer '{}': regex does not compile at offset {}: {}", family.name,
                              err_off, reinterpret_cast<const char*>(msg));
        }
        p->codes_.push_back(code);
        if (int rc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); rc != 0)
            DK_LOG_WARN("pre-tokenizer '{}': PCRE2 JIT unavailable ({}), using the interpreter", family.name,
                        rc);
    }
    return p;
}

PreTokenizer::~PreTokenizer() {
    for (void* c : codes_) pcre2_code_free(static_cast<pcre2_code*>(c));
}

void PreTokenizer::split(std::string_view text, std::vector<Piece>& out) const {
    if (text.empty()) return;
    split_level(0, text, 0, text.size(), out);
}

void PreTokenizer::split_level(size_t level, std::string_view text, size_t begin, size_t end,
                               std::vector<Piece>& out) const {
    if (begin >= end) return;
    if (level == codes_.size()) {
        out.push_back({begin, end - begin});
        return;
    }
    auto* code = static_cast<const pcre2_code*>(codes_[level]);
    MatchScratch& s = scratch();
    // The subject is the piece alone, so lookarounds and anchors see the piece's bounds (as upstream does).
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
    const size_t len = end - begin;
    size_t pos = 0;     // start of text not yet emitted, relative to begin
    size_t search = 0;  // where the next match attempt starts
    while (search < len) {
        const int rc = pcre2_match(code, subject, len, search, 0, s.md, s.mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            // Only resource limits can get here; the rest of the piece stays whole (still encodable, not
            // canonical).
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof(msg));
            DK_LOG_WARN("pre-tokenizer '{}': regex {} failed at byte {}: {}", family_.name, level,
                        begin + search, reinterpret_cast<const char*>(msg));
            break;
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
        const size_t ms = ov[0], me = ov[1];
        if (me <= ms) {  // empty match: retry one character further
            if (ms >= len)
                break;  // at the end: there is no character to step over (text[begin + len] is out)
            search = ms + utf8_len(static_cast<uint8_t>(text[begin + ms]));
            continue;
        }
        if (ms > pos) split_level(level + 1, text, begin + pos, begin + ms, out);
        split_level(level + 1, text, begin + ms, begin + me, out);
        pos = search = me;
    }
    if (pos < len) split_level(level + 1, text, begin + pos, end, out);
}

}  // namespace docket::tok

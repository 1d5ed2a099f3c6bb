#include "model/model_maker.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "model/dequant.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/tokenizer_unicode.h"
#include "util/thread_pool.h"

namespace docket {
namespace {

constexpr float kWeightStd = 0.02f;
constexpr int64_t kChunkElements = int64_t{8} << 20;  // per streamed chunk: bounds memory to ~tens of MB

const std::vector<ModelShape>& shapes() {
    static const std::vector<ModelShape> s = [] {
        std::vector<ModelShape> v;
        ModelShape tiny;  // every dimension a multiple of 256 so that k-quants apply everywhere
        tiny.name = "tiny";
        tiny.n_layer = 2, tiny.n_embd = 256, tiny.n_ff = 512, tiny.n_head = 4, tiny.n_head_kv = 2;
        tiny.head_dim = 64, tiny.n_vocab = 512, tiny.n_ctx = 2048, tiny.rope_base = 10000.0f;
        v.push_back(tiny);
        ModelShape smol;  // SmolLM2-135M
        smol.name = "smollm2-135m";
        smol.n_layer = 30, smol.n_embd = 576, smol.n_ff = 1536, smol.n_head = 9, smol.n_head_kv = 3;
        smol.head_dim = 64, smol.n_vocab = 49152, smol.n_ctx = 8192, smol.rope_base = 100000.0f;
        v.push_back(smol);
        ModelShape l1;  // Llama-3.2-1B
        l1.name = "llama3-1b";
        l1.n_layer = 16, l1.n_embd = 2048, l1.n_ff = 8192, l1.n_head = 32, l1.n_head_kv = 8, l1.head_dim = 64;
        l1.n_vocab = 128256, l1.n_ctx = 131072, l1.rope_base = 500000.0f;
        l1.llama3_rope = true, l1.rope_factor = 32.0f, l1.rope_low_freq_factor = 1.0f;
        l1.rope_high_freq_factor = 4.0f, l1.rope_orig_ctx = 8192;
        v.push_back(l1);
        ModelShape l8;  // Llama-3.1-8B
        l8.name = "llama3-8b";
        l8.n_layer = 32, l8.n_embd = 4096, l8.n_ff = 14336, l8.n_head = 32, l8.n_head_kv = 8,
        l8.head_dim = 128;
        l8.n_vocab = 128256, l8.n_ctx = 131072, l8.rope_base = 500000.0f, l8.tied_embeddings = false;
        l8.llama3_rope = true, l8.rope_factor = 8.0f, l8.rope_low_freq_factor = 1.0f;
        l8.rope_high_freq_factor = 4.0f, l8.rope_orig_ctx = 8192;
        v.push_back(l8);
        return v;
    }();
    return s;
}

uint64_t splitmix64(uint64_t* state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ull;
    return h;
}

uint32_t file_type_of(GgmlType t) {  // llama_ftype
    switch (t) {
        case GgmlType::F32:
            return 0;
        case GgmlType::F16:
            return 1;
        case GgmlType::Q4_0:
            return 2;
        case GgmlType::Q4_1:
            return 3;
        case GgmlType::Q8_0:
            return 7;
        case GgmlType::Q4_K:
            return 14;  // Q4_K_S
        case GgmlType::Q6_K:
            return 18;
        case GgmlType::BF16:
            return 32;
        default:
            return 0;
    }
}

// ---- tokenizer ----

struct Vocab {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    std::vector<std::string> merges;
    int32_t bos = 0, eos = 0, eot = 0;
};

Result<Vocab> default_vocab(int n_vocab) {
    constexpr int32_t kNormal = 1, kControl = 3;
    Vocab v;
    // The 256 byte tokens, spelled in GPT-2's byte-to-unicode alphabet (the tokenizer's own table).
    for (int b = 0; b < 256; ++b)
        v.tokens.push_back(tok::byte_to_unicode_utf8(static_cast<uint8_t>(b))), v.types.push_back(kNormal);
    // A few merges (each side already a token) so that the merge path of a BPE tokenizer is exercised.
    static const char* kMerges[][2] = {
        {"Ġ", "t"},   {"Ġ", "a"}, {"h", "e"}, {"i", "n"}, {"r", "e"},  {"o", "n"}, {"Ġt", "he"}, {"e", "r"},
        {"Ġ", "s"},   {"a", "t"}, {"e", "n"}, {"o", "r"}, {"Ġ", "c"},  {"Ġ", "o"}, {"a", "n"},   {"Ġa", "n"},
        {"Ġan", "d"}, {"Ġ", "w"}, {"Ġ", "p"}, {"i", "s"}, {"Ġo", "f"}, {"e", "s"}, {"Ġ", "in"},  {"t", "i"},
    };
    for (const auto& m : kMerges) {
        v.merges.push_back(std::string(m[0]) + " " + m[1]);
        v.tokens.push_back(std::string(m[0]) + m[1]);
        v.types.push_back(kNormal);
    }
    static const char* kSpecials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>",
                                      "<|im_end|>",        "<|eot_id|>",      "<|start_header_id|>",
                                      "<|end_header_id|>"};
    for (const char* s : kSpecials) v.tokens.push_back(s), v.types.push_back(kControl);
    if (static_cast<int>(v.tokens.size()) > n_vocab)
        return make_error(ErrorCode::invalid_argument,
                          "make-model: vocab size {} is below the {} built-in tokens", n_vocab,
                          v.tokens.size());
    auto id_of = [&](const char* s) {
        return static_cast<int32_t>(std::find(v.tokens.begin(), v.tokens.end(), s) - v.tokens.begin());
    };
    v.bos = id_of("<|begin_of_text|>");
    v.eos = id_of("<|end_of_text|>");
    v.eot = id_of("<|im_end|>");
    for (int k = 0; static_cast<int>(v.tokens.size()) < n_vocab; ++k)
        v.tokens.push_back("<|reserved_" + std::to_string(k) + "|>"), v.types.push_back(kControl);
    return v;
}

constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% "
    "endif %}";

Status add_default_tokenizer(GgufWriter& w, int n_vocab) {
    DK_ASSIGN_OR_RETURN(Vocab v, default_vocab(n_vocab));
    DK_TRY(w.set_string("tokenizer.ggml.model", "gpt2"));
    DK_TRY(w.set_string("tokenizer.ggml.pre", "gpt-2"));
    DK_TRY(w.set("tokenizer.ggml.tokens", GgufWriteValue::string_array(std::move(v.tokens))));
    DK_TRY(w.set("tokenizer.ggml.token_type", GgufWriteValue::i32_array(v.types)));
    DK_TRY(w.set("tokenizer.ggml.merges", GgufWriteValue::string_array(std::move(v.merges))));
    DK_TRY(w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(v.bos)));
    DK_TRY(w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(v.eos)));
    DK_TRY(w.set_u32("tokenizer.ggml.eot_token_id", static_cast<uint32_t>(v.eot)));
    DK_TRY(w.set_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(v.eos)));
    DK_TRY(w.set_bool("tokenizer.ggml.add_bos_token", true));
    DK_TRY(w.set_bool("tokenizer.ggml.add_eos_token", false));
    DK_TRY(w.set_string("tokenizer.chat_template", kChatMlTemplate));
    return Status::ok();
}

// Copies every tokenizer.* entry of `src` (tokens, types, merges or scores, special ids, pre, chat template).
Status copy_tokenizer(GgufWriter& w, const GgufFile& src) {
    for (const auto& kv : src.kvs())
        if (kv.key.substr(0, 10) == "tokenizer.")
            DK_TRY(w.set(std::string(kv.key), GgufWriteValue::from_read(kv.value)));
    return Status::ok();
}

// ---- tensors ----

enum class Fill { random, ones, rope_freqs };

struct TensorPlan {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;  // ggml order: ne[0] contiguous
    Fill fill;
};

// Llama-3 frequency factors (the divisor of each rotary frequency), as llama.cpp's converter computes them.
std::vector<float> llama3_rope_factors(const ModelShape& s) {
    std::vector<float> f(s.head_dim / 2);
    const double low_wavelen = s.rope_orig_ctx / s.rope_low_freq_factor;
    const double high_wavelen = s.rope_orig_ctx / s.rope_high_freq_factor;
    for (int i = 0; i < s.head_dim / 2; ++i) {
        const double freq = 1.0 / std::pow(static_cast<double>(s.rope_base), 2.0 * i / s.head_dim);
        const double wavelen = 2.0 * M_PI / freq;
        if (wavelen < high_wavelen) {
            f[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            f[i] = s.rope_factor;
        } else {
            const double smooth = (s.rope_orig_ctx / wavelen - s.rope_low_freq_factor) /
                                  (s.rope_high_freq_factor - s.rope_low_freq_factor);
            f[i] = static_cast<float>(1.0 / ((1.0 - smooth) / s.rope_factor + smooth));
        }
    }
    return f;
}

std::vector<TensorPlan> plan_tensors(const ModelShape& s, ModelArch arch, GgmlType wanted) {
    std::vector<TensorPlan> t;
    auto weight = [&](std::string name, int64_t ne0, int64_t ne1) {
        t.push_back({std::move(name), weight_type_for_row(wanted, ne0), {ne0, ne1}, Fill::random});
    };
    auto vec = [&](std::string name, int64_t n, Fill fill) {
        t.push_back({std::move(name), GgmlType::F32, {n}, fill});
    };
    const int64_t q_dim = int64_t{s.n_head} * s.head_dim, kv_dim = int64_t{s.n_head_kv} * s.head_dim;
    weight("token_embd.weight", s.n_embd, s.n_vocab);
    if (s.llama3_rope) vec("rope_freqs.weight", s.head_dim / 2, Fill::rope_freqs);
    for (int l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        vec(p + "attn_norm.weight", s.n_embd, Fill::ones);
        weight(p + "attn_q.weight", s.n_embd, q_dim);
        weight(p + "attn_k.weight", s.n_embd, kv_dim);
        weight(p + "attn_v.weight", s.n_embd, kv_dim);
        if (arch == ModelArch::qwen2) {
            vec(p + "attn_q.bias", q_dim, Fill::random);
            vec(p + "attn_k.bias", kv_dim, Fill::random);
            vec(p + "attn_v.bias", kv_dim, Fill::random);
        }
        if (arch == ModelArch::qwen3) {
            vec(p + "attn_q_norm.weight", s.head_dim, Fill::ones);
            vec(p + "attn_k_norm.weight", s.head_dim, Fill::ones);
        }
        weight(p + "attn_output.weight", q_dim, s.n_embd);
        vec(p + "ffn_norm.weight", s.n_embd, Fill::ones);
        weight(p + "ffn_gate.weight", s.n_embd, s.n_ff);
        weight(p + "ffn_up.weight", s.n_embd, s.n_ff);
        weight(p + "ffn_down.weight", s.n_ff, s.n_embd);
    }
    vec("output_norm.weight", s.n_embd, Fill::ones);
    if (!s.tied_embeddings) weight("output.weight", s.n_embd, s.n_vocab);
    return t;
}

struct Progress {
    const MakeModelOptions& opt;
    MakeModelProgress state;
    void advance(uint64_t bytes) {
        state.bytes_done += bytes;
        if (opt.progress) opt.progress(state);
    }
};

// Streams one tensor: rows are drawn and quantized in parallel, a chunk at a time, then written in order.
Status produce(const TensorPlan& plan, const MakeModelOptions& opt, ThreadPool& pool, Progress& progress,
               GgufTensorSink& sink) {
    const int64_t ne0 = plan.ne[0];
    int64_t rows = 1;
    for (size_t d = 1; d < plan.ne.size(); ++d) rows *= plan.ne[d];
    const size_t row_bytes = ggml_row_size(plan.type, ne0);
    if (plan.fill == Fill::rope_freqs) {
        const std::vector<float> f = llama3_rope_factors(opt.shape);
        DK_TRY(sink.write(f.data(), f.size() * sizeof(float)));
        progress.advance(f.size() * sizeof(float));
        return Status::ok();
    }
    const int64_t chunk_rows = std::clamp<int64_t>(kChunkElements / ne0, 1, rows);
    std::vector<uint8_t> buf(static_cast<size_t>(chunk_rows) * row_bytes);
    std::vector<Status> errors(static_cast<size_t>(pool.size()));
    for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
        const int64_t n = std::min(chunk_rows, rows - r0);
        pool.parallel_for(n, [&](int64_t begin, int64_t end, int th) {
            std::vector<float> x(static_cast<size_t>(ne0));
            for (int64_t r = begin; r < end; ++r) {
                if (plan.fill == Fill::ones) {
                    std::fill(x.begin(), x.end(), 1.0f);
                } else {
                    random_row(opt.seed, plan.name, r0 + r, kWeightStd, x.data(), ne0);
                }
                Status st =
                    quantize_row(plan.type, x.data(), buf.data() + static_cast<size_t>(r) * row_bytes, ne0);
                if (!st) errors[static_cast<size_t>(th)] = st;
            }
        });
        for (const Status& st : errors) DK_TRY(st);
        const size_t nbytes = static_cast<size_t>(n) * row_bytes;
        DK_TRY(sink.write(buf.data(), nbytes));
        progress.advance(nbytes);
    }
    return Status::ok();
}

Status add_hparams(GgufWriter& w, const ModelShape& s, ModelArch arch, GgmlType type, int n_vocab) {
    const std::string a = model_arch_name(arch);
    DK_TRY(w.set_string("general.architecture", a));
    DK_TRY(w.set_string("general.type", "model"));
    DK_TRY(w.set_string("general.name", "docket random " + s.name + " " + ggml_type_name(type)));
    DK_TRY(w.set_u32("general.file_type", file_type_of(type)));
    DK_TRY(w.set_u32("general.quantization_version", 2));
    DK_TRY(w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer)));
    DK_TRY(w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx)));
    DK_TRY(w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd)));
    DK_TRY(w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff)));
    DK_TRY(w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head)));
    DK_TRY(w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv)));
    DK_TRY(w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(s.head_dim)));
    DK_TRY(w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(s.head_dim)));
    DK_TRY(w.set_f32(a + ".rope.freq_base", s.rope_base));
    DK_TRY(w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(s.head_dim)));
    DK_TRY(w.set_f32(a + ".attention.layer_norm_rms_epsilon", s.rms_eps));
    DK_TRY(w.set_u32(a + ".vocab_size", static_cast<uint32_t>(n_vocab)));
    if (s.llama3_rope) {
        // llama.cpp reads Llama-3 scaling from rope_freqs.weight. Writing rope.scaling.factor would make it
        // apply linear scaling on top (its default scaling type), so only the original context length is
        // recorded.
        DK_TRY(
            w.set_u32(a + ".rope.scaling.original_context_length", static_cast<uint32_t>(s.rope_orig_ctx)));
    }
    return Status::ok();
}

}  // namespace

Result<ModelShape> model_shape(std::string_view name) {
    for (const auto& s : shapes())
        if (s.name == name) return s;
    std::string known;
    for (const auto& s : shapes()) known += (known.empty() ? "" : ", ") + s.name;
    return make_error(ErrorCode::invalid_argument, "unknown model shape '{}' (known: {})", name, known);
}

const std::vector<std::string>& model_shape_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& s : shapes()) v.push_back(s.name);
        return v;
    }();
    return names;
}

Result<ModelArch> parse_model_arch(std::string_view name) {
    if (name == "llama") return ModelArch::llama;
    if (name == "qwen2") return ModelArch::qwen2;
    if (name == "qwen3") return ModelArch::qwen3;
    return make_error(ErrorCode::invalid_argument, "unknown architecture '{}' (known: llama, qwen2, qwen3)",
                      name);
}

const char* model_arch_name(ModelArch arch) {
    switch (arch) {
        case ModelArch::llama:
            return "llama";
        case ModelArch::qwen2:
            return "qwen2";
        case ModelArch::qwen3:
            return "qwen3";
    }
    return "llama";
}

Result<GgmlType> parse_weight_type(std::string_view name) {
    if (name == "f16") return GgmlType::F16;
    if (name == "q8_0") return GgmlType::Q8_0;
    if (name == "q4_0") return GgmlType::Q4_0;
    if (name == "q4_k") return GgmlType::Q4_K;
    if (name == "q6_k") return GgmlType::Q6_K;
    return make_error(ErrorCode::invalid_argument,
                      "unknown weight type '{}' (known: f16, q8_0, q4_0, q4_k, q6_k)", name);
}

GgmlType weight_type_for_row(GgmlType wanted, int64_t ne0) {
    if (ne0 % ggml_type_traits(wanted)->block_size == 0) return wanted;
    if (wanted == GgmlType::Q4_K) return GgmlType::Q4_1;
    if (wanted == GgmlType::Q6_K) return GgmlType::Q8_0;
    return GgmlType::F16;
}

void random_row(uint64_t seed, std::string_view tensor, int64_t row, float std_dev, float* out, int64_t n) {
    uint64_t state =
        seed * 0xD1B54A32D192ED03ull ^ fnv1a(tensor) ^ (static_cast<uint64_t>(row) * 0x9E3779B97F4A7C15ull);
    // Irwin-Hall with 4 uniforms of 16 bits: mean 2^17 - 2, std 2^16/sqrt(3); close enough to normal, never
    // extreme.
    constexpr float kMean = 131070.0f;
    const float scale = std_dev / 37837.23f;
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t z = splitmix64(&state);
        const uint32_t s = static_cast<uint32_t>(z & 0xFFFF) + static_cast<uint32_t>((z >> 16) & 0xFFFF) +
                           static_cast<uint32_t>((z >> 32) & 0xFFFF) + static_cast<uint32_t>(z >> 48);
        out[i] = (static_cast<float>(s) - kMean) * scale;
    }
}

Status make_model(const MakeModelOptions& opt, const std::string& out) {
    const ModelShape& s = opt.shape;
    if (!can_quantize(opt.type))
        return make_error(ErrorCode::unsupported, "make-model: cannot write {} weights",
                          ggml_type_name(opt.type));
    if (s.n_layer <= 0 || s.n_embd <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 ||
        s.head_dim <= 0 || s.head_dim % 2 != 0)
        return make_error(ErrorCode::invalid_argument, "make-model: inconsistent shape '{}'", s.name);

    GgufWriter w;
    int n_vocab = s.n_vocab;
    std::unique_ptr<GgufFile> vocab_src;
    if (!opt.vocab_from.empty()) {
        DK_ASSIGN_OR_RETURN(vocab_src, GgufFile::open(opt.vocab_from));
        auto tokens = vocab_src->get_string_array("tokenizer.ggml.tokens");
        if (!tokens) return tokens.status().with_context("make-model --vocab-from");
        n_vocab = static_cast<int>(tokens->size());  // the tokenizer decides the vocab size
    }
    ModelShape shape = s;
    shape.n_vocab = n_vocab;
    // Hyper-parameters first, then the tokenizer, as llama.cpp's converter writes them.
    DK_TRY(add_hparams(w, shape, opt.arch, opt.type, n_vocab));
    if (vocab_src) {
        DK_TRY(copy_tokenizer(w, *vocab_src));
    } else {
        DK_TRY(add_default_tokenizer(w, n_vocab));
    }

    const std::vector<TensorPlan> plans = plan_tensors(shape, opt.arch, opt.type);
    ThreadPool pool(opt.threads);
    Progress progress{opt, {}};
    progress.state.tensors_total = static_cast<int>(plans.size());
    MakeModelOptions shaped = opt;
    shaped.shape = shape;
    for (const auto& plan : plans) {
        const TensorPlan* p = &plan;
        DK_TRY(w.add_tensor(plan.name, plan.type, plan.ne,
                            [p, &shaped, &pool, &progress](GgufTensorSink& sink) -> Status {
                                progress.state.tensor = p->name;
                                DK_TRY(produce(*p, shaped, pool, progress, sink));
                                ++progress.state.tensors_done;
                                return Status::ok();
                            }));
    }
    progress.state.bytes_total = w.file_size();
    return w.write_file(out);
}

}  // namespace docket

#include "runtime/model.h"

#include <cmath>

#include "util/log.h"

namespace docket {

const char* arch_name(Arch a) {
    switch (a) {
        case Arch::llama:
            return "llama";
        case Arch::qwen2:
            return "qwen2";
        case Arch::qwen3:
            return "qwen3";
    }
    return "?";
}

namespace {

// Types the CPU backend can multiply with (fused kernels or dequantize_row + dot).
bool matmul_type_supported(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
        case GgmlType::Q8_0:
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return true;
        default:
            return false;
    }
}

Result<int32_t> get_dim(const GgufFile& g, const std::string& key, int64_t max = 1 << 24) {
    auto v = g.get_uint(key);
    if (!v) return v.status().with_context(g.name());
    if (*v == 0 || *v > static_cast<uint64_t>(max))
        return make_error(ErrorCode::corrupt_data, "{}: {} = {} is out of range [1, {}]", g.name(), key, *v,
                          max);
    return static_cast<int32_t>(*v);
}

// get_dim() for an optional key: `def` when it is absent.
Result<int32_t> get_dim_or(const GgufFile& g, const std::string& key, int32_t def, int64_t max = 1 << 24) {
    if (!g.find(key)) return def;
    return get_dim(g, key, max);
}

}  // namespace

Result<ModelConfig> read_model_config(const GgufFile& g) {
    ModelConfig c;
    auto arch_r = g.get_string("general.architecture");
    if (!arch_r) return arch_r.status().with_context(g.name());
    const std::string arch(*arch_r);
    if (arch == "llama") {
        c.arch = Arch::llama;
        c.rope_style = RopeStyle::normal;
    } else if (arch == "qwen2") {
        c.arch = Arch::qwen2;
        c.rope_style = RopeStyle::neox;
    } else if (arch == "qwen3") {
        c.arch = Arch::qwen3;
        c.rope_style = RopeStyle::neox;
    } else {
        return make_error(ErrorCode::unsupported,
                          "{}: general.architecture '{}' is not supported (llama, qwen2, qwen3 are)",
                          g.name(), arch);
    }
    const std::string p = arch + ".";
    DK_ASSIGN_OR_RETURN(c.n_layer, get_dim(g, p + "block_count", 4096));
    DK_ASSIGN_OR_RETURN(c.n_embd, get_dim(g, p + "embedding_length"));
    DK_ASSIGN_OR_RETURN(c.n_head, get_dim(g, p + "attention.head_count", 4096));
    DK_ASSIGN_OR_RETURN(c.n_ff, get_dim(g, p + "feed_forward_length"));
    if (g.find(p + "attention.head_count_kv")) {
        DK_ASSIGN_OR_RETURN(c.n_head_kv, get_dim(g, p + "attention.head_count_kv", 4096));
    } else {
        c.n_head_kv = c.n_head;
    }
    if (c.n_head % c.n_head_kv != 0)
        return make_error(ErrorCode::corrupt_data, "{}: head_count {} is not a multiple of head_count_kv {}",
                          g.name(), c.n_head, c.n_head_kv);
    if (g.find(p + "attention.key_length")) {
        DK_ASSIGN_OR_RETURN(c.head_dim, get_dim(g, p + "attention.key_length", 4096));
    } else {
        if (c.n_embd % c.n_head != 0)
            return make_error(ErrorCode::corrupt_data,
                              "{}: embedding_length {} is not a multiple of head_count {}", g.name(),
                              c.n_embd, c.n_head);
        c.head_dim = c.n_embd / c.n_head;
    }
    if (g.find(p + "attention.value_length")) {
        DK_ASSIGN_OR_RETURN(int32_t vlen, get_dim(g, p + "attention.value_length", 4096));
        if (vlen != c.head_dim)
            return make_error(ErrorCode::unsupported,
                              "{}: attention.value_length {} differs from key_length {}", g.name(), vlen,
                              c.head_dim);
    }
    if (g.find(p + "vocab_size")) {
        DK_ASSIGN_OR_RETURN(c.n_vocab, get_dim(g, p + "vocab_size"));
    } else if (const GgufTensor* te = g.find_tensor("token_embd.weight")) {
        if (te->ne[1] > (1 << 24))
            return make_error(ErrorCode::corrupt_data,
                              "{}: token_embd.weight has {} rows (vocabulary), over {}", g.name(), te->ne[1],
                              1 << 24);
        c.n_vocab = static_cast<int32_t>(te->ne[1]);
    } else {
        return make_error(ErrorCode::not_found, "{}: tensor token_embd.weight is missing", g.name());
    }
    DK_ASSIGN_OR_RETURN(c.n_ctx_train, get_dim_or(g, p + "context_length", 4096, INT32_MAX));
    c.rms_eps = static_cast<float>(g.get_float_or(p + "attention.layer_norm_rms_epsilon", 1e-5));
    if (!(c.rms_eps > 0.0f) || c.rms_eps > 1.0f)
        return make_error(ErrorCode::corrupt_data, "{}: attention.layer_norm_rms_epsilon {} is out of range",
                          g.name(), c.rms_eps);

    DK_ASSIGN_OR_RETURN(c.n_rot, get_dim_or(g, p + "rope.dimension_count", c.head_dim, 4096));
    if (c.n_rot <= 0 || c.n_rot > c.head_dim || c.n_rot % 2 != 0)
        return make_error(ErrorCode::corrupt_data, "{}: rope.dimension_count {} must be even and in [2, {}]",
                          g.name(), c.n_rot, c.head_dim);
    c.rope_freq_base = static_cast<float>(g.get_float_or(p + "rope.freq_base", 10000.0));
    if (!(c.rope_freq_base > 1.0f))
        return make_error(ErrorCode::corrupt_data, "{}: rope.freq_base {} must be > 1", g.name(),
                          c.rope_freq_base);

    const std::string scaling = g.get_string_or(p + "rope.scaling.type", "none");
    const float factor = static_cast<float>(g.get_float_or(p + "rope.scaling.factor", 1.0));
    if (scaling == "linear") {
        if (!(factor > 0.0f))
            return make_error(ErrorCode::corrupt_data, "{}: rope.scaling.factor {}", g.name(), factor);
        c.rope_linear_scale = factor;
    } else if (scaling == "llama3") {
        c.rope_llama3 = true;
        c.rope_scaling_factor = factor;
        c.rope_low_freq_factor = static_cast<float>(g.get_float_or(p + "rope.scaling.low_freq_factor", 1.0));
        c.rope_high_freq_factor =
            static_cast<float>(g.get_float_or(p + "rope.scaling.high_freq_factor", 4.0));
        DK_ASSIGN_OR_RETURN(c.rope_orig_ctx,
                            get_dim_or(g, p + "rope.scaling.original_context_length", 8192, INT32_MAX));
        if (!(factor > 0.0f) || !(c.rope_high_freq_factor > c.rope_low_freq_factor) || c.rope_orig_ctx <= 0)
            return make_error(ErrorCode::corrupt_data, "{}: llama3 rope scaling parameters are inconsistent",
                              g.name());
    } else if (scaling != "none" && scaling != "") {
        return make_error(ErrorCode::unsupported, "{}: rope.scaling.type '{}' is not supported", g.name(),
                          scaling);
    }
    c.tied_embeddings = g.find_tensor("output.weight") == nullptr;
    return c;
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path) {
    DK_ASSIGN_OR_RETURN(auto gguf, GgufFile::open(path));
    return from_gguf(std::move(gguf));
}

Result<std::unique_ptr<Model>> Model::from_gguf(std::unique_ptr<GgufFile> gguf) {
    std::unique_ptr<Model> m(new Model());
    m->gguf_ = std::move(gguf);
    DK_ASSIGN_OR_RETURN(m->config_, read_model_config(*m->gguf_));
    DK_TRY(m->bind_tensors());
    const auto& c = m->config_;
    DK_LOG_DEBUG(
        "{}: {} {} layers, n_embd {}, {} heads / {} kv heads x {}, n_ff {}, vocab {}, rope {} base {}{}",
        m->gguf_->name(), arch_name(c.arch), c.n_layer, c.n_embd, c.n_head, c.n_head_kv, c.head_dim, c.n_ff,
        c.n_vocab, c.rope_style == RopeStyle::neox ? "neox" : "normal", c.rope_freq_base,
        c.tied_embeddings ? ", tied embeddings" : "");
    return m;
}

Status Model::bind_tensors() {
    const GgufFile& g = *gguf_;
    const ModelConfig& c = config_;

    // Binds `name` expecting ggml shape [n_in, n_out] (n_out = 0 for a vector of n_in).
    auto bind = [&](const std::string& name, int64_t n_in, int64_t n_out, bool required, bool matrix,
                    WeightView* out) -> Status {
        const GgufTensor* t = g.find_tensor(name);
        if (!t) {
            if (required) return make_error(ErrorCode::not_found, "{}: tensor {} is missing", g.name(), name);
            return Status::ok();
        }
        const int64_t want1 = n_out == 0 ? 1 : n_out;
        if (t->ne[0] != n_in || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
            return make_error(ErrorCode::corrupt_data,
                              "{}: tensor {} has shape [{}, {}, {}, {}], expected [{}, {}]", g.name(), name,
                              t->ne[0], t->ne[1], t->ne[2], t->ne[3], n_in, want1);
        if (matrix) {
            if (!matmul_type_supported(t->type))
                return make_error(ErrorCode::unsupported,
                                  "{}: tensor {} has type {}, which the CPU backend cannot use", g.name(),
                                  name, ggml_type_name(t->type));
            const auto* tr = ggml_type_traits(t->type);
            if (!tr || n_in % tr->block_size != 0)
                return make_error(ErrorCode::corrupt_data,
                                  "{}: tensor {} row length {} is not a multiple of the {} block", g.name(),
                                  name, n_in, ggml_type_name(t->type));
        } else if (t->type != GgmlType::F32) {
            return make_error(ErrorCode::unsupported, "{}: tensor {} has type {}, expected F32", g.name(),
                              name, ggml_type_name(t->type));
        }
        if (t->nbytes != ggml_row_size(t->type, n_in) * static_cast<size_t>(want1))
            return make_error(ErrorCode::corrupt_data, "{}: tensor {} holds {} bytes, expected {}", g.name(),
                              name, t->nbytes, ggml_row_size(t->type, n_in) * want1);
        out->tensor = t;
        out->type = t->type;
        out->n_in = n_in;
        out->n_out = want1;
        out->data = t->data;
        out->row_bytes = ggml_row_size(t->type, n_in);
        weight_bytes_ += t->nbytes;
        return Status::ok();
    };

    DK_TRY(bind("token_embd.weight", c.n_embd, c.n_vocab, true, true, &token_embd_));
    DK_TRY(bind("output_norm.weight", c.n_embd, 0, true, false, &output_norm_));
    if (c.tied_embeddings) {
        output_ = token_embd_;
    } else {
        DK_TRY(bind("output.weight", c.n_embd, c.n_vocab, true, true, &output_));
    }
    const bool qwen2 = c.arch == Arch::qwen2, qwen3 = c.arch == Arch::qwen3;
    layers_.resize(c.n_layer);
    for (int i = 0; i < c.n_layer; ++i) {
        LayerWeights& L = layers_[i];
        const std::string b = "blk." + std::to_string(i) + ".";
        DK_TRY(bind(b + "attn_norm.weight", c.n_embd, 0, true, false, &L.attn_norm));
        DK_TRY(bind(b + "attn_q.weight", c.n_embd, c.n_q_dim(), true, true, &L.wq));
        DK_TRY(bind(b + "attn_k.weight", c.n_embd, c.n_kv_dim(), true, true, &L.wk));
        DK_TRY(bind(b + "attn_v.weight", c.n_embd, c.n_kv_dim(), true, true, &L.wv));
        DK_TRY(bind(b + "attn_output.weight", c.n_q_dim(), c.n_embd, true, true, &L.wo));
        // Biases are required by qwen2 and tolerated elsewhere (some llama fine-tunes carry them).
        DK_TRY(bind(b + "attn_q.bias", c.n_q_dim(), 0, qwen2, false, &L.bq));
        DK_TRY(bind(b + "attn_k.bias", c.n_kv_dim(), 0, qwen2, false, &L.bk));
        DK_TRY(bind(b + "attn_v.bias", c.n_kv_dim(), 0, qwen2, false, &L.bv));
        DK_TRY(bind(b + "attn_q_norm.weight", c.head_dim, 0, qwen3, false, &L.q_norm));
        DK_TRY(bind(b + "attn_k_norm.weight", c.head_dim, 0, qwen3, false, &L.k_norm));
        DK_TRY(bind(b + "ffn_norm.weight", c.n_embd, 0, true, false, &L.ffn_norm));
        DK_TRY(bind(b + "ffn_gate.weight", c.n_embd, c.n_ff, true, true, &L.ffn_gate));
        DK_TRY(bind(b + "ffn_up.weight", c.n_embd, c.n_ff, true, true, &L.ffn_up));
        DK_TRY(bind(b + "ffn_down.weight", c.n_ff, c.n_embd, true, true, &L.ffn_down));
    }
    if (const GgufTensor* rf = g.find_tensor("rope_freqs.weight")) {
        WeightView v;
        DK_TRY(bind("rope_freqs.weight", c.n_rot / 2, 0, true, false, &v));
        rope_freq_factors_.assign(v.f32(), v.f32() + c.n_rot / 2);
        for (size_t i = 0; i < rope_freq_factors_.size(); ++i)
            if (!(rope_freq_factors_[i] > 0.0f) || !std::isfinite(rope_freq_factors_[i]))
                return make_error(ErrorCode::corrupt_data, "{}: tensor {} element {} is {}, expected > 0",
                                  g.name(), rf->name, i, rope_freq_factors_[i]);
    }
    return Status::ok();
}

}  // namespace docket

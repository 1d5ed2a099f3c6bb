#pragma once
// A transformer model loaded from GGUF: its configuration (from metadata) and views of its weight tensors,
// used straight from the file's memory map (nothing is dequantized or copied at load). Architectures: llama
// (Llama 2/3, SmolLM2, Mistral), qwen2 (q/k/v biases), qwen3 (per-head q/k RMSNorm).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "util/status.h"

namespace docket {

enum class Arch { llama, qwen2, qwen3 };
const char* arch_name(Arch a);

// How RoPE pairs the dimensions of a head: `normal` rotates adjacent pairs (2i, 2i+1), as llama.cpp's
// LLAMA_ROPE_TYPE_NORM on GGUF llama weights (whose q/k rows the converter permuted); `neox` rotates (i, i +
// n_rot/2).
enum class RopeStyle { normal, neox };

struct ModelConfig {
    Arch arch = Arch::llama;
    int32_t n_layer = 0;
    int32_t n_embd = 0;
    int32_t n_head = 0;
    int32_t n_head_kv = 0;
    int32_t head_dim = 0;  // {arch}.attention.key_length, else n_embd / n_head
    int32_t n_ff = 0;
    int32_t n_vocab = 0;
    int32_t n_ctx_train = 0;
    float rms_eps = 1e-5f;

    // RoPE
    RopeStyle rope_style = RopeStyle::normal;
    int32_t n_rot = 0;  // rotated dims per head (rope.dimension_count, default head_dim); even, <= head_dim
    float rope_freq_base = 10000.0f;
    float rope_linear_scale = 1.0f;  // rope.scaling.type == "linear": positions are divided by the factor
    // Llama-3 frequency scaling (rope.scaling.type == "llama3", or a rope_freqs.weight tensor).
    bool rope_llama3 = false;
    float rope_scaling_factor = 1.0f;
    float rope_low_freq_factor = 1.0f;
    float rope_high_freq_factor = 4.0f;
    int32_t rope_orig_ctx = 8192;

    bool tied_embeddings = false;  // no output.weight: the output projection is token_embd
    int32_t n_kv_dim() const { return n_head_kv * head_dim; }
    int32_t n_q_dim() const { return n_head * head_dim; }
};

// A weight matrix of `n_out` rows of `n_in` elements each (ggml ne = [n_in, n_out]), or a vector (n_out = 1).
struct WeightView {
    const GgufTensor* tensor = nullptr;
    GgmlType type = GgmlType::F32;
    int64_t n_in = 0;
    int64_t n_out = 0;
    const uint8_t* data = nullptr;
    size_t row_bytes = 0;

    bool present() const { return data != nullptr; }
    const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes; }
    // For F32 vectors (norm weights, biases).
    const float* f32() const { return reinterpret_cast<const float*>(data); }
};

struct LayerWeights {
    WeightView attn_norm;         // [n_embd] f32
    WeightView wq, wk, wv, wo;    // [n_q_dim, n_embd], [n_kv_dim, n_embd] x2, [n_embd, n_q_dim]
    WeightView bq, bk, bv;        // qwen2: [n_q_dim], [n_kv_dim] x2 f32
    WeightView q_norm, k_norm;    // qwen3: [head_dim] f32
    WeightView ffn_norm;          // [n_embd] f32
    WeightView ffn_gate, ffn_up;  // [n_ff, n_embd]
    WeightView ffn_down;          // [n_embd, n_ff]
};

class Model {
public:
    // Opens and validates the GGUF: every tensor the config implies must be present with a supported type and
    // the expected shape; errors name the tensor.
    static Result<std::unique_ptr<Model>> load(const std::string& path);
    // Same from an already opened file (the Model takes ownership).
    static Result<std::unique_ptr<Model>> from_gguf(std::unique_ptr<GgufFile> gguf);

    const ModelConfig& config() const { return config_; }
    const GgufFile& gguf() const { return *gguf_; }
    const WeightView& token_embd() const { return token_embd_; }    // [n_vocab, n_embd]
    const WeightView& output_norm() const { return output_norm_; }  // [n_embd] f32
    const WeightView& output() const { return output_; }  // [n_vocab, n_embd] (token_embd when tied)
    const LayerWeights& layer(int i) const { return layers_[i]; }
    // Per rotated-dim-pair frequency divisors from rope_freqs.weight ([n_rot/2]), empty when absent.
    const std::vector<float>& rope_freq_factors() const { return rope_freq_factors_; }
    // Bytes of all weight tensors (what one decode step reads).
    uint64_t weight_bytes() const { return weight_bytes_; }

private:
    Model() = default;
    Status bind_tensors();

    std::unique_ptr<GgufFile> gguf_;
    ModelConfig config_;
    WeightView token_embd_, output_norm_, output_;
    std::vector<LayerWeights> layers_;
    std::vector<float> rope_freq_factors_;
    uint64_t weight_bytes_ = 0;
};

// Reads the config from metadata alone (no tensor checks).
Result<ModelConfig> read_model_config(const GgufFile& gguf);

}  // namespace docket

#pragma once
// Random-weight models of real shapes, written as llama.cpp-compatible GGUF: the metadata a loader needs,
// tensor names and orientation as llama.cpp's converter writes them, and a byte-level BPE vocabulary (or one
// copied from another GGUF). Used to test and benchmark the runtime on shapes whose real weights are not at
// hand.
//
// Weights are drawn from a seeded counter-based RNG (~N(0, 0.02); norm weights 1), so the same options always
// give the same bytes whatever the thread count. Tensors are generated, quantized and streamed to disk in
// chunks: a multi-gigabyte model needs only tens of MB of memory.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "format/ggml_type.h"
#include "util/status.h"

namespace docket {

struct ModelShape {
    std::string name;
    int n_layer = 0;
    int n_embd = 0;
    int n_ff = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;
    int n_vocab = 0;
    int n_ctx = 0;  // training context length
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    bool tied_embeddings = true;  // no output.weight; the head reuses token_embd
    // Llama-3 rope scaling; stored as llama.cpp does, as rope_freqs.weight F32 [head_dim/2].
    bool llama3_rope = false;
    float rope_factor = 1.0f;
    float rope_low_freq_factor = 1.0f;
    float rope_high_freq_factor = 4.0f;
    int rope_orig_ctx = 8192;
};

enum class ModelArch { llama, qwen2, qwen3 };

// "tiny", "smollm2-135m", "llama3-1b", "llama3-8b"; invalid_argument names the known shapes.
Result<ModelShape> model_shape(std::string_view name);
const std::vector<std::string>& model_shape_names();
Result<ModelArch> parse_model_arch(std::string_view name);  // llama | qwen2 | qwen3
const char* model_arch_name(ModelArch arch);
// Weight type names as the CLI takes them: f16 q8_0 q4_0 q4_k q6_k.
Result<GgmlType> parse_weight_type(std::string_view name);

// The type a weight matrix with rows of `ne0` elements gets: `wanted`, or for k-quants whose 256-element
// blocks do not divide the row, a 32-block fallback (Q4_K -> Q4_1, Q6_K -> Q8_0), as llama.cpp's quantizer
// falls back.
GgmlType weight_type_for_row(GgmlType wanted, int64_t ne0);

// Per-row draw used for every random tensor: `n` values ~N(0, std) from (seed, tensor name, row).
void random_row(uint64_t seed, std::string_view tensor, int64_t row, float std_dev, float* out, int64_t n);

struct MakeModelProgress {
    uint64_t bytes_done = 0;
    uint64_t bytes_total = 0;
    int tensors_done = 0;
    int tensors_total = 0;
    std::string tensor;  // the tensor being written
};

struct MakeModelOptions {
    ModelShape shape;
    ModelArch arch = ModelArch::llama;
    GgmlType type = GgmlType::F16;  // weight matrices (norms, biases and rope factors are always F32)
    uint64_t seed = 1;
    std::string
        vocab_from;   // copy tokenizer.* metadata from this GGUF instead of the built-in byte-level vocab
    int threads = 0;  // 0: hardware concurrency
    std::function<void(const MakeModelProgress&)> progress;  // called from the writing thread
};

// Writes the model to `out` (atomically: temp file, fsync, rename).
Status make_model(const MakeModelOptions& options, const std::string& out);

}  // namespace docket

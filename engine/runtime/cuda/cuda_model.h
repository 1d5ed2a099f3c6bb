#pragma once
// The whole model on the GPU for one sequence: weights uploaded once and kept quantized, a live KV cache of
// f16 pages (pre-RoPE keys, kernels/paged_kv.cuh layout), prefill in chunks through dequant + tensor-core
// GEMMs and flash attention, and decode through fused dequant-GEMVs and paged flash-decoding, replayed as a
// CUDA graph. Optionally a read-only "snapshot" prefix of quantized pages (int8/int4/int2/f16) sits in front
// of the live tokens, as composition places stored segments; decode attends to both without converting
// either.
#if DOCKET_HAVE_CUDA
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "paged_kv.cuh"
#include "runtime/cuda/cuda_context.h"
#include "runtime/model.h"
#include "util/cancel.h"
#include "util/status.h"

namespace docket::cuda {

struct CudaModelOptions {
    int32_t capacity = 4096;    // live tokens the KV cache holds
    int32_t max_chunk = 512;    // most tokens one prefill call processes at once (sizes the scratch)
    bool use_graph = true;      // replay decode steps as a CUDA graph
    bool prefill_bf16 = false;  // bf16 instead of f16 operands in the prefill GEMMs (for comparison)
    // Decode kernels as programmatic dependent launches (sm_90+ only; ignored elsewhere): each kernel's
    // blocks start while the previous one drains, and the GEMVs prefetch their weights before waiting.
    bool use_pdl = true;
    // The attention kernels as dependent launches too. With the GEMVs loading into registers this was 2.5%
    // slower at 32k int4 (H100); with staged GEMVs (gemv_staged) it is faster (bench gpu --compare).
    bool attn_pdl = true;
    bool attn_prefetch = true;     // DecodeAttnShape::prefetch_next
    bool attn_side_stream = true;  // live-tail attention beside the snapshot's (DecodeAttnShape::side)
    // Decode GEMVs copy their rows into shared memory before the dependent-launch wait (gemv_xq's staged
    // configs): +4% tokens/s at context 0 on the H100 over loading them into registers (false).
    bool gemv_staged = true;
};

class CudaModel {
public:
    // Uploads `model`'s weights. Supports the llama architecture (normal RoPE over the whole head, any llama3
    // / linear scaling) with weight types Q4_K Q6_K Q8_0 Q4_0 Q4_1 F16 BF16; others are `unsupported`.
    static Result<std::unique_ptr<CudaModel>> create(const Model& model, CudaContext& ctx,
                                                     const CudaModelOptions& opt);
    // Another sequence of the same model: shares `other`'s device weights (they stay alive while either
    // model does), with its own KV cache and scratch.
    static Result<std::unique_ptr<CudaModel>> create_sharing(const CudaModel& other,
                                                             const CudaModelOptions& opt);
    ~CudaModel();

    const ModelConfig& config() const { return cfg_; }
    int32_t n_past() const { return n_past_; }
    int32_t capacity() const { return opt_.capacity; }
    void reset() { n_past_ = 0; }
    void truncate(int32_t n) { n_past_ = std::clamp(n, 0, n_past_); }  // keeps live tokens [0, n)
    // Appends n live tokens whose KV write_rows() then fills (import); fails when the capacity is exceeded.
    Status extend(int32_t n);
    // Live tokens [first, first + n) of layer l in or out: k, v are [n, n_kv_heads, head_dim] f32, K before
    // RoPE (as the pages hold it; written through kv_append_f16, so rounded to f16).
    Status write_rows(int l, int32_t first, int32_t n, const float* k, const float* v);
    Status read_rows(int l, int32_t first, int32_t n, float* k, float* v) const;
    // From now on every prefill chunk and decode step copies the pre-RoPE queries of `layers` to the host:
    // (*out)[i] gains [n_tokens, n_q_dim] rows of layers[i]. An empty list stops it. While it is on, decode
    // runs eagerly (the decode graph holds no copies).
    Status capture_queries(std::vector<int32_t> layers, std::vector<std::vector<float>>* out);
    uint64_t device_weight_bytes() const { return weight_bytes_; }
    uint64_t device_bytes() const;  // everything this object holds on the GPU

    // Appends tokens at positions snapshot_tokens + n_past .. and runs them. logits: the last token's
    // [n_vocab], or every token's [n, n_vocab] when all_rows (nullptr: none). n <= max_chunk per call is not
    // required: longer inputs are split; `cancel` is read before each split (ErrorCode::cancelled once set;
    // the tokens of the chunks already run stay in the cache, reset() discards them).
    Status prefill(std::span<const int32_t> tokens, bool all_rows, std::vector<float>* logits,
                   const CancelFlag* cancel = nullptr);
    // One token in; its logits out (optional) and the greedy next token.
    Status decode(int32_t token, std::vector<float>* logits, int32_t* next);

    // A read-only prefix of `n_tokens` random quantized tokens per layer in `format` (benchmarks): decode
    // then attends over snapshot + live tokens. n_tokens 0 removes it.
    Status set_random_snapshot(Codec codec, int32_t n_tokens, uint64_t seed);
    int32_t snapshot_tokens() const { return snap_tokens_; }

    // Decode-attention kernel alone over the current caches of one layer (benchmark of its bandwidth):
    // returns the bytes of KV it reads.
    // impl: DecodeAttnShape::impl (0 tensor cores, 1 CUDA cores).
    Result<uint64_t> run_decode_attention_only(int layer, int impl = 0);

private:
    CudaModel() = default;
    struct Layer;
    Status upload_weights(const Model& model);
    Status finish_create();  // scratch, KV pool, streams and events: what each sequence owns
    Status alloc_scratch();
    Status copy_queries(int layer, int32_t n);  // capture_queries' copy of q_ after layer's Q projection
    void take_queries(int32_t n);               // appends the copied rows to the caller's vectors
    Status prefill_chunk(const int32_t* tokens, int32_t n, bool all_rows, float* logits_out);
    Status decode_body();  // the captured part of a decode step
    PagedKv live_kv(int layer) const;
    PagedKv snap_kv(int layer) const;

    CudaContext* ctx_ = nullptr;
    ModelConfig cfg_;
    CudaModelOptions opt_;
    int32_t n_past_ = 0;
    uint64_t weight_bytes_ = 0;
    std::vector<DeviceBuffer> owned_;                     // this sequence's device allocations
    std::shared_ptr<std::vector<DeviceBuffer>> weights_;  // weights and RoPE table, shared by create_sharing
    std::vector<int32_t> capture_layers_;
    std::vector<std::vector<float>>* capture_out_ = nullptr;
    PinnedBuffer capture_host_;  // [capture_layers_][max_chunk][q_dim] f32
    std::vector<Layer> layers_;
    struct W {
        const void* p = nullptr;
        GgmlType type = GgmlType::F32;
        int64_t n_in = 0, n_out = 0;
    } tok_embd_, output_, output_norm_;
    struct DecodeMat {
        const W* w;
        float* y;
        bool accumulate;
    };
    // Input of a decode GEMV: x itself, rmsnorm(x) * norm_w, or silu(x) * up (x overwritten on the f32 path).
    struct DecodeIn {
        const float* x;
        const float* norm_w = nullptr;
        const float* up = nullptr;
        bool xq_ready = false;  // xq_ already holds x quantized (the attention combine wrote it)
    };
    // Whether the matrices share one type with an integer GEMV path and n_in inputs (one fused launch).
    static bool integer_path(std::initializer_list<DecodeMat> mats, int64_t n_in);
    Status decode_gemv(std::initializer_list<DecodeMat> mats, DecodeIn in, int64_t n_in);
    bool pdl_ = false;  // opt_.use_pdl on an sm_90+ device
    const float* inv_freq_ = nullptr;

    // Live KV: [n_layer][pages_per_layer][page_bytes] f16 pages.
    uint8_t* kv_pool_ = nullptr;
    size_t page_bytes_ = 0;
    int32_t pages_per_layer_ = 0;
    int32_t* live_indices_ = nullptr;  // [pages_per_layer] = 0, 1, ...
    int32_t* live_pos_ = nullptr;      // [pages_per_layer] page start positions (after the snapshot)
    // Snapshot prefix: [n_layer][snap_pages][snap_page_bytes].
    DeviceBuffer snap_pool_, snap_meta_;
    Codec snap_codec_ = Codec::int4;
    int32_t snap_tokens_ = 0, snap_pages_ = 0;
    size_t snap_page_bytes_ = 0;

    // Step state (device): {token, pos, slot, 0, n_pages, last_len, 0, snap_pages, snap_last} and its pinned
    // host mirror; the decode graph reads everything that changes per step from here.
    int32_t* step_ = nullptr;
    PinnedBuffer step_host_;
    int32_t* next_token_ = nullptr;

    // Scratch.
    float *x_ = nullptr, *xn_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *attn_f_ = nullptr;
    float *gate_ = nullptr, *up_ = nullptr, *logits_ = nullptr, *ws_ = nullptr;
    void* xb_ = nullptr;                    // bf16 [max_chunk][max(n_embd, n_ff, q_dim)]
    void* q16_ = nullptr;                   // f16 [max_chunk][q_dim]
    void* attn_b_ = nullptr;                // f16 [max_chunk][q_dim]
    void *k16_ = nullptr, *v16_ = nullptr;  // f16 [capacity][kv_dim]
    void* wscratch_ = nullptr;              // bf16 dequantized weight matrix
    void* xq_ = nullptr;                    // decode activations quantized for gemv_xq
    int32_t *tok_d_ = nullptr, *pos_d_ = nullptr, *slot_d_ = nullptr, *page_ids_d_ = nullptr;
    int n_splits_ = 1;
    size_t ws_floats_ = 0;

    cudaStream_t side_ = nullptr;
    cudaEvent_t ev_fork_ = nullptr, ev_join_ = nullptr;
    cudaGraph_t graph_ = nullptr;
    cudaGraphExec_t graph_exec_ = nullptr;
    bool graph_has_snap_ = false;
    int64_t decodes_ = 0;  // the first decode runs eagerly (sets kernel attributes) before any capture
};

}  // namespace docket::cuda
#endif

#pragma once
// Decode attention over a paged KV cache, split over the sequence ("flash-decoding"): each block scores one
// range of pages for one KV head and all query heads of its GQA group, keeping an online softmax; a second
// kernel merges the splits. Pages are read in place in their stored codec (fp16, int8, int4, int2; see
// paged_kv.cuh) — codes are dequantized in registers, never into a copy — and keys, stored before RoPE, are
// rotated to page_pos + token inside the kernel.
#include "common.cuh"
#include "paged_kv.cuh"

namespace docket::cuda {

struct DecodeAttnShape {
    int batch = 1;                    // sequences (1..8 typical; any >= 1)
    int n_heads = 0;                  // query heads; n_heads / n_kv_heads <= 8
    int head_dim = 0;                 // 64 or 128
    const float* inv_freq = nullptr;  // [head_dim/2] RoPE inverse frequencies (device; host for the CPU twin)
    float scale = 0.0f;               // softmax scale, usually 1/sqrt(head_dim)
    int n_splits = 0;                 // splits per source; 0 = choose from max_pages
    int max_pages = 0;  // most pages any sequence has in any source (host-side hint for the split count)
    // 0: tensor cores, one chunk per warp for quantized pages (block per chunk for f16); n_splits is then an
    //    upper bound (at most one wave of 8- or 16-warp blocks);
    // 1: CUDA-core kernel (all f32); 2: tensor cores, block per chunk for every format (the previous
    // default).
    int impl = 0;
    // Launch as programmatic dependent launches (sm_90+): the split kernels for quantized pages prefetch
    // their first chunk and build the rotation table before waiting on the previous kernel, so those
    // pages and their page tables must not be written by the kernels just before (snapshots are not).
    bool pdl = false;
    // Warp kernel with a one-chunk ring (int4/int2 at head_dim 128): start each warp's next chunk toward L2
    // while it computes the current one.
    bool prefetch_next = true;
    // With `side` (and both events, created with cudaEventDisableTiming) and more than one source, the
    // sources after the first run on `side` beside the first one (a fork/join through the events; also
    // under stream capture): the short live tail then hides behind the snapshot pages' kernel, whose
    // one-block-per-SM wave leaves a few SMs free.
    cudaStream_t side = nullptr;
    cudaEvent_t fork = nullptr, join = nullptr;
    // batch 1 only: the combine kernel also writes `out` in gemv_xq's activation format here
    // (gemv_xq_bytes(n_heads * head_dim) bytes), saving a quantize_x launch.
    void* xq_out = nullptr;
};

// Floats of workspace decode_attention needs for n_sources sources.
size_t decode_attention_workspace(const DecodeAttnShape& s, int n_sources);

// q: [batch][n_heads][head_dim] f32, each query already rotated to its own position.
// sources: 1..4 page sets (e.g. int4 snapshot pages + the f16 live tail); a sequence's keys are the union of
// its pages in every source. All sources share n_kv_heads and head_dim. out: [batch][n_heads][head_dim] f32.
// A sequence with no tokens at all gets zeros.
Status decode_attention(const float* q, const PagedKv* sources, int n_sources, const DecodeAttnShape& shape,
                        float* workspace, float* out, cudaStream_t stream);

}  // namespace docket::cuda

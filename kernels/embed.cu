#include "embed.cuh"
#include "quant_blocks.cuh"

namespace docket::cuda {

template <GgmlType T>
static __global__ void embed_kernel(const uint8_t* __restrict__ table, size_t row_bytes, int64_t n_vocab,
                                    int dim, const int32_t* __restrict__ tokens, int64_t n_tok,
                                    float* __restrict__ out) {
    const int n_groups = dim / kGroup;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n_tok * n_groups) return;
    const int64_t t = i / n_groups;
    const int g = static_cast<int>(i % n_groups);
    const int32_t id = tokens[t];
    float* o = out + t * dim;
    if (id < 0 || id >= n_vocab) {
        for (int k = 0; k < kGroup; ++k) o[g * kGroup + k] = __int_as_float(0x7fc00000);
        return;
    }
    float v[32];
    int base0, base1;
    dequant_group<T>(table + static_cast<size_t>(id) * row_bytes, g, v, base0, base1);
#pragma unroll
    for (int k = 0; k < 16; ++k) {
        o[base0 + k] = v[k];
        o[base1 + k] = v[16 + k];
    }
}

Status embed_rows(GgmlType type, const void* table, int64_t n_vocab, int dim, const int32_t* tokens,
                  int64_t n_tok, float* out, cudaStream_t stream) {
    if (auto e = check_weight_shape(type, dim, n_vocab); !e.empty()) return bad_arg("embed_rows", e);
    if (n_tok <= 0) return bad_arg("embed_rows", "no tokens");
    if (reinterpret_cast<uintptr_t>(table) % 16 != 0)
        return bad_arg("embed_rows", "table must be 16-byte aligned");
    const int64_t total = n_tok * (dim / kGroup);
    const auto* tp = static_cast<const uint8_t*>(table);
    switch (type) {
#define DK_CASE(T)                                                                  \
    case GgmlType::T:                                                               \
        embed_kernel<GgmlType::T><<<ceil_div(total, 128), 128, 0, stream>>>(        \
            tp, gpu_row_bytes(GgmlType::T, dim), n_vocab, dim, tokens, n_tok, out); \
        break;
        DK_GPU_WEIGHT_TYPES(DK_CASE)
#undef DK_CASE
        default:
            break;
    }
    return launch_status("embed_rows");
}

}  // namespace docket::cuda

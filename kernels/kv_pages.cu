#include <algorithm>

#include "kv_pages.cuh"
#include "rope_angle.cuh"

namespace docket::cuda {

// Element (h, d) of a token's K and V into its f16 page slot (slot = page * T + offset in the page).
__device__ __forceinline__ void kv_put_f16(uint8_t* __restrict__ pool, size_t page_bytes, size_t v_off, int T,
                                           int hd, int32_t slot, int h, int d, float kv_k, float kv_v) {
    const int64_t page = slot / T;
    const int off = slot % T;
    const int64_t e = (static_cast<int64_t>(h) * T + off) * hd + d;
    reinterpret_cast<__half*>(pool + page * page_bytes)[e] = __float2half_rn(kv_k);
    reinterpret_cast<__half*>(pool + page * page_bytes + v_off)[e] = __float2half_rn(kv_v);
}

static __global__ void kv_append_kernel(const float* __restrict__ k, const float* __restrict__ v,
                                        const int32_t* __restrict__ slots, int64_t n, int n_kv, int hd, int T,
                                        size_t page_bytes, size_t v_off, uint8_t* __restrict__ pool) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // (tok, head, dim)
    if (i >= n) return;
    const int d = static_cast<int>(i % hd);
    const int h = static_cast<int>(i / hd % n_kv);
    const int64_t tok = i / hd / n_kv;
    kv_put_f16(pool, page_bytes, v_off, T, hd, slots[tok], h, d, k[i], v[i]);
}

Status kv_append_f16(const float* k, const float* v, const int32_t* slots, int64_t n_tok, int n_kv_heads,
                     int head_dim, int page_tokens, size_t page_bytes, uint8_t* pool, cudaStream_t stream) {
    const kv_page::PageLayout lay = kv_page::page_layout(Codec::fp16, n_kv_heads, head_dim, page_tokens);
    if (n_tok <= 0 || n_kv_heads <= 0 || head_dim <= 0 || page_tokens <= 0 || page_bytes < lay.bytes)
        return bad_arg("kv_append_f16", "bad shape or page size");
    const int64_t n = n_tok * n_kv_heads * head_dim;
    kv_append_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(k, v, slots, n, n_kv_heads, head_dim, page_tokens,
                                                           page_bytes, lay.v_codes, pool);
    return launch_status("kv_append_f16");
}

// kv_append_kernel for one token fused with rope_kernel on its queries (in place): thread i appends element
// i of K and V (i < n_kv * hd) and rotates query pair i (i < n_heads * hd / 2).
static __global__ void kv_append_rope_q_kernel(const float* __restrict__ k, const float* __restrict__ v,
                                               const int32_t* __restrict__ slot_p,
                                               const int32_t* __restrict__ pos_p, int n_kv, int n_heads,
                                               int hd, int T, size_t page_bytes, size_t v_off,
                                               uint8_t* __restrict__ pool, float* __restrict__ q,
                                               const float* __restrict__ inv_freq) {
    pdl_launch_dependents();
    pdl_wait();
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n_kv * hd) kv_put_f16(pool, page_bytes, v_off, T, hd, *slot_p, i / hd, i % hd, k[i], v[i]);
    const int half = hd / 2;
    if (i < n_heads * half) {
        float c, s;
        rope_cos_sin(*pos_p, inv_freq[i % half], c, s);
        const float x0 = q[2 * i], x1 = q[2 * i + 1];
        q[2 * i] = x0 * c - x1 * s;
        q[2 * i + 1] = x0 * s + x1 * c;
    }
}

Status kv_append_f16_rope_q(const float* k, const float* v, const int32_t* slot, const int32_t* pos,
                            int n_kv_heads, int n_heads, int head_dim, int page_tokens, size_t page_bytes,
                            uint8_t* pool, float* q, const float* inv_freq, cudaStream_t stream, bool pdl) {
    const kv_page::PageLayout lay = kv_page::page_layout(Codec::fp16, n_kv_heads, head_dim, page_tokens);
    if (n_kv_heads <= 0 || n_heads <= 0 || head_dim <= 0 || head_dim % 2 || page_tokens <= 0 ||
        page_bytes < lay.bytes || !inv_freq)
        return bad_arg("kv_append_f16_rope_q", "bad shape or page size");
    const int n = std::max(n_kv_heads * head_dim, n_heads * head_dim / 2);
    return cuda_status(launch_kernel(kv_append_rope_q_kernel, dim3(ceil_div(n, 256)), dim3(256), 0, stream,
                                     pdl, k, v, slot, pos, n_kv_heads, n_heads, head_dim, page_tokens,
                                     page_bytes, lay.v_codes, pool, q, inv_freq),
                       "kv_append_f16_rope_q", "launch");
}

static __global__ void kv_gather_kernel(const uint8_t* __restrict__ pool, size_t page_bytes, size_t v_off,
                                        int T, const int32_t* __restrict__ page_ids,
                                        const int32_t* __restrict__ page_pos, int64_t n, int n_kv, int hd,
                                        const float* __restrict__ inv_freq, __half* __restrict__ k_out,
                                        __half* __restrict__ v_out) {
    const int half = hd / 2;
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // (tok, head, pair)
    if (i >= n) return;
    const int pr = static_cast<int>(i % half);
    const int h = static_cast<int>(i / half % n_kv);
    const int64_t tok = i / half / n_kv;
    const int64_t pi = tok / T;
    const int off = static_cast<int>(tok % T);
    const uint8_t* page = pool + static_cast<int64_t>(page_ids[pi]) * page_bytes;
    const int64_t e = (static_cast<int64_t>(h) * T + off) * hd + 2 * pr;
    const float2 kk = __half22float2(*reinterpret_cast<const __half2*>(page + e * 2));
    float c, s;
    rope_cos_sin(static_cast<int64_t>(page_pos[pi]) + off, inv_freq[pr], c, s);
    const int64_t o = (tok * n_kv + h) * hd + 2 * pr;
    *reinterpret_cast<__half2*>(k_out + o) = __floats2half2_rn(kk.x * c - kk.y * s, kk.x * s + kk.y * c);
    *reinterpret_cast<__half2*>(v_out + o) = *reinterpret_cast<const __half2*>(page + v_off + e * 2);
}

Status kv_gather_f16(const uint8_t* pool, size_t page_bytes, int page_tokens, const int32_t* page_ids,
                     const int32_t* page_pos, int64_t n_tok, int n_kv_heads, int head_dim,
                     const float* inv_freq, __half* k_out, __half* v_out, cudaStream_t stream) {
    const kv_page::PageLayout lay = kv_page::page_layout(Codec::fp16, n_kv_heads, head_dim, page_tokens);
    if (n_tok <= 0 || n_kv_heads <= 0 || head_dim <= 0 || head_dim % 2 || page_tokens <= 0 ||
        page_bytes < lay.bytes)
        return bad_arg("kv_gather_f16", "bad shape or page size");
    const int64_t n = n_tok * n_kv_heads * (head_dim / 2);
    kv_gather_kernel<<<ceil_div(n, 256), 256, 0, stream>>>(pool, page_bytes, lay.v_codes, page_tokens,
                                                           page_ids, page_pos, n, n_kv_heads, head_dim,
                                                           inv_freq, k_out, v_out);
    return launch_status("kv_gather_f16");
}

static __device__ __forceinline__ uint32_t hash32(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return static_cast<uint32_t>(x ^ (x >> 31));
}
static __device__ __forceinline__ float unit(uint32_t h) {
    return (h >> 8) * (1.0f / 16777216.0f);
}

static __global__ void kv_fill_kernel(Codec f, kv_page::PageLayout lay, size_t page_bytes, int64_t n_words,
                                      uint64_t seed, uint8_t* pool) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // 4-byte word
    if (i >= n_words) return;
    const int64_t page = i * 4 / page_bytes;
    const size_t o = i * 4 % page_bytes;
    const uint32_t h = hash32(seed * 0x9E3779B97F4A7C15ull + i);
    uint32_t w = h;
    if (f == Codec::fp16 || o >= lay.k_scales) {
        float a, b;
        if (f == Codec::fp16) {
            a = (unit(h) - 0.5f) * 4.0f;
            b = (unit(hash32(h + 1)) - 0.5f) * 4.0f;
        } else {  // {scale, zero}
            const int bits = kv_page::codec_bits(f);
            a = (0.2f + unit(h)) * 2.0f / ((1 << bits) - 1);
            b = -(0.2f + unit(hash32(h + 1)));
        }
        const __half2 hv = __floats2half2_rn(a, b);
        w = *reinterpret_cast<const uint32_t*>(&hv);
    }
    reinterpret_cast<uint32_t*>(pool + page * page_bytes)[o / 4] = w;
}

Status kv_fill_random(Codec codec, int page_tokens, int n_kv_heads, int head_dim, size_t page_bytes,
                      int64_t n_pages, uint64_t seed, uint8_t* pool, cudaStream_t stream) {
    const kv_page::PageLayout lay = kv_page::page_layout(codec, n_kv_heads, head_dim, page_tokens);
    if (n_pages <= 0 || page_bytes < lay.bytes || page_bytes % 4)
        return bad_arg("kv_fill_random", "bad shape");
    const int64_t n_words = n_pages * static_cast<int64_t>(page_bytes / 4);
    kv_fill_kernel<<<ceil_div(n_words, 256), 256, 0, stream>>>(codec, lay, page_bytes, n_words, seed, pool);
    return launch_status("kv_fill_random");
}

}  // namespace docket::cuda

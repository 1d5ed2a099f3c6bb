#include <algorithm>
#include <string>

#include "common.cuh"
#include "gemv_xq.cuh"
#include "mma.cuh"
#include "quant_blocks.cuh"
#include "xq_format.cuh"

namespace docket::cuda {

size_t gemv_xq_bytes(int64_t n_in) {
    return static_cast<size_t>(n_in) * 2 + static_cast<size_t>(n_in / kXqBlock) * 8;
}

bool gemv_xq_supported(GgmlType t) {
    return t == GgmlType::Q4_K || t == GgmlType::Q6_K || t == GgmlType::Q8_0 || t == GgmlType::Q4_0 ||
           t == GgmlType::Q4_1;
}

// Quantizes one 16-element block b of x (already in registers) into the xq arrays.
__device__ __forceinline__ void quantize_block16(const float (&v)[kXqBlock], int b, int8_t* __restrict__ hi,
                                                 int8_t* __restrict__ lo, float* __restrict__ scale,
                                                 float* __restrict__ sum) {
    float amax = 0.0f, s = 0.0f;
#pragma unroll
    for (int i = 0; i < kXqBlock; ++i) amax = fmaxf(amax, fabsf(v[i])), s += v[i];
    const float sc = amax / kXqMax, inv = amax > 0.0f ? kXqMax / amax : 0.0f;
    alignas(16) int8_t h[kXqBlock], l[kXqBlock];
#pragma unroll
    for (int i = 0; i < kXqBlock; ++i) {
        const int X = __float2int_rn(v[i] * inv);
        const int hh = (X + 128) >> 8;
        h[i] = static_cast<int8_t>(hh);
        l[i] = static_cast<int8_t>(X - 256 * hh);
    }
    *reinterpret_cast<int4*>(hi + static_cast<int64_t>(b) * kXqBlock) = *reinterpret_cast<const int4*>(h);
    *reinterpret_cast<int4*>(lo + static_cast<int64_t>(b) * kXqBlock) = *reinterpret_cast<const int4*>(l);
    scale[b] = sc;
    sum[b] = s;
}

__device__ __forceinline__ void load16(const float* __restrict__ p, float (&v)[kXqBlock]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float4 f = reinterpret_cast<const float4*>(p)[i];
        v[4 * i] = f.x, v[4 * i + 1] = f.y, v[4 * i + 2] = f.z, v[4 * i + 3] = f.w;
    }
}

// One thread per 16-element block.
static __global__ void quantize_x_kernel(const float* __restrict__ x, int n_blocks, int8_t* __restrict__ hi,
                                         int8_t* __restrict__ lo, float* __restrict__ scale,
                                         float* __restrict__ sum) {
    pdl_launch_dependents();
    pdl_wait();
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n_blocks) return;
    float v[kXqBlock];
    load16(x + static_cast<int64_t>(b) * kXqBlock, v);
    quantize_block16(v, b, hi, lo, scale, sum);
}

// RMSNorm of one row fused with the quantization (one block; thread i owns 16-element blocks i, i + blockDim,
// ...). Same arithmetic as rmsnorm_kernel: x * rsqrt(mean(x^2) + eps) * w.
static __global__ void rmsnorm_xq_kernel(const float* __restrict__ x, const float* __restrict__ w, int dim,
                                         float eps, int8_t* __restrict__ hi, int8_t* __restrict__ lo,
                                         float* __restrict__ scale, float* __restrict__ sum) {
    pdl_launch_dependents();
    pdl_wait();
    const int nb = dim / kXqBlock;
    float ss = 0.0f;
    for (int b = threadIdx.x; b < nb; b += blockDim.x) {
        float v[kXqBlock];
        load16(x + static_cast<int64_t>(b) * kXqBlock, v);
#pragma unroll
        for (int i = 0; i < kXqBlock; ++i) ss += v[i] * v[i];
    }
    const float r = rsqrtf(block_sum(ss) / dim + eps);
    for (int b = threadIdx.x; b < nb; b += blockDim.x) {
        float v[kXqBlock], wv[kXqBlock];
        load16(x + static_cast<int64_t>(b) * kXqBlock, v);
        load16(w + static_cast<int64_t>(b) * kXqBlock, wv);
#pragma unroll
        for (int i = 0; i < kXqBlock; ++i) v[i] = v[i] * r * wv[i];
        quantize_block16(v, b, hi, lo, scale, sum);
    }
}

// silu(gate) * up fused with the quantization; one thread per 16-element block.
static __global__ void swiglu_xq_kernel(const float* __restrict__ gate, const float* __restrict__ up,
                                        int n_blocks, int8_t* __restrict__ hi, int8_t* __restrict__ lo,
                                        float* __restrict__ scale, float* __restrict__ sum) {
    pdl_launch_dependents();
    pdl_wait();
    const int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= n_blocks) return;
    float g[kXqBlock], u[kXqBlock];
    load16(gate + static_cast<int64_t>(b) * kXqBlock, g);
    load16(up + static_cast<int64_t>(b) * kXqBlock, u);
#pragma unroll
    for (int i = 0; i < kXqBlock; ++i) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    quantize_block16(g, b, hi, lo, scale, sum);
}

namespace {
struct XqOut {
    int8_t *hi, *lo;
    float *scale, *sum;
};
XqOut xq_parts(void* xq, int64_t n_in) {
    auto* base = static_cast<int8_t*>(xq);
    auto* sc = reinterpret_cast<float*>(base + 2 * n_in);
    return {base, base + n_in, sc, sc + n_in / kXqBlock};
}
Status check_xq_args(const char* op, int64_t n, const void* a, const void* b, const void* xq) {
    if (n <= 0 || n % 32 != 0 || n > (1 << 30)) return bad_arg(op, "length must be k*32");
    if (reinterpret_cast<uintptr_t>(a) % 16 || reinterpret_cast<uintptr_t>(b) % 16 ||
        reinterpret_cast<uintptr_t>(xq) % 16)
        return bad_arg(op, "inputs and xq must be 16-byte aligned");
    return Status::ok();
}
}  // namespace

Status quantize_x(const float* x, int64_t n_in, void* xq, cudaStream_t stream, bool pdl) {
    DK_TRY(check_xq_args("quantize_x", n_in, x, x, xq));
    const XqOut o = xq_parts(xq, n_in);
    const int nb = static_cast<int>(n_in / kXqBlock);
    return cuda_status(launch_kernel(quantize_x_kernel, dim3(ceil_div(nb, 128)), dim3(128), 0, stream, pdl, x,
                                     nb, o.hi, o.lo, o.scale, o.sum),
                       "quantize_x", "launch");
}

Status rmsnorm_quantize_x(const float* x, const float* w, int64_t dim, float eps, void* xq,
                          cudaStream_t stream, bool pdl) {
    DK_TRY(check_xq_args("rmsnorm_quantize_x", dim, x, w, xq));
    if (!(eps > 0.0f)) return bad_arg("rmsnorm_quantize_x", "eps must be > 0");
    const XqOut o = xq_parts(xq, dim);
    const int nb = static_cast<int>(dim / kXqBlock);
    const int threads = std::min(1024, (nb + 31) / 32 * 32);
    return cuda_status(launch_kernel(rmsnorm_xq_kernel, dim3(1), dim3(threads), 0, stream, pdl, x, w,
                                     static_cast<int>(dim), eps, o.hi, o.lo, o.scale, o.sum),
                       "rmsnorm_quantize_x", "launch");
}

Status swiglu_quantize_x(const float* gate, const float* up, int64_t n, void* xq, cudaStream_t stream,
                         bool pdl) {
    DK_TRY(check_xq_args("swiglu_quantize_x", n, gate, up, xq));
    const XqOut o = xq_parts(xq, n);
    const int nb = static_cast<int>(n / kXqBlock);
    return cuda_status(launch_kernel(swiglu_xq_kernel, dim3(ceil_div(nb, 128)), dim3(128), 0, stream, pdl,
                                     gate, up, nb, o.hi, o.lo, o.scale, o.sum),
                       "swiglu_quantize_x", "launch");
}

__device__ __forceinline__ uint32_t ld32_2(const uint8_t* p) {  // 4 bytes at a 2-byte-aligned address
    const uint16_t* q = reinterpret_cast<const uint16_t*>(p);
    return static_cast<uint32_t>(q[0]) | (static_cast<uint32_t>(q[1]) << 16);
}
__device__ __forceinline__ uint32_t byte_of(uint32_t w, int i) {
    return (w >> (8 * i)) & 0xffu;
}

// Group g of a row as integer codes: c[0..3] hold 16 codes (one per byte) for elements base0..base0+15,
// c[4..7] for base1..base1+15; element value = d_h * code + m_h for half h.
// S: the row sits in shared memory (plain loads; __ldg is for global memory only).
template <GgmlType T, bool S = false>
__device__ __forceinline__ void int_group(const uint8_t* __restrict__ row, int g, uint32_t c[8], float& d0,
                                          float& m0, float& d1, float& m1, int& base0, int& base1) {
    if constexpr (T == GgmlType::Q4_K) {
        const int blk = g >> 3, k = g & 7, j = k >> 1, h = k & 1;
        const uint8_t* b = row + static_cast<int64_t>(blk) * 144;
        const uint4* ph = reinterpret_cast<const uint4*>(b);
        const uint4* pu = reinterpret_cast<const uint4*>(b + 16 + 32 * j + 16 * h);
        const uint4 hd = S ? *ph : __ldg(ph), u = S ? *pu : __ldg(pu);
        const float d = __half2float(__ushort_as_half(static_cast<uint16_t>(hd.x & 0xffff)));
        const float dmin = __half2float(__ushort_as_half(static_cast<uint16_t>(hd.x >> 16)));
        int s0, mm0, s1, mm1;
        if (j < 2) {  // sub-blocks 2j, 2j+1 < 4: low 6 bits of scales[i], scales[i+4]
            s0 = byte_of(hd.y, 2 * j) & 63, mm0 = byte_of(hd.z, 2 * j) & 63;
            s1 = byte_of(hd.y, 2 * j + 1) & 63, mm1 = byte_of(hd.z, 2 * j + 1) & 63;
        } else {  // i >= 4: low nibble/high nibble of scales[i+4], top bits of scales[i-4] / scales[i]
            const int i0 = 2 * j - 4, i1 = 2 * j - 3;
            s0 = (byte_of(hd.w, i0) & 0xf) | ((byte_of(hd.y, i0) >> 6) << 4);
            mm0 = (byte_of(hd.w, i0) >> 4) | ((byte_of(hd.z, i0) >> 6) << 4);
            s1 = (byte_of(hd.w, i1) & 0xf) | ((byte_of(hd.y, i1) >> 6) << 4);
            mm1 = (byte_of(hd.w, i1) >> 4) | ((byte_of(hd.z, i1) >> 6) << 4);
        }
        d0 = d * s0, m0 = -dmin * mm0, d1 = d * s1, m1 = -dmin * mm1;
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) c[i] = w[i] & 0x0F0F0F0Fu, c[4 + i] = (w[i] >> 4) & 0x0F0F0F0Fu;
        base0 = 256 * blk + 64 * j + 16 * h;
        base1 = base0 + 32;
    } else if constexpr (T == GgmlType::Q4_0 || T == GgmlType::Q4_1) {
        constexpr int B = T == GgmlType::Q4_0 ? 18 : 20;
        const uint8_t* b = row + static_cast<int64_t>(g) * B;
        const uint16_t* p16 = reinterpret_cast<const uint16_t*>(b);
        const float d = __half2float(__ushort_as_half(S ? p16[0] : __ldg(p16)));
        const float m =
            T == GgmlType::Q4_1 ? __half2float(__ushort_as_half(S ? p16[1] : __ldg(p16 + 1))) : -8.0f * d;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t* p32 = reinterpret_cast<const uint32_t*>(b + 4) + i;
            const uint32_t w = T == GgmlType::Q4_1 ? (S ? *p32 : __ldg(p32)) : ld32_2(b + 2 + 4 * i);
            c[i] = w & 0x0F0F0F0Fu, c[4 + i] = (w >> 4) & 0x0F0F0F0Fu;
        }
        d0 = d1 = d, m0 = m1 = m;
        base0 = 32 * g;
        base1 = base0 + 16;
    } else if constexpr (T == GgmlType::Q8_0) {
        const uint8_t* b = row + static_cast<int64_t>(g) * 34;
        const uint16_t* p16 = reinterpret_cast<const uint16_t*>(b);
        d0 = d1 = __half2float(__ushort_as_half(S ? *p16 : __ldg(p16)));
        m0 = m1 = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) c[i] = ld32_2(b + 2 + 4 * i);
        base0 = 32 * g;
        base1 = base0 + 16;
    } else if constexpr (T == GgmlType::Q6_K) {
        const int blk = g >> 3, k = g & 7, n = k >> 2, p = (k >> 1) & 1, l0 = (k & 1) * 16;
        const uint8_t* b = row + static_cast<int64_t>(blk) * 210;
        const uint8_t* ql = b + 64 * n + 32 * p + l0;
        const uint8_t* qh = b + 128 + 32 * n + l0;
        const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
        const float d = __half2float(__ushort_as_half(*reinterpret_cast<const uint16_t*>(b + 208)));
        d0 = d * sc[8 * n + l0 / 16 + 2 * p], d1 = d * sc[8 * n + l0 / 16 + 2 * p + 4];
        m0 = -32.0f * d0, m1 = -32.0f * d1;
        const int shlo = 2 * p, shhi = 2 * p + 4;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t l = ld32_2(ql + 4 * i), hh = ld32_2(qh + 4 * i);
            c[i] = (l & 0x0F0F0F0Fu) | (((hh >> shlo) & 0x03030303u) << 4);
            c[4 + i] = ((l >> 4) & 0x0F0F0F0Fu) | (((hh >> shhi) & 0x03030303u) << 4);
        }
        base0 = 256 * blk + 128 * n + 32 * p + l0;
        base1 = base0 + 64;
    }
}

struct XqMats {
    const uint8_t* w[3];
    float* y[3];
    int n_out[3];
    int set_end[3];  // cumulative row sets (R rows each)
    bool acc[3];
};

// The block's per-thread row sums added up (warps, then across warps in shared memory) into ym[r0 .. r0+nr).
template <int R, int W>
__device__ __forceinline__ void xq_store_rows(const float (&accr)[R], float* ym, int r0, int nr, bool acc,
                                              int lane, int warp) {
    __shared__ float part[W][R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const float v = warp_sum(accr[r]);
        if (lane == 0) part[warp][r] = v;
    }
    __syncthreads();
    if (threadIdx.x < nr) {
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < W; ++w) v += part[w][threadIdx.x];
        float* y = ym + r0 + threadIdx.x;
        *y = acc ? *y + v : v;
    }
}

// Sum over one 16-element half: scale_x * (256 * <c, hi> + <c, lo>).
__device__ __forceinline__ float half_dot(const uint32_t* c, const int4& hi, const int4& lo, float sx) {
    int sh = __dp4a(static_cast<int>(c[0]), hi.x, 0);
    sh = __dp4a(static_cast<int>(c[1]), hi.y, sh);
    sh = __dp4a(static_cast<int>(c[2]), hi.z, sh);
    sh = __dp4a(static_cast<int>(c[3]), hi.w, sh);
    int sl = __dp4a(static_cast<int>(c[0]), lo.x, 0);
    sl = __dp4a(static_cast<int>(c[1]), lo.y, sl);
    sl = __dp4a(static_cast<int>(c[2]), lo.z, sl);
    sl = __dp4a(static_cast<int>(c[3]), lo.w, sl);
    return sx * static_cast<float>(256 * sh + sl);
}

// One block per set of R rows; its W warps split the rows' groups (interleaved: thread t takes groups t,
// t + 32 W, ...) and add up in shared memory. Each load of x serves R rows. U: groups per thread per row
// whose loads are all issued before any is used (U = 1 leaves the overlap to the compiler; 2 makes it
// explicit). MINB > 0 asks ptxas for MINB resident blocks per SM (caps registers). The production configs are
// (R, 4, 1, 0) with R = 2 or 4; the others are Q4_K-only tuning points (see gemv_xq_configs()).
template <GgmlType T, int R, int W, int U>
__device__ __forceinline__ void gemv_xq_block(XqMats m, int n_mats, size_t row_bytes, int n_groups,
                                              const int8_t* __restrict__ xhi, const int8_t* __restrict__ xlo,
                                              const float* __restrict__ xs, const float* __restrict__ xsum) {
    constexpr int kThreads = 32 * W;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int set = blockIdx.x;
    // Matrix of this set, picked with selects (indexing the parameter struct would copy it to local memory).
    const int mi = set < m.set_end[0] ? 0 : (n_mats > 1 && set < m.set_end[1]) ? 1 : 2;
    if (mi >= n_mats) {  // past the last matrix: nothing to read or write
        pdl_launch_dependents();
        pdl_wait();
        return;
    }
    const int first_set = mi == 0 ? 0 : mi == 1 ? m.set_end[0] : m.set_end[1];
    const uint8_t* wm = mi == 0 ? m.w[0] : mi == 1 ? m.w[1] : m.w[2];
    float* ym = mi == 0 ? m.y[0] : mi == 1 ? m.y[1] : m.y[2];
    const int n_out = mi == 0 ? m.n_out[0] : mi == 1 ? m.n_out[1] : m.n_out[2];
    const bool acc = mi == 0 ? m.acc[0] : mi == 1 ? m.acc[1] : m.acc[2];
    const int r0 = R * (set - first_set);
    const int nr = min(R, n_out - r0);
    const uint8_t* rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = wm + static_cast<size_t>(r0 + min(r, nr - 1)) * row_bytes;
    // The block's rows (contiguous, constant) start toward L2 before the dependent-launch wait, so a block
    // that starts while the previous kernel drains has its weights on the way.
    prefetch_l2_range(rows[0], static_cast<size_t>(nr) * row_bytes, threadIdx.x, kThreads);
    pdl_launch_dependents();
    pdl_wait();  // x (and y when accumulating) come from earlier kernels
    float accr[R];
#pragma unroll
    for (int r = 0; r < R; ++r) accr[r] = 0.0f;
    if constexpr (U == 1) {  // the production loop, as tuned before the sweep
#pragma unroll 2
        for (int g = threadIdx.x; g < n_groups; g += kThreads) {
            uint32_t c[R][8];
            float d0[R], m0[R], d1[R], m1[R];
            int base0, base1;
#pragma unroll
            for (int r = 0; r < R; ++r)
                int_group<T>(rows[r], g, c[r], d0[r], m0[r], d1[r], m1[r], base0, base1);
            const int4 h0 = __ldg(reinterpret_cast<const int4*>(xhi + base0));
            const int4 l0 = __ldg(reinterpret_cast<const int4*>(xlo + base0));
            const int4 h1 = __ldg(reinterpret_cast<const int4*>(xhi + base1));
            const int4 l1 = __ldg(reinterpret_cast<const int4*>(xlo + base1));
            const float s0 = __ldg(xs + base0 / kXqBlock), s1 = __ldg(xs + base1 / kXqBlock);
            const float u0 = __ldg(xsum + base0 / kXqBlock), u1 = __ldg(xsum + base1 / kXqBlock);
#pragma unroll
            for (int r = 0; r < R; ++r)
                accr[r] += d0[r] * half_dot(c[r], h0, l0, s0) + m0[r] * u0 +
                           d1[r] * half_dot(c[r] + 4, h1, l1, s1) + m1[r] * u1;
        }
    } else {
        for (int g0 = threadIdx.x; g0 < n_groups; g0 += U * kThreads) {
            uint32_t c[U][R][8];
            float d0[U][R], m0[U][R], d1[U][R], m1[U][R];
            int base0[U], base1[U];
            bool ok[U];
            // All weight loads of the step first, then x, then the arithmetic (groups past the row's end are
            // skipped by predicate, not clamped, so they cost no loads).
#pragma unroll
            for (int u = 0; u < U; ++u) {
                ok[u] = u == 0 || g0 + u * kThreads < n_groups;
                base0[u] = base1[u] = 0;
                if (ok[u]) {
#pragma unroll
                    for (int r = 0; r < R; ++r)
                        int_group<T>(rows[r], g0 + u * kThreads, c[u][r], d0[u][r], m0[u][r], d1[u][r],
                                     m1[u][r], base0[u], base1[u]);
                }
            }
            int4 h0[U], l0[U], h1[U], l1[U];
            float s0[U], s1[U], u0[U], u1[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (ok[u]) {
                    h0[u] = __ldg(reinterpret_cast<const int4*>(xhi + base0[u]));
                    l0[u] = __ldg(reinterpret_cast<const int4*>(xlo + base0[u]));
                    h1[u] = __ldg(reinterpret_cast<const int4*>(xhi + base1[u]));
                    l1[u] = __ldg(reinterpret_cast<const int4*>(xlo + base1[u]));
                    s0[u] = __ldg(xs + base0[u] / kXqBlock), s1[u] = __ldg(xs + base1[u] / kXqBlock);
                    u0[u] = __ldg(xsum + base0[u] / kXqBlock), u1[u] = __ldg(xsum + base1[u] / kXqBlock);
                }
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (ok[u]) {
#pragma unroll
                    for (int r = 0; r < R; ++r)
                        accr[r] += d0[u][r] * half_dot(c[u][r], h0[u], l0[u], s0[u]) + m0[u][r] * u0[u] +
                                   d1[u][r] * half_dot(c[u][r] + 4, h1[u], l1[u], s1[u]) + m1[u][r] * u1[u];
                }
            }
        }
    }
    xq_store_rows<R, W>(accr, ym, r0, nr, acc, lane, warp);
}

// Two kernels because any minBlocks in __launch_bounds__, even 1, changes ptxas's register allocation, so
// the MINB = 0 configs must be declared without it to stay the tuned production code.
#define DK_GEMV_XQ_PARAMS                                                                 \
    XqMats m, int n_mats, size_t row_bytes, int n_groups, const int8_t *__restrict__ xhi, \
        const int8_t *__restrict__ xlo, const float *__restrict__ xs, const float *__restrict__ xsum
template <GgmlType T, int R, int W, int U>
static __global__ void __launch_bounds__(32 * W) gemv_xq_kernel(DK_GEMV_XQ_PARAMS) {
    gemv_xq_block<T, R, W, U>(m, n_mats, row_bytes, n_groups, xhi, xlo, xs, xsum);
}
template <GgmlType T, int R, int W, int U, int MINB>
static __global__ void __launch_bounds__(32 * W, MINB) gemv_xq_kernel_minb(DK_GEMV_XQ_PARAMS) {
    gemv_xq_block<T, R, W, U>(m, n_mats, row_bytes, n_groups, xhi, xlo, xs, xsum);
}
#undef DK_GEMV_XQ_PARAMS

// Rows staged in shared memory: a block copies its R rows (contiguous, constant) with 16-byte cp.async
// before the dependent-launch wait, so the weight reads start while the previous kernel drains and are not
// held in registers (the register-loading kernel keeps ~64-72 KB of reads in flight per SM, about what the
// H100 needs at loaded latency). Then the W warps split each row's groups as above, rows one after another
// per group so that a load of x serves all R rows. Dynamic shared memory: R * row_bytes + 16.
template <GgmlType T, int R, int W>
static __global__ void __launch_bounds__(32 * W)
    gemv_xq_staged_kernel(XqMats m, int n_mats, size_t row_bytes, int n_groups,
                          const int8_t* __restrict__ xhi, const int8_t* __restrict__ xlo,
                          const float* __restrict__ xs, const float* __restrict__ xsum) {
    extern __shared__ __align__(16) uint8_t gx_rows[];
    constexpr int kThreads = 32 * W;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int set = blockIdx.x;
    const int mi = set < m.set_end[0] ? 0 : (n_mats > 1 && set < m.set_end[1]) ? 1 : 2;
    if (mi >= n_mats) {  // past the last matrix: nothing to read or write
        pdl_launch_dependents();
        pdl_wait();
        return;
    }
    const int first_set = mi == 0 ? 0 : mi == 1 ? m.set_end[0] : m.set_end[1];
    const uint8_t* wm = mi == 0 ? m.w[0] : mi == 1 ? m.w[1] : m.w[2];
    float* ym = mi == 0 ? m.y[0] : mi == 1 ? m.y[1] : m.y[2];
    const int n_out = mi == 0 ? m.n_out[0] : mi == 1 ? m.n_out[1] : m.n_out[2];
    const bool acc = mi == 0 ? m.acc[0] : mi == 1 ? m.acc[1] : m.acc[2];
    const int r0 = R * (set - first_set);
    const int nr = min(R, n_out - r0);
    // Copy [src, src + bytes) from its 16-byte-aligned start (rows of 20- or 34-byte blocks need not be
    // aligned; the bytes before src belong to the previous row); the last chunk reads only what is left.
    const uint8_t* src = wm + static_cast<size_t>(r0) * row_bytes;
    const int head = static_cast<int>(reinterpret_cast<uintptr_t>(src) & 15);
    const uint8_t* src_al = src - head;
    const int total = head + static_cast<int>(static_cast<size_t>(nr) * row_bytes);
    for (int o = threadIdx.x * 16; o < total; o += kThreads * 16)
        cp_async16(gx_rows + o, src_al + o, min(16, total - o));
    cp_async_commit();
    pdl_launch_dependents();
    pdl_wait();  // x (and y when accumulating) come from earlier kernels
    cp_async_wait<0>();
    __syncthreads();
    const uint8_t* rows = gx_rows + head;
    float accr[R];
#pragma unroll
    for (int r = 0; r < R; ++r) accr[r] = 0.0f;
    for (int g = threadIdx.x; g < n_groups; g += kThreads) {
        uint32_t c[8];
        float d0, m0, d1, m1;
        int base0, base1;
        int_group<T, true>(rows, g, c, d0, m0, d1, m1, base0, base1);  // row 0 also gives the x offsets
        const int4 h0 = __ldg(reinterpret_cast<const int4*>(xhi + base0));
        const int4 l0 = __ldg(reinterpret_cast<const int4*>(xlo + base0));
        const int4 h1 = __ldg(reinterpret_cast<const int4*>(xhi + base1));
        const int4 l1 = __ldg(reinterpret_cast<const int4*>(xlo + base1));
        const float s0 = __ldg(xs + base0 / kXqBlock), s1 = __ldg(xs + base1 / kXqBlock);
        const float u0 = __ldg(xsum + base0 / kXqBlock), u1 = __ldg(xsum + base1 / kXqBlock);
        accr[0] += d0 * half_dot(c, h0, l0, s0) + m0 * u0 + d1 * half_dot(c + 4, h1, l1, s1) + m1 * u1;
#pragma unroll
        for (int r = 1; r < R; ++r) {
            if (r >= nr) break;
            int_group<T, true>(rows + r * row_bytes, g, c, d0, m0, d1, m1, base0, base1);
            accr[r] += d0 * half_dot(c, h0, l0, s0) + m0 * u0 + d1 * half_dot(c + 4, h1, l1, s1) + m1 * u1;
        }
    }
    xq_store_rows<R, W>(accr, ym, r0, nr, acc, lane, warp);
}

template <GgmlType T, int R, int W, int U, int MINB>
constexpr auto gemv_xq_kernel_ptr() {
    if constexpr (MINB > 0)
        return gemv_xq_kernel_minb<T, R, W, U, MINB>;
    else
        return gemv_xq_kernel<T, R, W, U>;
}

namespace {
using GemvXqFn = void (*)(XqMats, int, size_t, int, const int8_t*, const int8_t*, const float*, const float*);
constexpr GgmlType kXqTypes[] = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0,
                                 GgmlType::Q4_1};
constexpr int kNumXqTypes = 5;

// One compiled configuration: its kernel per type of kXqTypes (nullptr where not compiled).
struct GemvXqEntry {
    GemvXqConfig cfg;
    GemvXqFn fn[kNumXqTypes];
};

template <int R, int W, int U, int MB>
constexpr GemvXqEntry all_types() {
    return {
        {R, W, U, MB},
        {gemv_xq_kernel_ptr<GgmlType::Q4_K, R, W, U, MB>(), gemv_xq_kernel_ptr<GgmlType::Q6_K, R, W, U, MB>(),
         gemv_xq_kernel_ptr<GgmlType::Q8_0, R, W, U, MB>(), gemv_xq_kernel_ptr<GgmlType::Q4_0, R, W, U, MB>(),
         gemv_xq_kernel_ptr<GgmlType::Q4_1, R, W, U, MB>()}};
}
template <int R, int W>
constexpr GemvXqEntry all_types_staged() {
    return {{R, W, 1, 0, true},
            {gemv_xq_staged_kernel<GgmlType::Q4_K, R, W>, gemv_xq_staged_kernel<GgmlType::Q6_K, R, W>,
             gemv_xq_staged_kernel<GgmlType::Q8_0, R, W>, gemv_xq_staged_kernel<GgmlType::Q4_0, R, W>,
             gemv_xq_staged_kernel<GgmlType::Q4_1, R, W>}};
}
template <int R, int W>
constexpr GemvXqEntry q4k_staged() {
    return {{R, W, 1, 0, true},
            {gemv_xq_staged_kernel<GgmlType::Q4_K, R, W>, nullptr, nullptr, nullptr, nullptr}};
}
template <int R, int W, int U, int MB>
constexpr GemvXqEntry q4k_only() {
    return {{R, W, U, MB},
            {gemv_xq_kernel_ptr<GgmlType::Q4_K, R, W, U, MB>(), nullptr, nullptr, nullptr, nullptr}};
}

// Compiled for every type: the decode path's choices (the first two) and the register-loading configs the
// decode path used before, kept for `CudaModelOptions::gemv_staged = false` (A/B in bench gpu --compare).
// The rest are Q4_K tuning points for the sweep in bench gpu, all free of spills on sm_90 (registers on
// sm_90 / nvcc 13 in the comments). Measured on the H100 (2026-11-22, RESULTS.md): in the decode graph the
// staged 4-row configs for all four GEMV groups gave +4% tokens/s at context 0 over the register configs
// (the isolated sweep, where small matrices are launch-bound, shows no difference); 8-row staged q|k|v/wo
// or 8-warp gate|up were slower. Dropped after the first sweep as slower everywhere: R 2-4 with 2 groups in
// flight per thread (U = 2: 120-161 registers), 8 warps with U = 2; after the second, a wave of blocks
// striding over the row sets with the next sets prefetched to L2 (slower for every shape).
const GemvXqEntry kEntries[] = {
    all_types_staged<4, 4>(),  // 48: q|k|v, wo, gate|up
    all_types_staged<4, 8>(),  // 48: down
    all_types<2, 4, 1, 0>(),   // 62: q|k|v, wo without staging
    all_types<2, 2, 1, 0>(),   // 62: gate|up without staging (0.56 of HBM vs 0.50 for 4 rows x 4 warps)
    all_types<2, 8, 1, 0>(),   // 58: down without staging (0.38 vs 0.35 for 2 rows x 4 warps)
    all_types<4, 4, 1, 0>(),   // 94
    q4k_only<1, 4, 1, 0>(),    // 40: twice the blocks, a third of the registers
    q4k_only<4, 2, 1, 0>(),    // 94
    q4k_only<1, 2, 2, 0>(),    // 80: 64 threads per row, both groups in flight (n_in 4096: one step)
    q4k_only<1, 4, 2, 0>(),    // 80: n_in 14336 in 2 steps instead of 4
    q4k_only<4, 4, 1, 6>(),    // 80: 6 blocks per SM instead of 5
    q4k_staged<8, 4>(),        // 56
    q4k_staged<8, 2>(),        // 56
};

int type_index(GgmlType t) {
    for (int i = 0; i < kNumXqTypes; ++i)
        if (kXqTypes[i] == t) return i;
    return -1;
}

bool same_config(const GemvXqConfig& a, const GemvXqConfig& b) {
    return a.rows == b.rows && a.warps == b.warps && a.unroll == b.unroll && a.min_blocks == b.min_blocks &&
           a.staged == b.staged;
}

// The kernel of `cfg` for `type`, or nullptr when that pair is not compiled.
GemvXqFn find_kernel(GgmlType type, const GemvXqConfig& cfg) {
    const int ti = type_index(type);
    if (ti < 0) return nullptr;
    for (const GemvXqEntry& e : kEntries)
        if (same_config(e.cfg, cfg)) return e.fn[ti];
    return nullptr;
}

std::string config_name(const GemvXqConfig& c) {
    return "rows " + std::to_string(c.rows) + " warps " + std::to_string(c.warps) + " unroll " +
           std::to_string(c.unroll) + " min_blocks " + std::to_string(c.min_blocks) +
           (c.staged ? " staged" : "");
}
}  // namespace

GemvXqConfig gemv_xq_decode_config(int n_mats, int64_t n_in, bool staged) {
    GemvXqConfig c;
    if (staged) {  // rows staged in shared memory: 4 rows; 8 warps for the long rows of down, else 4
        c.rows = 4;
        c.warps = n_mats == 1 && n_in >= 8192 ? 8 : 4;
        c.staged = true;
        return c;
    }
    // Register loads: 2 rows per block; 2 warps for gate|up (0.56 of HBM), 8 for the long rows of down
    // (0.38), 4 for q|k|v and wo.
    c.rows = 2;
    c.warps = n_mats == 2 ? 2 : n_in >= 8192 ? 8 : 4;
    return c;
}

std::vector<GemvXqConfigInfo> gemv_xq_configs() {
    std::vector<GemvXqConfigInfo> out;
    for (const GemvXqEntry& e : kEntries) {
        bool all = true;
        for (GemvXqFn f : e.fn) all = all && f != nullptr;
        out.push_back({e.cfg, all});
    }
    return out;
}

Status gemv_xq(GgmlType type, const GemvXqMat* mats, int n_mats, int64_t n_in, const void* xq,
               cudaStream_t stream, GemvXqConfig cfg, bool pdl) {
    const char* op = "gemv_xq";
    if (!gemv_xq_supported(type))
        return bad_arg(op, std::string("no integer path for ") + gpu_weight_name(type));
    if (n_mats < 1 || n_mats > 3) return bad_arg(op, "1..3 matrices per launch");
    if (reinterpret_cast<uintptr_t>(xq) % 16) return bad_arg(op, "xq must be 16-byte aligned");
    const GemvXqFn fn = find_kernel(type, cfg);
    if (!fn) return bad_arg(op, config_name(cfg) + " is not compiled for " + gpu_weight_name(type));
    const int R = cfg.rows;
    XqMats m{};
    int sets = 0;
    for (int i = 0; i < n_mats; ++i) {
        if (auto e = check_weight_shape(type, n_in, mats[i].n_out); !e.empty()) return bad_arg(op, e);
        if (!mats[i].w || !mats[i].y) return bad_arg(op, "null matrix or output");
        if (reinterpret_cast<uintptr_t>(mats[i].w) % 16)
            return bad_arg(op, "weights must be 16-byte aligned");
        m.w[i] = static_cast<const uint8_t*>(mats[i].w);
        m.y[i] = mats[i].y;
        m.n_out[i] = static_cast<int>(mats[i].n_out);
        m.acc[i] = mats[i].accumulate;
        sets += static_cast<int>((mats[i].n_out + R - 1) / R);
        m.set_end[i] = sets;
    }
    const size_t row_bytes = gpu_row_bytes(type, n_in);
    const int n_groups = static_cast<int>(n_in / kGroup);
    const auto* base = static_cast<const int8_t*>(xq);
    const auto* xs = reinterpret_cast<const float*>(base + 2 * n_in);
    const float* xsum = xs + n_in / kXqBlock;
    size_t smem = 0;
    if (cfg.staged) {
        smem = static_cast<size_t>(R) * row_bytes + 16;
        if (smem > 48 * 1024) {  // opt in; the limit (227 KB less the kernel's static bytes) is checked here
            const cudaError_t e =
                cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
            if (e != cudaSuccess) {
                (void)cudaGetLastError();  // not sticky: later launches must not report it
                return bad_arg(op, config_name(cfg) + ": " + std::to_string(smem) +
                                       " bytes of rows do not fit in shared memory");
            }
        }
    }
    return cuda_status(launch_kernel(fn, dim3(sets), dim3(32 * cfg.warps), smem, stream, pdl, m, n_mats,
                                     row_bytes, n_groups, base, base + n_in, xs, xsum),
                       op, "launch");
}

Result<GemvXqKernelInfo> gemv_xq_kernel_info(GgmlType type, GemvXqConfig cfg) {
    const GemvXqFn fn = find_kernel(type, cfg);
    if (!fn)
        return bad_arg("gemv_xq_kernel_info",
                       config_name(cfg) + " is not compiled for " + gpu_weight_name(type));
    cudaFuncAttributes a{};
    DK_TRY(cuda_status(cudaFuncGetAttributes(&a, fn), "gemv_xq_kernel_info", "attributes"));
    GemvXqKernelInfo info;
    info.regs = a.numRegs;
    info.local_bytes = static_cast<int>(a.localSizeBytes);
    DK_TRY(cuda_status(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                           &info.blocks_per_sm, fn, 32 * cfg.warps,
                           cfg.staged ? static_cast<size_t>(cfg.rows) * gpu_row_bytes(type, 4096) + 16 : 0),
                       "gemv_xq_kernel_info", "occupancy"));
    return info;
}

}  // namespace docket::cuda

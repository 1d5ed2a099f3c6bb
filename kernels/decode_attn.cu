#include "decode_attn.cuh"
#include "mma.cuh"
#include "rope_angle.cuh"
#include "xq_format.cuh"

namespace docket::cuda {

constexpr int kDaThreads = 128;
constexpr int kMaxG = 8;    // query heads per KV head
constexpr int kChunk = 64;  // tokens scored per step (a page, or a 64-token slice of a larger page)
// Row stride of the rotation table in float2: 8 past kChunk so the two dim-halves of a warp (pairs 2i, 2i+1)
// fall in opposite bank halves.
constexpr int kRtabStride = kChunk + 8;

template <Codec F, int HD>
struct DaSmem {
    static constexpr int N = kv_page::codec_bits(F);
    static constexpr int k_bytes = kChunk * HD * N / 8;  // codes of one chunk, one head
    static constexpr int ks_bytes = F == Codec::fp16 ? 0 : HD * 4;
    static constexpr int vs_bytes = F == Codec::fp16 ? 0 : kChunk * 4;
    static constexpr int stage = 2 * k_bytes + ks_bytes + vs_bytes;  // K, V, K scales, V scales
    static constexpr int rtab = HD / 2 * kRtabStride * 8;            // cos/sin(b * theta_i), padded rows
    static constexpr int qt = kMaxG * HD * 4;
    static constexpr int sc = kMaxG * kChunk * 4;
    static constexpr int misc = 4 * kMaxG * 4;
    static constexpr size_t bytes = 2 * stage + rtab + qt + sc + misc;
};

static __device__ __forceinline__ void copy_async(uint8_t* dst, const uint8_t* src, int bytes) {
    for (int o = threadIdx.x * 16; o < bytes; o += kDaThreads * 16) cp_async16(dst + o, src + o, 16);
}

template <Codec F, int HD>
static __global__ void __launch_bounds__(kDaThreads)
    decode_attn_kernel(const float* __restrict__ q, PagedKv kv, int n_heads, int G,
                       const float* __restrict__ inv_freq, float scale_log2, int n_splits, int split_base,
                       int total_splits, float* __restrict__ ws) {
    using L = DaSmem<F, HD>;
    constexpr int N = L::N;
    constexpr int HALF = HD / 2;
    extern __shared__ __align__(16) uint8_t da_smem[];
    uint8_t* stage0 = da_smem;
    float2* rtab = reinterpret_cast<float2*>(da_smem + 2 * L::stage);        // [HALF][kRtabStride]
    float* qt = reinterpret_cast<float*>(da_smem + 2 * L::stage + L::rtab);  // [kMaxG][HD]
    float* sc = qt + kMaxG * HD;                                             // [kMaxG][kChunk]
    float* m_run = sc + kMaxG * kChunk;
    float* l_run = m_run + kMaxG;
    float* alpha = l_run + kMaxG;
    pdl_launch_dependents();
    pdl_wait();

    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x;
    const int T = kv.page_tokens;
    const int C = T < kChunk ? T : kChunk;
    const int cpp = T / C;  // chunks per page
    const int pg0 = kv.indptr[b], n_pages = kv.indptr[b + 1] - pg0;
    const int last_len = kv.last_page_len[b];
    const int pps = (n_pages + n_splits - 1) / n_splits;
    const int p_begin = split * pps, p_end = min(n_pages, p_begin + pps);
    const int n_chunks = p_end > p_begin ? (p_end - p_begin) * cpp : 0;

    // Offsets within a chunk are < 64, so the angle is small: float sincos is exact enough here.
    for (int i = tid; i < HALF * kChunk; i += kDaThreads) {
        float c, s;
        sincosf(static_cast<float>(i % kChunk) * inv_freq[i / kChunk], &s, &c);
        rtab[(i / kChunk) * kRtabStride + i % kChunk] = make_float2(c, s);
    }
    if (tid < kMaxG) {
        m_run[tid] = -INFINITY;
        l_run[tid] = 0.0f;
    }

    // Tokens valid in chunk ci (0 for chunks past the sequence end).
    auto chunk_len = [&](int ci) {
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const int in_page = (p == n_pages - 1) ? last_len : T;
        return max(0, min(C, in_page - a * C));
    };
    auto issue = [&](int ci, uint8_t* st) {
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const uint8_t* page = kv.pool + static_cast<size_t>(kv.indices[pg0 + p]) * kv.page_bytes;
        const kv_page::PageLayout lay = kv_page::page_layout(F, kv.n_kv_heads, HD, T);
        const size_t head_codes = static_cast<size_t>(T) * HD * N / 8;
        const uint8_t* kc = page + lay.k_codes + kvh * head_codes;
        const uint8_t* vc = page + lay.v_codes + kvh * head_codes + static_cast<size_t>(a) * C * HD * N / 8;
        if (F == Codec::fp16 || C == T) {
            copy_async(st, kc + static_cast<size_t>(a) * C * HD * N / 8, C * HD * N / 8);
        } else {  // K codes are [dim][token]: one 64-token row slice per dim
            const int row = C * N / 8, stride = T * N / 8;
            for (int o = tid * 16; o < HD * row; o += kDaThreads * 16) {
                const int d = o / row, c = o % row;
                cp_async16(st + o, kc + static_cast<size_t>(d) * stride + a * row + c, 16);
            }
        }
        copy_async(st + L::k_bytes, vc, C * HD * N / 8);
        if (F != Codec::fp16) {
            copy_async(st + 2 * L::k_bytes, page + lay.k_scales + static_cast<size_t>(kvh) * HD * 4, HD * 4);
            copy_async(st + 2 * L::k_bytes + L::ks_bytes,
                       page + lay.v_scales + (static_cast<size_t>(kvh) * T + a * C) * 4, C * 4);
        }
    };

    const int n_sub = kDaThreads / HALF;                  // head subsets in the V phase
    constexpr int kHeadsPer = kMaxG * HALF / kDaThreads;  // heads per thread in the V phase
    float o[kHeadsPer][2];
#pragma unroll
    for (int k = 0; k < kHeadsPer; ++k) o[k][0] = o[k][1] = 0.0f;
    const int vi = tid % HALF, vsub = tid / HALF;

    if (n_chunks > 0) issue(0, stage0);
    cp_async_commit();
    for (int ci = 0; ci < n_chunks; ++ci) {
        uint8_t* st = stage0 + (ci & 1) * L::stage;
        if (ci + 1 < n_chunks) issue(ci + 1, stage0 + ((ci + 1) & 1) * L::stage);
        cp_async_commit();
        cp_async_wait<1>();
        const int len = chunk_len(ci);
        // Phase 0: q~ = R(-(page_pos + a*C)) q for this chunk's base position.
        {
            const int p = p_begin + ci / cpp, a = ci % cpp;
            const int64_t pos0 = static_cast<int64_t>(kv.page_pos[pg0 + p]) + a * C;
            for (int pr = tid; pr < HALF; pr += kDaThreads) {
                float c, s;
                rope_cos_sin(pos0, inv_freq[pr], c, s);
                for (int g = 0; g < G; ++g) {
                    const float2 qq = *reinterpret_cast<const float2*>(
                        q + (static_cast<int64_t>(b) * n_heads + kvh * G + g) * HD + 2 * pr);
                    qt[g * HD + 2 * pr] = qq.x * c + qq.y * s;
                    qt[g * HD + 2 * pr + 1] = -qq.x * s + qq.y * c;
                }
            }
        }
        __syncthreads();
        // Phase 1: scores. Thread (token tb, half hf) covers half of the dims for every head of the group.
        {
            const int tb = tid >> 1, hf = tid & 1;
            float acc[kMaxG];
#pragma unroll
            for (int g = 0; g < kMaxG; ++g) acc[g] = 0.0f;
            if (tb < len) {
                const uint8_t* kcodes = st;
                const __half2* ks = reinterpret_cast<const __half2*>(st + 2 * L::k_bytes);
                // The two threads of a token take alternate pairs, so a warp's two halves read adjacent
                // words of qt and opposite bank halves of rtab (no conflicts).
#pragma unroll 4
                for (int pr = hf; pr < HALF; pr += 2) {
                    float k0, k1;
                    if constexpr (F == Codec::fp16) {
                        const float2 kk =
                            __half22float2(reinterpret_cast<const __half2*>(kcodes)[(tb * HD) / 2 + pr]);
                        k0 = kk.x;
                        k1 = kk.y;
                    } else {
                        constexpr int mask = (1 << N) - 1;
                        const int row = C * N / 8;
                        const int c0 = (kcodes[(2 * pr) * row + (tb * N) / 8] >> ((tb * N) % 8)) & mask;
                        const int c1 = (kcodes[(2 * pr + 1) * row + (tb * N) / 8] >> ((tb * N) % 8)) & mask;
                        const float2 s0 = __half22float2(ks[2 * pr]), s1 = __half22float2(ks[2 * pr + 1]);
                        k0 = fmaf(s0.x, static_cast<float>(c0), s0.y);
                        k1 = fmaf(s1.x, static_cast<float>(c1), s1.y);
                    }
                    const float2 cs = rtab[pr * kRtabStride + tb];
                    const float r0 = k0 * cs.x - k1 * cs.y, r1 = k0 * cs.y + k1 * cs.x;
#pragma unroll
                    for (int g = 0; g < kMaxG; ++g)
                        if (g < G)
                            acc[g] = fmaf(qt[g * HD + 2 * pr], r0, fmaf(qt[g * HD + 2 * pr + 1], r1, acc[g]));
                }
            }
#pragma unroll
            for (int g = 0; g < kMaxG; ++g) acc[g] += __shfl_xor_sync(0xffffffffu, acc[g], 1);
            if (hf == 0 && tb < kChunk) {
#pragma unroll
                for (int g = 0; g < kMaxG; ++g)
                    if (g < G) sc[g * kChunk + tb] = tb < len ? acc[g] * scale_log2 : -INFINITY;
            }
        }
        __syncthreads();
        // Phase 2: online softmax update, one warp per head.
        for (int g = tid >> 5; g < G; g += kDaThreads / 32) {
            const int lane = tid & 31;
            const float x0 = sc[g * kChunk + lane], x1 = sc[g * kChunk + lane + 32];
            const float mc = warp_max(fmaxf(x0, x1));
            const float mo = m_run[g];
            const float mn = fmaxf(mo, mc);
            const float base = mn == -INFINITY ? 0.0f : mn;
            const float p0 = exp2f(x0 - base), p1 = exp2f(x1 - base);
            sc[g * kChunk + lane] = p0;
            sc[g * kChunk + lane + 32] = p1;
            const float ls = warp_sum(p0 + p1);
            __syncwarp();
            if (lane == 0) {
                const float al = exp2f(mo - base);
                alpha[g] = al;
                l_run[g] = l_run[g] * al + ls;
                m_run[g] = mn;
            }
        }
        __syncthreads();
        // Phase 3: O += P V. Thread (pair vi, subset vsub) owns dims 2vi, 2vi+1 of heads vsub, vsub+n_sub,
        // ...
        {
            const uint8_t* vcodes = st + L::k_bytes;
            const __half2* vs = reinterpret_cast<const __half2*>(st + 2 * L::k_bytes + L::ks_bytes);
#pragma unroll
            for (int k = 0; k < kHeadsPer; ++k) {
                const int g = vsub + k * n_sub;
                const float al = g < G ? alpha[g] : 0.0f;
                o[k][0] *= al;
                o[k][1] *= al;
            }
            for (int tb = 0; tb < len; ++tb) {
                float v0, v1;
                if constexpr (F == Codec::fp16) {
                    const float2 vv =
                        __half22float2(reinterpret_cast<const __half2*>(vcodes)[(tb * HD) / 2 + vi]);
                    v0 = vv.x;
                    v1 = vv.y;
                } else {
                    constexpr int mask = (1 << N) - 1;
                    const int bit = 2 * vi * N;
                    const int byte = vcodes[tb * (HD * N / 8) + bit / 8] >> (bit % 8);
                    const float2 s = __half22float2(vs[tb]);
                    v0 = fmaf(s.x, static_cast<float>(byte & mask), s.y);
                    v1 = fmaf(s.x,
                              static_cast<float>((N == 8 ? vcodes[tb * HD + 2 * vi + 1] : byte >> N) & mask),
                              s.y);
                }
#pragma unroll
                for (int k = 0; k < kHeadsPer; ++k) {
                    const int g = vsub + k * n_sub;
                    if (g < G) {
                        const float p = sc[g * kChunk + tb];
                        o[k][0] = fmaf(p, v0, o[k][0]);
                        o[k][1] = fmaf(p, v1, o[k][1]);
                    }
                }
            }
        }
        __syncthreads();
    }
    cp_async_wait<0>();

    // Partial results: ws layout [batch][n_heads][total_splits][HD + 2] = (o unnormalized..., m, l).
    const int sg = split_base + split;
#pragma unroll
    for (int k = 0; k < kHeadsPer; ++k) {
        const int g = vsub + k * n_sub;
        if (g < G) {
            float* w =
                ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + g) * total_splits + sg) * (HD + 2);
            w[2 * vi] = o[k][0];
            w[2 * vi + 1] = o[k][1];
        }
    }
    if (tid < G) {
        float* w = ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + tid) * total_splits + sg) * (HD + 2);
        w[HD] = m_run[tid];
        w[HD + 1] = l_run[tid];
    }
}

#include "decode_attn_mma.cuh"
#include "decode_attn_warp.cuh"

// out[b][h][d] = sum_s o_s[d] 2^(m_s - M) / sum_s l_s 2^(m_s - M); one thread per d (blockDim = hd). With
// xhi (batch 1), out is also written in the decode GEMV's activation format.
static __global__ void decode_combine_kernel(const float* __restrict__ ws, int total_splits, int hd,
                                             float* __restrict__ out, int8_t* __restrict__ xhi,
                                             int8_t* __restrict__ xlo, float* __restrict__ xs,
                                             float* __restrict__ xsum) {
    pdl_launch_dependents();
    pdl_wait();
    const int h = blockIdx.x, b = blockIdx.y, n_heads = gridDim.x, d = threadIdx.x;
    const float* w = ws + (static_cast<int64_t>(b) * n_heads + h) * total_splits * (hd + 2);
    float M = -INFINITY;
    for (int s = 0; s < total_splits; ++s) M = fmaxf(M, w[s * (hd + 2) + hd]);
    float num = 0.0f, den = 0.0f;
    if (M != -INFINITY) {
        for (int s = 0; s < total_splits; ++s) {
            const float m = w[s * (hd + 2) + hd];
            if (m == -INFINITY) continue;
            const float f = exp2f(m - M);
            num += w[s * (hd + 2) + d] * f;
            den += w[s * (hd + 2) + hd + 1] * f;
        }
    }
    const float v = den > 0.0f ? num / den : 0.0f;
    const int64_t e = (static_cast<int64_t>(b) * n_heads + h) * hd + d;
    out[e] = v;
    if (xhi) quantize_halfwarp16(v, e / kXqBlock, d % kXqBlock, xhi, xlo, xs, xsum);
}

static int choose_splits(const DecodeAttnShape& s, int n_kv_heads) {
    if (s.n_splits > 0) return s.n_splits;
    int sm = 132;
    int dev = 0;
    if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, dev);
    const int want = (3 * sm + s.batch * n_kv_heads - 1) / (s.batch * n_kv_heads);
    return std::max(1, std::min(want, std::max(1, s.max_pages)));
}

size_t decode_attention_workspace(const DecodeAttnShape& s, int n_sources) {
    const int splits = s.n_splits > 0 ? s.n_splits : std::max(1, std::min(528, std::max(1, s.max_pages)));
    return static_cast<size_t>(s.batch) * s.n_heads * splits * n_sources * (s.head_dim + 2);
}

// Whether this device gives a block the warp kernel's shared memory (sm_90: 227 KB; sm_80 163 KB and
// sm_86/89 99 KB do not for every format): where not, quantized pages take the block-per-chunk kernel.
template <Codec F, int HD>
static bool dw_fits_device() {
    static int fits = -1;
    if (fits < 0) {
        int dev = 0, optin = 0;
        fits = cudaGetDevice(&dev) == cudaSuccess &&
                       cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) ==
                           cudaSuccess &&
                       static_cast<size_t>(optin) >= DwSmem<F, HD>::bytes
                   ? 1
                   : 0;
    }
    return fits == 1;
}

// Raises the warp kernel's shared-memory limit once per instantiation.
template <Codec F, int HD>
static Status dw_prepare() {
    static bool attr_set = false;
    if (!attr_set) {
        DK_TRY(cuda_status(
            cudaFuncSetAttribute(decode_attn_warp_kernel<F, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(DwSmem<F, HD>::bytes)),
            "decode_attention", "set shared memory (warp kernel)"));
        attr_set = true;
    }
    return Status::ok();
}

// Resident warp-kernel blocks per SM for format F, 1 if the query fails; 0 where the kernel does not fit.
template <Codec F, int HD>
static int dw_blocks_per_sm() {
    static int n = -1;
    if (n < 0) {
        int r = 0;
        if (!dw_fits_device<F, HD>())
            n = 0;
        else if (dw_prepare<F, HD>().is_ok() &&
                 cudaOccupancyMaxActiveBlocksPerMultiprocessor(&r, decode_attn_warp_kernel<F, HD>,
                                                               DwSmem<F, HD>::threads,
                                                               DwSmem<F, HD>::bytes) == cudaSuccess &&
                 r > 0)
            n = r;
        else
            n = 1;
    }
    return n;
}

template <int HD>
static int dw_blocks_per_sm_fmt(Codec f) {
    switch (f) {
        case Codec::int8:
            return dw_blocks_per_sm<Codec::int8, HD>();
        case Codec::int4:
            return dw_blocks_per_sm<Codec::int4, HD>();
        case Codec::int2:
            return dw_blocks_per_sm<Codec::int2, HD>();
        default:
            return 0;
    }
}

template <Codec F, int HD>
static Status launch_decode(const float* q, const PagedKv& kv, const DecodeAttnShape& s, int G, int n_splits,
                            int split_base, int total_splits, float* ws, cudaStream_t stream) {
    const dim3 grid(n_splits, kv.n_kv_heads, s.batch);
    const float scale_log2 = s.scale * 1.4426950408889634f;
    if constexpr (F != Codec::fp16) {
        if (s.impl == 0 && dw_fits_device<F, HD>()) {
            DK_TRY((dw_prepare<F, HD>()));
            return cuda_status(
                launch_kernel(decode_attn_warp_kernel<F, HD>, grid, dim3(DwSmem<F, HD>::threads),
                              DwSmem<F, HD>::bytes, stream, s.pdl, q, kv, s.n_heads, G, s.inv_freq,
                              scale_log2, n_splits, split_base, total_splits, ws, s.prefetch_next),
                "decode_attention (warp per chunk)", "launch");
        }
    }
    if (s.impl == 0 || s.impl == 2) {
        const size_t smem = DaMmaSmem<F, HD>::bytes;
        static bool attr_set = false;
        if (!attr_set) {
            DK_TRY(cuda_status(
                cudaFuncSetAttribute(decode_attn_mma_kernel<F, HD>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
                "decode_attention", "set shared memory"));
            attr_set = true;
        }
        return cuda_status(
            launch_kernel(decode_attn_mma_kernel<F, HD>, grid, dim3(kDaThreads), smem, stream, s.pdl, q, kv,
                          s.n_heads, G, s.inv_freq, scale_log2, n_splits, split_base, total_splits, ws),
            "decode_attention (tensor cores)", "launch");
    }
    const size_t smem = DaSmem<F, HD>::bytes;
    static bool attr_set = false;
    if (!attr_set) {
        DK_TRY(cuda_status(
            cudaFuncSetAttribute(decode_attn_kernel<F, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(smem)),
            "decode_attention", "set shared memory"));
        attr_set = true;
    }
    return cuda_status(
        launch_kernel(decode_attn_kernel<F, HD>, grid, dim3(kDaThreads), smem, stream, s.pdl, q, kv,
                      s.n_heads, G, s.inv_freq, scale_log2, n_splits, split_base, total_splits, ws),
        "decode_attention", "launch");
}

template <int HD>
static Status launch_decode_fmt(const float* q, const PagedKv& kv, const DecodeAttnShape& s, int G,
                                int n_splits, int split_base, int total_splits, float* ws,
                                cudaStream_t stream) {
    switch (kv.codec) {
        case Codec::fp16:
            return launch_decode<Codec::fp16, HD>(q, kv, s, G, n_splits, split_base, total_splits, ws,
                                                  stream);
        case Codec::int8:
            return launch_decode<Codec::int8, HD>(q, kv, s, G, n_splits, split_base, total_splits, ws,
                                                  stream);
        case Codec::int4:
            return launch_decode<Codec::int4, HD>(q, kv, s, G, n_splits, split_base, total_splits, ws,
                                                  stream);
        case Codec::int2:
            return launch_decode<Codec::int2, HD>(q, kv, s, G, n_splits, split_base, total_splits, ws,
                                                  stream);
    }
    return bad_arg("decode_attention", "unknown KV codec");
}

Status decode_attention(const float* q, const PagedKv* sources, int n_sources, const DecodeAttnShape& s,
                        float* workspace, float* out, cudaStream_t stream) {
    const char* op = "decode_attention";
    if (n_sources < 1 || n_sources > 4) return bad_arg(op, "1..4 sources");
    if (s.batch < 1 || s.n_heads < 1) return bad_arg(op, "bad batch/heads");
    if (s.head_dim != 64 && s.head_dim != 128)
        return Status(ErrorCode::unsupported, "decode_attention: head_dim " + std::to_string(s.head_dim) +
                                                  " (Docket ships 64 and 128)");
    if (!s.inv_freq) return bad_arg(op, "inv_freq is null");
    const int n_kv = sources[0].n_kv_heads;
    if (n_kv < 1 || s.n_heads % n_kv != 0 || s.n_heads / n_kv > kMaxG)
        return bad_arg(op, "n_heads must be a multiple of n_kv_heads with at most 8 query heads per KV head");
    for (int i = 0; i < n_sources; ++i) {
        const PagedKv& kv = sources[i];
        const int T = kv.page_tokens;
        if (kv.n_kv_heads != n_kv || kv.head_dim != s.head_dim)
            return bad_arg(op, "all sources must share n_kv_heads and head_dim");
        if (T < 16 || T > 256 || T % 16 != 0 || (T > kChunk && T % kChunk != 0))
            return bad_arg(op,
                           "page_tokens must be 16, 32, 48, 64, 128, 192 or 256, got " + std::to_string(T));
        const kv_page::PageLayout lay = kv_page::page_layout(kv.codec, n_kv, s.head_dim, T);
        if (kv.page_bytes < lay.bytes || kv.page_bytes % 16 != 0)
            return bad_arg(op, "page_bytes " + std::to_string(kv.page_bytes) +
                                   " is smaller than the layout's " + std::to_string(lay.bytes));
        if (!kv.pool || !kv.indptr || !kv.indices || !kv.last_page_len || !kv.page_pos)
            return bad_arg(op, "null pointer in the paged KV descriptor");
    }
    const int G = s.n_heads / n_kv;
    int n_splits = choose_splits(s, n_kv);
    if (s.impl == 0) {
        // The warp kernel's blocks are 8 or 16 warps wide, usually one per SM: more splits than one wave of
        // them would leave each warp ~1 chunk, with its load latency exposed. So n_splits is an upper bound
        // there, the smallest wave over the sources that take the warp kernel.
        int sm = 132, dev = 0;
        if (cudaGetDevice(&dev) == cudaSuccess)
            cudaDeviceGetAttribute(&sm, cudaDevAttrMultiProcessorCount, dev);
        for (int i = 0; i < n_sources; ++i) {
            const int per_sm = s.head_dim == 64 ? dw_blocks_per_sm_fmt<64>(sources[i].codec)
                                                : dw_blocks_per_sm_fmt<128>(sources[i].codec);
            if (per_sm == 0) continue;  // f16, or a device without the shared memory: block per chunk
            // Rounded down: one block past the wave costs a whole second wave (seen: 17 x 8 = 136 blocks on
            // 132 SMs ran 2x slower than a wave would).
            const int wave = per_sm * sm / (s.batch * n_kv);
            n_splits = std::max(1, std::min(n_splits, wave));
        }
    }
    const int total = n_splits * n_sources;
    if (decode_attention_workspace(s, n_sources) <
        static_cast<size_t>(s.batch) * s.n_heads * total * (s.head_dim + 2))
        return bad_arg(op, "n_splits exceeds what decode_attention_workspace sized");
    const bool par = s.side && s.fork && s.join && n_sources > 1;
    if (par) {
        DK_TRY(cuda_status(cudaEventRecord(s.fork, stream), op, "record fork"));
        DK_TRY(cuda_status(cudaStreamWaitEvent(s.side, s.fork, 0), op, "side waits"));
    }
    for (int i = 0; i < n_sources; ++i) {
        cudaStream_t st = par && i > 0 ? s.side : stream;
        if (s.head_dim == 64)
            DK_TRY(launch_decode_fmt<64>(q, sources[i], s, G, n_splits, i * n_splits, total, workspace, st));
        else
            DK_TRY(launch_decode_fmt<128>(q, sources[i], s, G, n_splits, i * n_splits, total, workspace, st));
    }
    if (par) {
        DK_TRY(cuda_status(cudaEventRecord(s.join, s.side), op, "record join"));
        DK_TRY(cuda_status(cudaStreamWaitEvent(stream, s.join, 0), op, "wait join"));
    }
    int8_t *xhi = nullptr, *xlo = nullptr;
    float *xs = nullptr, *xsum = nullptr;
    if (s.xq_out) {
        if (s.batch != 1) return bad_arg(op, "xq_out needs batch 1");
        if (reinterpret_cast<uintptr_t>(s.xq_out) % 16) return bad_arg(op, "xq_out must be 16-byte aligned");
        const int64_t n = static_cast<int64_t>(s.n_heads) * s.head_dim;
        xhi = static_cast<int8_t*>(s.xq_out), xlo = xhi + n;
        xs = reinterpret_cast<float*>(xhi + 2 * n), xsum = xs + n / kXqBlock;
    }
    return cuda_status(launch_kernel(decode_combine_kernel, dim3(s.n_heads, s.batch), dim3(s.head_dim), 0,
                                     stream, s.pdl, workspace, total, s.head_dim, out, xhi, xlo, xs, xsum),
                       op, "launch (combine)");
}

}  // namespace docket::cuda

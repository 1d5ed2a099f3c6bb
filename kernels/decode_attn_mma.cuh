#pragma once
// Decode attention on the tensor cores (included by decode_attn.cu after DaSmem / copy_async). Same contract
// and workspace format as decode_attn_kernel; per block one (split, KV head, sequence), 4 warps.
//
// Per 64-token chunk (staged by cp.async, double-buffered) each warp takes 16 tokens and keeps its own online
// softmax over the tokens it has seen:
//   scores S[16 tok][8 heads] = K_rot[16 tok][HD] . q~[HD][8 heads] with mma.m16n8k16 (f16 in, f32 acc): each
//     lane dequantizes and rotates exactly the key elements of its A fragment (two tokens x two RoPE pairs
//     per 16-dim step), once for all query heads of the group; q~ = scale*log2e * R(-chunk_base) q is the B
//     operand.
//   O^T[HD][8 heads] += V^T[HD][16 tok] . P^T[16 tok][8 heads], V dequantized straight into A fragments, P
//     handed from the score layout to the B layout through 512 bytes of shared memory per warp.
// At the end the 4 warps' (m, l, O) merge in shared memory into the block's partial (o, m, l).
// f16 operands: keys/values/probabilities carry a relative rounding of ~2^-12, which the CPU-twin bound
// (1e-3 on the output) absorbs; accumulation is f32.

// Where chunk ci of a split lives: page p_begin + ci / cpp, slice a = ci % cpp of C tokens. kc: the head's K
// codes for all T tokens ([dim][token]); vc: the slice's V codes; ks / vs: the head's K scales and the
// slice's V scales (quantized formats).
struct DaChunk {
    const uint8_t *kc, *vc, *ks, *vs;
    int a;
};
// Slice a (of C tokens) of pool page `page_id`.
template <Codec F, int HD>
__device__ __forceinline__ DaChunk da_chunk_of_page(const PagedKv& kv, int kvh, int32_t page_id, int a,
                                                    int C) {
    constexpr int N = DaSmem<F, HD>::N;
    const int T = kv.page_tokens;
    const uint8_t* page = kv.pool + static_cast<size_t>(page_id) * kv.page_bytes;
    const kv_page::PageLayout lay = kv_page::page_layout(F, kv.n_kv_heads, HD, T);
    const size_t head_codes = static_cast<size_t>(T) * HD * N / 8;
    return {page + lay.k_codes + kvh * head_codes,
            page + lay.v_codes + kvh * head_codes + static_cast<size_t>(a) * C * HD * N / 8,
            page + lay.k_scales + static_cast<size_t>(kvh) * HD * 4,
            page + lay.v_scales + (static_cast<size_t>(kvh) * T + a * C) * 4, a};
}
template <Codec F, int HD>
__device__ __forceinline__ DaChunk da_chunk(const PagedKv& kv, int kvh, int pg0, int p_begin, int cpp, int C,
                                            int ci) {
    return da_chunk_of_page<F, HD>(kv, kvh, kv.indices[pg0 + p_begin + ci / cpp], ci % cpp, C);
}

template <Codec F, int HD>
__device__ __forceinline__ void da_issue(const PagedKv& kv, int kvh, int pg0, int p_begin, int cpp, int C,
                                         int ci, uint8_t* st) {
    using L = DaSmem<F, HD>;
    constexpr int N = L::N;
    const int T = kv.page_tokens;
    const DaChunk ch = da_chunk<F, HD>(kv, kvh, pg0, p_begin, cpp, C, ci);
    if (F == Codec::fp16 || C == T) {
        copy_async(st, ch.kc + static_cast<size_t>(ch.a) * C * HD * N / 8, C * HD * N / 8);
    } else {  // K codes are [dim][token]: one 64-token row slice per dim
        const int row = C * N / 8, stride = T * N / 8;
        for (int o = threadIdx.x * 16; o < HD * row; o += kDaThreads * 16) {
            const int d = o / row, c = o % row;
            cp_async16(st + o, ch.kc + static_cast<size_t>(d) * stride + ch.a * row + c, 16);
        }
    }
    copy_async(st + L::k_bytes, ch.vc, C * HD * N / 8);
    if (F != Codec::fp16) {
        copy_async(st + 2 * L::k_bytes, ch.ks, HD * 4);
        copy_async(st + 2 * L::k_bytes + L::ks_bytes, ch.vs, C * 4);
    }
}

// An unsigned code (< 2^23) as float, exactly: 2^23 + c built by bits, minus 2^23. One LOP3 and one FADD
// (full rate) instead of I2F, which runs at a quarter of the FMA rate on sm_80..sm_90 and was the attention
// kernels' widest pipe (two conversions per key and value element).
__device__ __forceinline__ float code_f(uint32_t c) {
    return __uint_as_float(0x4B000000u | c) - 8388608.0f;
}

// Keys of dims d, d+1 for the chunk tokens tt (even) and tt+1, from a stage with row = C*N/8 bytes per dim
// (K codes [dim][token]) or [token][dim] halves (f16). Two adjacent tokens share one byte (int4/int2) or one
// 16-bit word (int8), so each dim costs one shared load. k[0..1]: dims d, d+1 of token tt; k[2..3]: of tt+1.
template <Codec F, int HD>
__device__ __forceinline__ void da_k2(const uint8_t* st, int row, int d, int tt, float2 z0, float2 z1,
                                      float k[4]) {
    constexpr int N = DaSmem<F, HD>::N;
    if constexpr (F == Codec::fp16) {
        const __half2* h = reinterpret_cast<const __half2*>(st);
        const float2 a = __half22float2(h[(tt * HD + d) / 2]), b = __half22float2(h[((tt + 1) * HD + d) / 2]);
        k[0] = a.x, k[1] = a.y, k[2] = b.x, k[3] = b.y;
    } else {
        constexpr uint32_t mask = (1u << N) - 1;
        uint32_t w0, w1;
        if constexpr (N == 8) {
            w0 = *reinterpret_cast<const uint16_t*>(st + d * row + tt);
            w1 = *reinterpret_cast<const uint16_t*>(st + (d + 1) * row + tt);
        } else {
            const int sh = (tt * N) % 8;
            w0 = static_cast<uint32_t>(st[d * row + (tt * N) / 8]) >> sh;
            w1 = static_cast<uint32_t>(st[(d + 1) * row + (tt * N) / 8]) >> sh;
        }
        k[0] = fmaf(z0.x, code_f(w0 & mask), z0.y);
        k[1] = fmaf(z1.x, code_f(w1 & mask), z1.y);
        k[2] = fmaf(z0.x, code_f((w0 >> N) & mask), z0.y);
        k[3] = fmaf(z1.x, code_f((w1 >> N) & mask), z1.y);
    }
}

// The HD/8 consecutive V elements [d0, d0 + HD/8) of one token row (HD*N/8 bytes at vrow) as raw words: one
// 2..32-byte shared load per token instead of one byte load per element.
template <Codec F, int HD>
struct DaVSlice {
    static constexpr int N = DaSmem<F, HD>::N;
    static constexpr int DPL = HD / 8;         // dims per lane
    static constexpr int bytes = DPL * N / 8;  // 2, 4, 8, 16 or 32
    static constexpr int words = bytes < 4 ? 1 : bytes / 4;
    uint32_t w[words];
    __device__ __forceinline__ void load(const uint8_t* p) {
        if constexpr (bytes == 2) {
            w[0] = *reinterpret_cast<const uint16_t*>(p);
        } else if constexpr (bytes == 4) {
            w[0] = *reinterpret_cast<const uint32_t*>(p);
        } else if constexpr (bytes == 8) {
            const uint2 u = *reinterpret_cast<const uint2*>(p);
            w[0] = u.x, w[1] = u.y;
        } else {
#pragma unroll
            for (int i = 0; i < bytes / 16; ++i) {
                const uint4 u = reinterpret_cast<const uint4*>(p)[i];
                w[4 * i] = u.x, w[4 * i + 1] = u.y, w[4 * i + 2] = u.z, w[4 * i + 3] = u.w;
            }
        }
    }
    // Element i (compile-time after unrolling) dequantized with the token's {scale, zero}.
    __device__ __forceinline__ float at(int i, float2 sz) const {
        if constexpr (F == Codec::fp16) {
            const uint32_t h = (w[i / 2] >> (16 * (i % 2))) & 0xffffu;
            return __half2float(__ushort_as_half(static_cast<uint16_t>(h)));
        } else {
            const uint32_t c = (w[(i * N) / 32] >> ((i * N) % 32)) & ((1u << N) - 1);
            return fmaf(sz.x, code_f(c), sz.y);
        }
    }
};

template <Codec F, int HD>
struct DaMmaSmem {
    using L = DaSmem<F, HD>;
    static constexpr int qstride = HD / 2 + 4;      // half2 per head row of q~ (+4: rows hit other banks)
    static constexpr int qs = kMaxG * HD * 4;       // raw q f32 [8][HD], staged once per block
    static constexpr int qt = kMaxG * qstride * 4;  // q~ half2 [8][qstride], per chunk
    static constexpr int sp = 4 * kMaxG * 16 * 2;   // P^T per warp, f16 [8 heads][16 tokens]
    static constexpr int merge = 4 * kMaxG * HD * 4 + 2 * 4 * kMaxG * 4;  // reuses the rotation table
    static_assert(merge <= L::rtab, "merge area must fit in the rotation table");
    // Chunks in flight: 3 where a stage is small (int4, int2: ~27 KB per block in flight, still 3 blocks per
    // SM), else 2 (f16 stages are 33 KB).
    static constexpr int stages = L::stage <= 16384 ? 3 : 2;
    static constexpr size_t bytes = stages * L::stage + L::rtab + qs + qt + sp;
};

// Merges the W warps of a block, each holding O^T tiles (dims x heads 2t, 2t+1, MMA fragment layout) and its
// running max / sum for those heads, through the shared memory at `smem` (free: the caller has passed a
// barrier after its last use) and writes the block's partial (O, m, l) of the G heads: head hh at
// wo0 + hh * head_stride.
template <int W, int HD>
__device__ __forceinline__ void da_merge_warps(float* smem, const float (&o)[HD / 16][4],
                                               const float (&m_run)[2], const float (&l_run)[2], int G,
                                               float* wo0, int64_t head_stride) {
    constexpr int KS = HD / 16, DPL = HD / 8;
    const int tid = threadIdx.x, warp = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
    float* sO = smem;  // [warp][head][HD]
    float* sM = sO + W * kMaxG * HD;
    float* sL = sM + W * kMaxG;
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) {  // rows g / g+8 of tile mt are dims DPL*g + 2mt, + 1
        float* w0 = sO + (warp * kMaxG + 2 * t) * HD + DPL * g + 2 * mt;
        *reinterpret_cast<float2*>(w0) = make_float2(o[mt][0], o[mt][2]);
        *reinterpret_cast<float2*>(w0 + HD) = make_float2(o[mt][1], o[mt][3]);
    }
    if (g == 0) {
        sM[warp * kMaxG + 2 * t] = m_run[0], sM[warp * kMaxG + 2 * t + 1] = m_run[1];
        sL[warp * kMaxG + 2 * t] = l_run[0], sL[warp * kMaxG + 2 * t + 1] = l_run[1];
    }
    __syncthreads();
    for (int i = tid; i < G * HD; i += 32 * W) {
        const int hh = i / HD, d = i % HD;
        float M = -INFINITY;
        for (int w = 0; w < W; ++w) M = fmaxf(M, sM[w * kMaxG + hh]);
        float acc = 0.0f, l = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < W; ++w) {
                const float mw = sM[w * kMaxG + hh];
                if (mw == -INFINITY) continue;
                const float f = exp2f(mw - M);
                acc += sO[(w * kMaxG + hh) * HD + d] * f;
                l += sL[w * kMaxG + hh] * f;
            }
        float* wo = wo0 + hh * head_stride;
        wo[d] = acc;
        if (d == 0) wo[HD] = M, wo[HD + 1] = l;
    }
}

// Token and dim orders inside a warp's 16-token tile (free choices, since both MMAs sum over them):
//   scores: A row g is chunk token 16w + 2g and row g + 8 is token 16w + 2g + 1, so one K byte (or int8 pair)
//     holds both of a lane's tokens for a dim;
//   O^T = V^T P^T: A row g of dim tile mt is dim (HD/8) g + 2 mt and row g + 8 is dim (HD/8) g + 2 mt + 1, so
//     a lane's dims over all tiles are HD/8 consecutive elements of a V row, fetched with one wide load.
template <Codec F, int HD>
static __global__ void __launch_bounds__(kDaThreads)
    decode_attn_mma_kernel(const float* __restrict__ q, PagedKv kv, int n_heads, int G,
                           const float* __restrict__ inv_freq, float scale_log2, int n_splits, int split_base,
                           int total_splits, float* __restrict__ ws) {
    using L = DaSmem<F, HD>;
    using S = DaMmaSmem<F, HD>;
    using VS = DaVSlice<F, HD>;
    constexpr int N = L::N;
    constexpr int HALF = HD / 2;
    constexpr int KS = HD / 16;  // 16-dim steps
    extern __shared__ __align__(16) uint8_t da_smem[];
    uint8_t* stage0 = da_smem;
    constexpr int NS = S::stages;
    float2* rtab = reinterpret_cast<float2*>(da_smem + NS * L::stage);  // [HALF][kRtabStride]
    float* qs = reinterpret_cast<float*>(da_smem + NS * L::stage + L::rtab);
    __half2* qt = reinterpret_cast<__half2*>(da_smem + NS * L::stage + L::rtab + S::qs);
    __half* sp_all = reinterpret_cast<__half*>(da_smem + NS * L::stage + L::rtab + S::qs + S::qt);
    pdl_launch_dependents();
    pdl_wait();  // live (f16) pages are written by the kernel just before

    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    __half* sp = sp_all + warp * kMaxG * 16;
    const int T = kv.page_tokens;
    const int C = T < kChunk ? T : kChunk;
    const int cpp = T / C;
    const int pg0 = kv.indptr[b], n_pages = kv.indptr[b + 1] - pg0;
    const int last_len = kv.last_page_len[b];
    const int pps = (n_pages + n_splits - 1) / n_splits;
    const int p_begin = split * pps, p_end = min(n_pages, p_begin + pps);
    const int n_chunks = p_end > p_begin ? (p_end - p_begin) * cpp : 0;
    const int row = C * N / 8;  // K bytes per dim in a stage
    const int sg = split_base + split;

    if (n_chunks == 0) {  // empty split (short tail source): an empty partial, none of the setup below
        for (int i = tid; i < G * HD; i += kDaThreads) {
            const int hh = i / HD, d = i % HD;
            float* wo =
                ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + hh) * total_splits + sg) * (HD + 2);
            wo[d] = 0.0f;
            if (d == 0) wo[HD] = -INFINITY, wo[HD + 1] = 0.0f;
        }
        return;
    }
#pragma unroll
    for (int i = 0; i < NS - 1; ++i) {  // one commit group per chunk, empty past the end
        if (i < n_chunks) da_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, i, stage0 + i * L::stage);
        cp_async_commit();
    }
    // Rotation by the offset inside a chunk (< 64 positions, angle < 64 rad): the fast sincos is accurate to
    // ~1e-5 there, far below the f16 rounding the keys get next.
    for (int i = tid; i < HALF * kChunk; i += kDaThreads) {
        float c, s;
        __sincosf(static_cast<float>(i % kChunk) * inv_freq[i / kChunk], &s, &c);
        rtab[(i / kChunk) * kRtabStride + i % kChunk] = make_float2(c, s);
    }
    const float my_freq = inv_freq[tid % HALF];
    for (int i = tid; i < kMaxG * HD; i += kDaThreads) {  // q of the group, zero past G heads
        const int hh = i / HD;
        qs[i] = hh < G ? q[(static_cast<int64_t>(b) * n_heads + kvh * G + hh) * HD + i % HD] : 0.0f;
    }
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // heads 2t, 2t+1
    float o[KS][4];                                                    // O^T tiles: dims x heads
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;

    for (int ci = 0; ci < n_chunks; ++ci) {
        __syncthreads();  // chunk ci-1 fully consumed (its buffer and qt may be overwritten); qs ready
        uint8_t* st = stage0 + (ci % NS) * L::stage;
        if (ci + NS - 1 < n_chunks)
            da_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, ci + NS - 1,
                            stage0 + ((ci + NS - 1) % NS) * L::stage);
        cp_async_commit();
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const int in_page = (p == n_pages - 1) ? last_len : T;
        const int len = max(0, min(C, in_page - a * C));
        {  // q~ = scale*log2e * R(-(page_pos + a*C)) q as f16 pairs; one angle per thread
            const int64_t pos0 = static_cast<int64_t>(kv.page_pos[pg0 + p]) + a * C;
            constexpr int kSub = kDaThreads / HALF;  // head subsets
            const int pr = tid % HALF;
            float c, s;
            rope_cos_sin(pos0, my_freq, c, s);
#pragma unroll
            for (int hh = tid / HALF; hh < kMaxG; hh += kSub) {
                const float2 qq = *reinterpret_cast<const float2*>(qs + hh * HD + 2 * pr);
                qt[hh * S::qstride + pr] = __floats2half2_rn((qq.x * c + qq.y * s) * scale_log2,
                                                             (-qq.x * s + qq.y * c) * scale_log2);
            }
        }
        cp_async_wait<NS - 1>();  // chunk ci landed (groups past it may still fly)
        __syncthreads();
        if (16 * warp >= len) continue;  // none of this warp's tokens are in the sequence
        const int tA = 16 * warp + 2 * g, tB = tA + 1;
        // Scores.
        float sc4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            uint32_t af[4];
#pragma unroll
            for (int hp = 0; hp < 2; ++hp) {  // pairs i0 = 8kk + t and i0 + 4
                const int pr = 8 * kk + t + 4 * hp;
                float2 z0 = make_float2(0.0f, 0.0f), z1 = z0;  // {scale, zero} of dims 2pr, 2pr+1, once
                if constexpr (F != Codec::fp16) {
                    const uint2 u = reinterpret_cast<const uint2*>(st + 2 * L::k_bytes)[pr];
                    z0 = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
                    z1 = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
                }
                float k[4];
                da_k2<F, HD>(st, row, 2 * pr, tA, z0, z1, k);
                const float2 ca = rtab[pr * kRtabStride + tA], cb = rtab[pr * kRtabStride + tB];
                af[2 * hp] = pack_half2(k[0] * ca.x - k[1] * ca.y, k[0] * ca.y + k[1] * ca.x);
                af[2 * hp + 1] = pack_half2(k[2] * cb.x - k[3] * cb.y, k[2] * cb.y + k[3] * cb.x);
            }
            const __half2* qg = qt + g * S::qstride + 8 * kk + t;
            const uint32_t b0 = *reinterpret_cast<const uint32_t*>(qg),
                           b1 = *reinterpret_cast<const uint32_t*>(qg + 4);
            mma_f16(sc4, af, b0, b1);
        }
        // Online softmax over this warp's 16 tokens, heads 2t and 2t+1 (scores already in log2 units).
        const bool va = tA < len, vb = tB < len;
        float x[4] = {va ? sc4[0] : -INFINITY, va ? sc4[1] : -INFINITY, vb ? sc4[2] : -INFINITY,
                      vb ? sc4[3] : -INFINITY};
        float pv[4], alpha[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mc = fmaxf(x[h], x[2 + h]);
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 4));
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 8));
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 16));
            const float mn = fmaxf(m_run[h], mc);
            const float base = mn == -INFINITY ? 0.0f : mn;
            alpha[h] = exp2f(m_run[h] - base);
            pv[h] = exp2f(x[h] - base);
            pv[2 + h] = exp2f(x[2 + h] - base);
            float ls = pv[h] + pv[2 + h];
            ls += __shfl_xor_sync(0xffffffffu, ls, 4);
            ls += __shfl_xor_sync(0xffffffffu, ls, 8);
            ls += __shfl_xor_sync(0xffffffffu, ls, 16);
            l_run[h] = l_run[h] * alpha[h] + ls;
            m_run[h] = mn;
        }
        // P^T to the B layout, sp[head][token offset]: this lane's tokens 2g, 2g+1 are adjacent.
        reinterpret_cast<uint32_t*>(sp)[((2 * t) * 16 + 2 * g) / 2] = pack_half2(pv[0], pv[2]);
        reinterpret_cast<uint32_t*>(sp)[((2 * t + 1) * 16 + 2 * g) / 2] = pack_half2(pv[1], pv[3]);
        __syncwarp();
        const uint32_t pb0 = *reinterpret_cast<const uint32_t*>(sp + g * 16 + 2 * t);
        const uint32_t pb1 = *reinterpret_cast<const uint32_t*>(sp + g * 16 + 2 * t + 8);
        // O^T += V^T P^T. k of this lane: tokens 2t, 2t+1, 2t+8, 2t+9 of the warp; its dims DPL*g .. +DPL.
        const uint8_t* vc = st + L::k_bytes;
        VS vsl[4];
        float2 vsz[4];
        bool vok[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int tt = min(16 * warp + 2 * t + (j & 1) + 8 * (j >> 1), kChunk - 1);
            vok[j] = 16 * warp + 2 * t + (j & 1) + 8 * (j >> 1) < len;
            vsl[j].load(vc + tt * (HD * N / 8) + g * VS::bytes);
            vsz[j] = make_float2(0.0f, 0.0f);
            if constexpr (F != Codec::fp16)
                vsz[j] =
                    __half22float2(reinterpret_cast<const __half2*>(st + 2 * L::k_bytes + L::ks_bytes)[tt]);
        }
#pragma unroll
        for (int mt = 0; mt < KS; ++mt) {
            o[mt][0] *= alpha[0], o[mt][1] *= alpha[1], o[mt][2] *= alpha[0], o[mt][3] *= alpha[1];
            float v[2][4];  // [dim 2mt / 2mt+1 of the lane's slice][token j]
#pragma unroll
            for (int dr = 0; dr < 2; ++dr)
#pragma unroll
                for (int j = 0; j < 4; ++j) v[dr][j] = vok[j] ? vsl[j].at(2 * mt + dr, vsz[j]) : 0.0f;
            const uint32_t af[4] = {pack_half2(v[0][0], v[0][1]), pack_half2(v[1][0], v[1][1]),
                                    pack_half2(v[0][2], v[0][3]), pack_half2(v[1][2], v[1][3])};
            mma_f16(o[mt], af, pb0, pb1);
        }
        __syncwarp();
    }
    cp_async_wait<0>();
    __syncthreads();
    // Merge the warps over the rotation table.
    da_merge_warps<kDaThreads / 32, HD>(
        reinterpret_cast<float*>(rtab), o, m_run, l_run, G,
        ws + ((static_cast<int64_t>(b) * n_heads + kvh * G) * total_splits + sg) * (HD + 2),
        static_cast<int64_t>(total_splits) * (HD + 2));
}

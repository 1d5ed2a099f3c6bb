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

template <KvFormat F, int HD>
__device__ __forceinline__ void da_issue(const PagedKv& kv, int kvh, int pg0, int p_begin, int cpp, int C,
                                         int ci, uint8_t* st) {
    using L = DaSmem<F, HD>;
    constexpr int N = L::N;
    const int T = kv.page_tokens;
    const int p = p_begin + ci / cpp, a = ci % cpp;
    const uint8_t* page = kv.pool + static_cast<size_t>(kv.indices[pg0 + p]) * kv.page_bytes;
    const KvPageLayout lay = kv_page_layout(F, T, kv.n_kv_heads, HD);
    const size_t head_codes = static_cast<size_t>(T) * HD * N / 8;
    const uint8_t* kc = page + lay.k_codes + kvh * head_codes;
    const uint8_t* vc = page + lay.v_codes + kvh * head_codes + static_cast<size_t>(a) * C * HD * N / 8;
    if (F == KvFormat::f16 || C == T) {
        copy_async(st, kc + static_cast<size_t>(a) * C * HD * N / 8, C * HD * N / 8);
    } else {  // K codes are [dim][token]: one 64-token row slice per dim
        const int row = C * N / 8, stride = T * N / 8;
        for (int o = threadIdx.x * 16; o < HD * row; o += kDaThreads * 16) {
            const int d = o / row, c = o % row;
            cp_async16(st + o, kc + static_cast<size_t>(d) * stride + a * row + c, 16);
        }
    }
    copy_async(st + L::k_bytes, vc, C * HD * N / 8);
    if (F != KvFormat::f16) {
        copy_async(st + 2 * L::k_bytes, page + lay.k_scales + static_cast<size_t>(kvh) * HD * 4, HD * 4);
        copy_async(st + 2 * L::k_bytes + L::ks_bytes,
                   page + lay.v_scales + (static_cast<size_t>(kvh) * T + a * C) * 4, C * 4);
    }
}

// Element (dim d, chunk token tt) of K (pre-RoPE) from a stage with row = C*N/8 bytes per dim, given that
// dim's {scale, zero} (unused for f16).
template <KvFormat F, int HD>
__device__ __forceinline__ float da_k(const uint8_t* st, int row, int d, int tt, float2 sz) {
    constexpr int N = DaSmem<F, HD>::N;
    if constexpr (F == KvFormat::f16) {
        return __half2float(reinterpret_cast<const __half*>(st)[tt * HD + d]);
    } else {
        const int code = (st[d * row + (tt * N) / 8] >> ((tt * N) % 8)) & ((1 << N) - 1);
        return fmaf(sz.x, static_cast<float>(code), sz.y);
    }
}

// Element (chunk token tt, dim d) of V given that token's {scale, zero}.
template <KvFormat F, int HD>
__device__ __forceinline__ float da_v(const uint8_t* vc, int tt, int d, float2 sz) {
    constexpr int N = DaSmem<F, HD>::N;
    if constexpr (F == KvFormat::f16) {
        return __half2float(reinterpret_cast<const __half*>(vc)[tt * HD + d]);
    } else {
        const int bit = d * N;
        const int code = (vc[tt * (HD * N / 8) + bit / 8] >> (bit % 8)) & ((1 << N) - 1);
        return fmaf(sz.x, static_cast<float>(code), sz.y);
    }
}

template <KvFormat F, int HD>
struct DaMmaSmem {
    using L = DaSmem<F, HD>;
    static constexpr int qt = kMaxG * HD * 4;      // q~ f32 [8][HD]
    static constexpr int sp = 4 * kMaxG * 16 * 2;  // P^T per warp, f16 [8 heads][16 tokens]
    static constexpr int merge = 4 * kMaxG * HD * 4 + 2 * 4 * kMaxG * 4;  // reuses the rotation table
    static_assert(merge <= L::rtab, "merge area must fit in the rotation table");
    static constexpr size_t bytes = 2 * L::stage + L::rtab + qt + sp;
};

template <KvFormat F, int HD>
static __global__ void __launch_bounds__(kDaThreads)
    decode_attn_mma_kernel(const float* __restrict__ q, PagedKv kv, int n_heads, int G,
                           const float* __restrict__ inv_freq, float scale_log2, int n_splits, int split_base,
                           int total_splits, float* __restrict__ ws) {
    using L = DaSmem<F, HD>;
    using S = DaMmaSmem<F, HD>;
    constexpr int N = L::N;
    constexpr int HALF = HD / 2;
    constexpr int KS = HD / 16;  // 16-dim steps
    extern __shared__ __align__(16) uint8_t da_smem[];
    uint8_t* stage0 = da_smem;
    float2* rtab = reinterpret_cast<float2*>(da_smem + 2 * L::stage);  // [HALF][kRtabStride]
    float* qt = reinterpret_cast<float*>(da_smem + 2 * L::stage + L::rtab);
    __half* sp_all = reinterpret_cast<__half*>(da_smem + 2 * L::stage + L::rtab + S::qt);

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

    for (int i = tid; i < HALF * kChunk; i += kDaThreads) {
        float c, s;
        sincosf(static_cast<float>(i % kChunk) * inv_freq[i / kChunk], &s, &c);
        rtab[(i / kChunk) * kRtabStride + i % kChunk] = make_float2(c, s);
    }
    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // heads 2t, 2t+1
    float o[KS][4];                                                    // O^T tiles: dims x heads
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;

    if (n_chunks > 0) da_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, 0, stage0);
    cp_async_commit();
    for (int ci = 0; ci < n_chunks; ++ci) {
        __syncthreads();  // chunk ci-1 fully consumed: its buffer and qt may be overwritten
        uint8_t* st = stage0 + (ci & 1) * L::stage;
        if (ci + 1 < n_chunks)
            da_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, ci + 1, stage0 + ((ci + 1) & 1) * L::stage);
        cp_async_commit();
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const int in_page = (p == n_pages - 1) ? last_len : T;
        const int len = max(0, min(C, in_page - a * C));
        {  // q~ = scale*log2e * R(-(page_pos + a*C)) q, zero for heads >= G
            const int64_t pos0 = static_cast<int64_t>(kv.page_pos[pg0 + p]) + a * C;
            for (int pr = tid; pr < HALF; pr += kDaThreads) {
                float c, s;
                rope_cos_sin(pos0, inv_freq[pr], c, s);
                for (int hh = 0; hh < kMaxG; ++hh) {
                    float2 qq = make_float2(0.0f, 0.0f);
                    if (hh < G)
                        qq = *reinterpret_cast<const float2*>(
                            q + (static_cast<int64_t>(b) * n_heads + kvh * G + hh) * HD + 2 * pr);
                    qt[hh * HD + 2 * pr] = (qq.x * c + qq.y * s) * scale_log2;
                    qt[hh * HD + 2 * pr + 1] = (-qq.x * s + qq.y * c) * scale_log2;
                }
            }
        }
        cp_async_wait<1>();
        __syncthreads();
        if (16 * warp >= len) continue;  // none of this warp's tokens are in the sequence
        const int tA = 16 * warp + g, tB = tA + 8;
        // Scores.
        float sc4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            uint32_t af[4];
#pragma unroll
            for (int hp = 0; hp < 2; ++hp) {  // pairs i0 = 8kk + t and i0 + 4
                const int pr = 8 * kk + t + 4 * hp;
                float2 z0 = make_float2(0.0f, 0.0f), z1 = z0;  // {scale, zero} of dims 2pr, 2pr+1, once
                if constexpr (F != KvFormat::f16) {
                    const uint2 u = reinterpret_cast<const uint2*>(st + 2 * L::k_bytes)[pr];
                    z0 = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
                    z1 = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
                }
#pragma unroll
                for (int tb = 0; tb < 2; ++tb) {
                    const int tt = tb ? tB : tA;
                    const float k0 = da_k<F, HD>(st, row, 2 * pr, tt, z0),
                                k1 = da_k<F, HD>(st, row, 2 * pr + 1, tt, z1);
                    const float2 cs = rtab[pr * kRtabStride + tt];
                    af[2 * hp + tb] = pack_half2(k0 * cs.x - k1 * cs.y, k0 * cs.y + k1 * cs.x);
                }
            }
            const float* qg = qt + g * HD + 16 * kk + 2 * t;
            const uint32_t b0 = pack_half2(qg[0], qg[1]), b1 = pack_half2(qg[8], qg[9]);
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
        // P^T to the B layout: sp[head][token].
        sp[(2 * t) * 16 + g] = __float2half_rn(pv[0]);
        sp[(2 * t + 1) * 16 + g] = __float2half_rn(pv[1]);
        sp[(2 * t) * 16 + g + 8] = __float2half_rn(pv[2]);
        sp[(2 * t + 1) * 16 + g + 8] = __float2half_rn(pv[3]);
        __syncwarp();
        const uint32_t pb0 = *reinterpret_cast<const uint32_t*>(sp + g * 16 + 2 * t);
        const uint32_t pb1 = *reinterpret_cast<const uint32_t*>(sp + g * 16 + 2 * t + 8);
        // O^T += V^T P^T. This lane's A rows: dims 16mt+g, +8; k: tokens 2t, 2t+1, 2t+8, 2t+9 of the warp.
        const uint8_t* vc = st + L::k_bytes;
        float2 vsz[4];
        bool vok[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int tt = 16 * warp + 2 * t + (j & 1) + 8 * (j >> 1);
            vok[j] = tt < len;
            vsz[j] = make_float2(0.0f, 0.0f);
            if constexpr (F != KvFormat::f16)
                vsz[j] = __half22float2(
                    reinterpret_cast<const __half2*>(st + 2 * L::k_bytes + L::ks_bytes)[min(tt, kChunk - 1)]);
        }
#pragma unroll
        for (int mt = 0; mt < KS; ++mt) {
            o[mt][0] *= alpha[0], o[mt][1] *= alpha[1], o[mt][2] *= alpha[0], o[mt][3] *= alpha[1];
            float v[2][4];  // [dim g / g+8][token j]
#pragma unroll
            for (int dr = 0; dr < 2; ++dr)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int tt = 16 * warp + 2 * t + (j & 1) + 8 * (j >> 1);
                    const float val = da_v<F, HD>(vc, min(tt, kChunk - 1), 16 * mt + g + 8 * dr, vsz[j]);
                    v[dr][j] = vok[j] ? val : 0.0f;
                }
            const uint32_t af[4] = {pack_half2(v[0][0], v[0][1]), pack_half2(v[1][0], v[1][1]),
                                    pack_half2(v[0][2], v[0][3]), pack_half2(v[1][2], v[1][3])};
            mma_f16(o[mt], af, pb0, pb1);
        }
        __syncwarp();
    }
    cp_async_wait<0>();
    __syncthreads();
    // Merge the warps: sO[w][head][HD], sM[w][head], sL[w][head] over the rotation table.
    float* sO = reinterpret_cast<float*>(rtab);
    float* sM = sO + 4 * kMaxG * HD;
    float* sL = sM + 4 * kMaxG;
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) {
        float* w0 = sO + (warp * kMaxG + 2 * t) * HD + 16 * mt + g;
        w0[0] = o[mt][0];
        w0[HD] = o[mt][1];
        w0[8] = o[mt][2];
        w0[HD + 8] = o[mt][3];
    }
    if (g == 0) {
        sM[warp * kMaxG + 2 * t] = m_run[0], sM[warp * kMaxG + 2 * t + 1] = m_run[1];
        sL[warp * kMaxG + 2 * t] = l_run[0], sL[warp * kMaxG + 2 * t + 1] = l_run[1];
    }
    __syncthreads();
    const int sg = split_base + split;
    for (int i = tid; i < G * HD; i += kDaThreads) {
        const int hh = i / HD, d = i % HD;
        float M = -INFINITY;
        for (int w = 0; w < 4; ++w) M = fmaxf(M, sM[w * kMaxG + hh]);
        float acc = 0.0f, l = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < 4; ++w) {
                const float mw = sM[w * kMaxG + hh];
                if (mw == -INFINITY) continue;
                const float f = exp2f(mw - M);
                acc += sO[(w * kMaxG + hh) * HD + d] * f;
                l += sL[w * kMaxG + hh] * f;
            }
        float* wo = ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + hh) * total_splits + sg) * (HD + 2);
        wo[d] = acc;
        if (d == 0) wo[HD] = M, wo[HD + 1] = l;
    }
}

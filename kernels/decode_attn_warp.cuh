#pragma once
// Decode attention with one whole chunk (a 64-token page or page slice) per warp (included by decode_attn.cu
// after decode_attn_mma.cuh). Same contract and workspace format as decode_attn_mma_kernel; per block one
// (split, KV head, sequence), kDwWarps warps. Used for the quantized formats (int8, int4, int2).
//
// Why: the block-per-chunk kernel spent each chunk in a serial chain (two block barriers, eight dependent
// score MMAs, softmax shuffles per 16 tokens). Here each warp streams its own chunks through its own
// cp.async ring and keeps its own online softmax; warps never wait on each other until the final merge.
// Per chunk a warp scores up to 4 tiles of 16 tokens (4 independent MMA chains per 16-dim step), runs one
// softmax update over all 64 tokens, hands P from the score layout to the B layout with movmatrix (no
// shared memory), then O^T[HD][8 heads] += V^T[HD][16 tok] . P^T[16 tok][8 heads] per tile.
// Token order inside a 16-token tile: score row r < 8 is token 2r, row r + 8 is token 2r + 1 (one K byte or
// int8 pair holds both of a lane's tokens); after the transpose MMA k index 2t, 2t+1, 2t+8, 2t+9 are tokens
// 4t, 4t+2, 4t+1, 4t+3, so a lane's V rows are 4 consecutive tokens.

constexpr int kDwWarps = 8;
constexpr int kDwThreads = kDwWarps * 32;

template <KvFormat F, int HD>
struct DwSmem {
    using L = DaSmem<F, HD>;
    static constexpr int qstride = HD / 2 + 4;      // half2 per head row of q~ (+4: rows hit other banks)
    static constexpr int qs = kMaxG * HD * 4;       // raw q f32 [8][HD], staged once per block
    static constexpr int qt = kMaxG * qstride * 4;  // q~ half2 [8][qstride], per warp
    static constexpr int merge = kDwWarps * kMaxG * HD * 4 + 2 * kDwWarps * kMaxG * 4;  // over the table
    static_assert(merge <= L::rtab, "merge area must fit in the rotation table");
    static constexpr size_t fixed = L::rtab + qs + kDwWarps * qt;
    static_assert(fixed % 16 == 0 && L::stage % 16 == 0, "stages must stay 16-byte aligned");
    // Two chunks in flight per warp where that fits one block per SM (int4, int2; int8 at HD 64), else one
    // (int8 at HD 128: the other 7 warps' loads still overlap its compute).
    static constexpr int stages = fixed + 2 * kDwWarps * L::stage <= 220 * 1024 ? 2 : 1;
    static constexpr size_t bytes = fixed + static_cast<size_t>(stages) * kDwWarps * L::stage;
};

static __device__ __forceinline__ void copy_async_warp(uint8_t* dst, const uint8_t* src, int bytes,
                                                       int lane) {
    for (int o = lane * 16; o < bytes; o += 32 * 16) cp_async16(dst + o, src + o, 16);
}

// Stages chunk ci of the split (same bytes as da_issue) with the 32 lanes of one warp.
template <KvFormat F, int HD>
__device__ __forceinline__ void dw_issue(const PagedKv& kv, int kvh, int pg0, int p_begin, int cpp, int C,
                                         int ci, uint8_t* st, int lane) {
    using L = DaSmem<F, HD>;
    constexpr int N = L::N;
    const int T = kv.page_tokens;
    const int p = p_begin + ci / cpp, a = ci % cpp;
    const uint8_t* page = kv.pool + static_cast<size_t>(kv.indices[pg0 + p]) * kv.page_bytes;
    const KvPageLayout lay = kv_page_layout(F, T, kv.n_kv_heads, HD);
    const size_t head_codes = static_cast<size_t>(T) * HD * N / 8;
    const uint8_t* kc = page + lay.k_codes + kvh * head_codes;
    const uint8_t* vc = page + lay.v_codes + kvh * head_codes + static_cast<size_t>(a) * C * HD * N / 8;
    if (C == T) {
        copy_async_warp(st, kc, C * HD * N / 8, lane);
    } else {  // K codes are [dim][token]: one 64-token row slice per dim
        const int row = C * N / 8, stride = T * N / 8;
        for (int o = lane * 16; o < HD * row; o += 32 * 16) {
            const int d = o / row, c = o % row;
            cp_async16(st + o, kc + static_cast<size_t>(d) * stride + a * row + c, 16);
        }
    }
    copy_async_warp(st + L::k_bytes, vc, C * HD * N / 8, lane);
    copy_async_warp(st + 2 * L::k_bytes, page + lay.k_scales + static_cast<size_t>(kvh) * HD * 4, HD * 4,
                    lane);
    copy_async_warp(st + 2 * L::k_bytes + L::ks_bytes,
                    page + lay.v_scales + (static_cast<size_t>(kvh) * T + a * C) * 4, C * 4, lane);
}

template <KvFormat F, int HD>
static __global__ void __launch_bounds__(kDwThreads)
    decode_attn_warp_kernel(const float* __restrict__ q, PagedKv kv, int n_heads, int G,
                            const float* __restrict__ inv_freq, float scale_log2, int n_splits,
                            int split_base, int total_splits, float* __restrict__ ws) {
    static_assert(F != KvFormat::f16, "f16 stages do not fit 8 warps; f16 uses decode_attn_mma_kernel");
    using L = DaSmem<F, HD>;
    using S = DwSmem<F, HD>;
    using VS = DaVSlice<F, HD>;
    constexpr int HALF = HD / 2;
    constexpr int KS = HD / 16;  // 16-dim steps
    constexpr int DPL = HD / 8;  // V dims per lane
    constexpr int NS = S::stages;
    constexpr int PPL = HALF / 32;  // RoPE pairs of q~ per lane
    extern __shared__ __align__(16) uint8_t dw_smem[];
    float2* rtab = reinterpret_cast<float2*>(dw_smem);  // [HALF][kRtabStride]
    float* qs = reinterpret_cast<float*>(dw_smem + L::rtab);

    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    __half2* qt = reinterpret_cast<__half2*>(dw_smem + L::rtab + S::qs + warp * S::qt);
    uint8_t* stw = dw_smem + S::fixed + static_cast<size_t>(warp) * NS * L::stage;
    const int T = kv.page_tokens;
    const int C = T < kChunk ? T : kChunk;
    const int cpp = T / C;
    const int pg0 = kv.indptr[b], n_pages = kv.indptr[b + 1] - pg0;
    const int last_len = kv.last_page_len[b];
    const int pps = (n_pages + n_splits - 1) / n_splits;
    const int p_begin = split * pps, p_end = min(n_pages, p_begin + pps);
    const int n_chunks = p_end > p_begin ? (p_end - p_begin) * cpp : 0;
    const int row = C * L::N / 8;  // K bytes per dim in a stage
    const int sg = split_base + split;

    if (n_chunks == 0) {  // empty split: an empty partial
        for (int i = tid; i < G * HD; i += kDwThreads) {
            const int hh = i / HD, d = i % HD;
            float* wo =
                ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + hh) * total_splits + sg) * (HD + 2);
            wo[d] = 0.0f;
            if (d == 0) wo[HD] = -INFINITY, wo[HD + 1] = 0.0f;
        }
        return;
    }
    // This warp's chunks: warp, warp + kDwWarps, ...
    const int nw = n_chunks > warp ? (n_chunks - warp + kDwWarps - 1) / kDwWarps : 0;
#pragma unroll
    for (int i = 0; i < NS - 1; ++i) {  // one commit group per chunk, empty past the end
        if (i < nw)
            dw_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, warp + kDwWarps * i, stw + i * L::stage, lane);
        cp_async_commit();
    }
    // Rotation by the offset inside a chunk (< 64 positions): fast sincos is ~1e-5 accurate there.
    for (int i = tid; i < HALF * kChunk; i += kDwThreads) {
        float c, s;
        __sincosf(static_cast<float>(i % kChunk) * inv_freq[i / kChunk], &s, &c);
        rtab[(i / kChunk) * kRtabStride + i % kChunk] = make_float2(c, s);
    }
    for (int i = tid; i < kMaxG * HD; i += kDwThreads) {  // q of the group, zero past G heads
        const int hh = i / HD;
        qs[i] = hh < G ? q[(static_cast<int64_t>(b) * n_heads + kvh * G + hh) * HD + i % HD] : 0.0f;
    }
    float my_freq[PPL];
#pragma unroll
    for (int r = 0; r < PPL; ++r) my_freq[r] = inv_freq[lane + 32 * r];
    __syncthreads();  // table and q ready; from here on warps run independently until the merge

    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // heads 2t, 2t+1
    float o[KS][4];                                                    // O^T tiles: dims x heads
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;

    for (int j = 0; j < nw; ++j) {
        __syncwarp();  // chunk j-1's stage and q~ fully read by every lane
        const int ci = warp + kDwWarps * j;
        uint8_t* st = stw + (j % NS) * L::stage;
        if (j + NS - 1 < nw)
            dw_issue<F, HD>(kv, kvh, pg0, p_begin, cpp, C, warp + kDwWarps * (j + NS - 1),
                            stw + ((j + NS - 1) % NS) * L::stage, lane);
        cp_async_commit();
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const int in_page = (p == n_pages - 1) ? last_len : T;
        const int len = max(0, min(C, in_page - a * C));
        {  // q~ = scale*log2e * R(-(page_pos + a*C)) q as f16 pairs; one angle per lane per pair
            const int64_t pos0 = static_cast<int64_t>(kv.page_pos[pg0 + p]) + a * C;
#pragma unroll
            for (int r = 0; r < PPL; ++r) {
                const int pr = lane + 32 * r;
                float c, s;
                rope_cos_sin(pos0, my_freq[r], c, s);
#pragma unroll
                for (int hh = 0; hh < kMaxG; ++hh) {
                    const float2 qq = *reinterpret_cast<const float2*>(qs + hh * HD + 2 * pr);
                    qt[hh * S::qstride + pr] = __floats2half2_rn((qq.x * c + qq.y * s) * scale_log2,
                                                                 (-qq.x * s + qq.y * c) * scale_log2);
                }
            }
        }
        cp_async_wait<NS - 1>();  // chunk j landed (a later group may still fly)
        __syncwarp();
        const int n_tiles = (len + 15) / 16;  // warp-uniform, 0..4
        float sc[4][4];
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) sc[tl][0] = sc[tl][1] = sc[tl][2] = sc[tl][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            const __half2* qg = qt + g * S::qstride + 8 * kk + t;
            const uint32_t b0 = *reinterpret_cast<const uint32_t*>(qg),
                           b1 = *reinterpret_cast<const uint32_t*>(qg + 4);
            float2 z[2][2];  // {scale, zero} of dims 2pr, 2pr+1 for pairs i0 = 8kk + t and i0 + 4
#pragma unroll
            for (int hp = 0; hp < 2; ++hp) {
                const uint2 u = reinterpret_cast<const uint2*>(st + 2 * L::k_bytes)[8 * kk + t + 4 * hp];
                z[hp][0] = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
                z[hp][1] = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
            }
#pragma unroll
            for (int tl = 0; tl < 4; ++tl) {
                if (tl >= n_tiles) continue;
                const int tA = 16 * tl + 2 * g, tB = tA + 1;
                uint32_t af[4];
#pragma unroll
                for (int hp = 0; hp < 2; ++hp) {
                    const int pr = 8 * kk + t + 4 * hp;
                    float k[4];
                    da_k2<F, HD>(st, row, 2 * pr, tA, z[hp][0], z[hp][1], k);
                    const float2 ca = rtab[pr * kRtabStride + tA], cb = rtab[pr * kRtabStride + tB];
                    af[2 * hp] = pack_half2(k[0] * ca.x - k[1] * ca.y, k[0] * ca.y + k[1] * ca.x);
                    af[2 * hp + 1] = pack_half2(k[2] * cb.x - k[3] * cb.y, k[2] * cb.y + k[3] * cb.x);
                }
                mma_f16(sc[tl], af, b0, b1);
            }
        }
        // One online-softmax update over the chunk, heads 2t and 2t+1 (scores already in log2 units).
        float pv[4][4], alpha[2];
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) {
            const bool va = 16 * tl + 2 * g < len, vb = 16 * tl + 2 * g + 1 < len;
            pv[tl][0] = va ? sc[tl][0] : -INFINITY, pv[tl][1] = va ? sc[tl][1] : -INFINITY;
            pv[tl][2] = vb ? sc[tl][2] : -INFINITY, pv[tl][3] = vb ? sc[tl][3] : -INFINITY;
        }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mc = -INFINITY;
#pragma unroll
            for (int tl = 0; tl < 4; ++tl) mc = fmaxf(mc, fmaxf(pv[tl][h], pv[tl][2 + h]));
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 4));
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 8));
            mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, 16));
            const float mn = fmaxf(m_run[h], mc);
            const float base = mn == -INFINITY ? 0.0f : mn;
            alpha[h] = exp2f(m_run[h] - base);
            float ls = 0.0f;
#pragma unroll
            for (int tl = 0; tl < 4; ++tl) {
                pv[tl][h] = exp2f(pv[tl][h] - base);
                pv[tl][2 + h] = exp2f(pv[tl][2 + h] - base);
                ls += pv[tl][h] + pv[tl][2 + h];
            }
            ls += __shfl_xor_sync(0xffffffffu, ls, 4);
            ls += __shfl_xor_sync(0xffffffffu, ls, 8);
            ls += __shfl_xor_sync(0xffffffffu, ls, 16);
            l_run[h] = l_run[h] * alpha[h] + ls;
            m_run[h] = mn;
        }
#pragma unroll
        for (int mt = 0; mt < KS; ++mt)
            o[mt][0] *= alpha[0], o[mt][1] *= alpha[1], o[mt][2] *= alpha[0], o[mt][3] *= alpha[1];
        const uint8_t* vc = st + L::k_bytes;
        const __half2* vscale = reinterpret_cast<const __half2*>(st + 2 * L::k_bytes + L::ks_bytes);
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) {
            if (tl >= n_tiles) continue;
            // P^T as the B operand: score rows 0..7 / 8..15 transposed in registers.
            const uint32_t pb0 = movmatrix_trans(pack_half2(pv[tl][0], pv[tl][1]));
            const uint32_t pb1 = movmatrix_trans(pack_half2(pv[tl][2], pv[tl][3]));
            VS vsl[4];
            float2 vsz[4];
            bool vok[4];
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {  // MMA k 2t, 2t+1, 2t+8, 2t+9 = tokens 4t, 4t+2, 4t+1, 4t+3
                const int tt = 16 * tl + 4 * t + 2 * (jj & 1) + (jj >> 1);
                vok[jj] = tt < len;
                vsl[jj].load(vc + tt * (HD * L::N / 8) + g * VS::bytes);
                vsz[jj] = __half22float2(vscale[tt]);
            }
#pragma unroll
            for (int mt = 0; mt < KS; ++mt) {
                float v[2][4];  // [dim 2mt / 2mt+1 of the lane's slice][jj]
#pragma unroll
                for (int dr = 0; dr < 2; ++dr)
#pragma unroll
                    for (int jj = 0; jj < 4; ++jj)
                        v[dr][jj] = vok[jj] ? vsl[jj].at(2 * mt + dr, vsz[jj]) : 0.0f;
                const uint32_t af[4] = {pack_half2(v[0][0], v[0][1]), pack_half2(v[1][0], v[1][1]),
                                        pack_half2(v[0][2], v[0][3]), pack_half2(v[1][2], v[1][3])};
                mma_f16(o[mt], af, pb0, pb1);
            }
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // every warp is done with the rotation table, which the merge area reuses
    float* sO = reinterpret_cast<float*>(rtab);  // [warp][head][HD]
    float* sM = sO + kDwWarps * kMaxG * HD;
    float* sL = sM + kDwWarps * kMaxG;
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
    for (int i = tid; i < G * HD; i += kDwThreads) {
        const int hh = i / HD, d = i % HD;
        float M = -INFINITY;
        for (int w = 0; w < kDwWarps; ++w) M = fmaxf(M, sM[w * kMaxG + hh]);
        float acc = 0.0f, l = 0.0f;
        if (M != -INFINITY)
            for (int w = 0; w < kDwWarps; ++w) {
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

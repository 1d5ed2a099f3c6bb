#pragma once
// Decode attention with one whole chunk (a 64-token page or page slice) per warp (included by decode_attn.cu
// after decode_attn_mma.cuh). Same contract and workspace format as decode_attn_mma_kernel; per block one
// (split, KV head, sequence), DwSmem::warps warps (16 for int4/int2, 8 for int8). Used for int8, int4, int2.
//
// Why: the block-per-chunk kernel spent each chunk in a serial chain (two block barriers, eight dependent
// score MMAs, softmax shuffles per 16 tokens). Here each warp streams its own chunks through its own
// cp.async ring and keeps its own online softmax; warps never wait on each other until the final merge.
// The kernel is issue-bound (one block per SM for its shared memory), so int4/int2 blocks are 16 warps wide
// (4 per scheduler) with a smaller ring per warp.
// Per chunk a warp scores 4 tiles of 16 tokens (4 independent MMA chains per 16-dim step), runs one softmax
// update over all 64 tokens, hands P from the score layout to the B layout with movmatrix (no shared
// memory), then O^T[HD][8 heads] += V^T[HD][16 tok] . P^T[16 tok][8 heads] per tile.
// Token order (a free choice: both MMAs sum over tokens): score row r < 8 of tile tl is chunk token
// 8r + 2tl, row r + 8 is 8r + 2tl + 1, so lane group g owns tokens 8g..8g+7 over the 4 tiles, whose K codes
// for one dim are one N-byte word (one shared load per dim for all tiles). After the transpose, MMA k index
// 2t, 2t+1, 2t+8, 2t+9 of tile tl are tokens 16t + 2tl + {0, 8, 1, 9}.
// V is dequantized in f16x2 (exact codes by the 0x6400 exponent trick, then one HFMA2 with the tokens'
// {scale, zero}): one rounding to f16, as the MMA operand had before. K likewise (HFMA2 with the dims'
// {scale, zero} pairs), then rotated in f16x2 from an f16 {cos, sin} table: three f16 roundings instead of
// one, for about half the instructions of the f32 path (K was ~7 instructions per element, most of the
// kernel's issue slots).

// Rotation-table row stride in 8-byte entries: 16-byte loads without bank conflicts.
constexpr int kDwRtabStride = kChunk + 2;
constexpr int kDwSmemMax = 227 * 1024;  // sm_90 opt-in shared memory per block

template <Codec F, int HD>
struct DwSmem {
    using L = DaSmem<F, HD>;
    // 16 warps where the block still fits one stage per warp (int4, int2), else 8 (int8: 17 KB stages).
    static constexpr int warps = F == Codec::int8 ? 8 : 16;
    static constexpr int threads = warps * 32;
    static constexpr int rtab = HD / 2 * kDwRtabStride * 8;  // cos/sin(j * theta_i), [HD/2][kDwRtabStride]
    static constexpr int qstride = HD / 2 + 4;      // half2 per head row of q~ (+4: rows hit other banks)
    static constexpr int qs = kMaxG * HD * 4;       // raw q f32 [8][HD], staged once per block
    static constexpr int qt = kMaxG * qstride * 4;  // q~ half2 [8][qstride], per warp
    static constexpr size_t fixed = rtab + qs + warps * qt;
    static_assert(fixed % 16 == 0 && L::stage % 16 == 0, "stages must stay 16-byte aligned");
    // Two chunks in flight per warp where that fits, else one (the other warps' loads overlap its compute).
    static constexpr int stages = fixed + 2 * warps * L::stage <= kDwSmemMax ? 2 : 1;
    static constexpr size_t bytes = fixed + static_cast<size_t>(stages) * warps * L::stage;
    static_assert(bytes <= kDwSmemMax, "warp kernel shared memory exceeds the sm_90 opt-in limit");
    // The final merge reuses all of it: O [warps][8 heads][HD], m and l [warps][8 heads].
    static constexpr size_t merge = static_cast<size_t>(warps) * kMaxG * HD * 4 + 2 * warps * kMaxG * 4;
    static_assert(merge <= bytes, "merge area must fit in the dynamic shared memory");
};

// Copies bytes (<= MAXB, a multiple of 16) with the 32 lanes of a warp; unrolled, predicated past bytes.
template <int MAXB>
static __device__ __forceinline__ void copy_async_warp(uint8_t* dst, const uint8_t* src, int bytes,
                                                       int lane) {
#pragma unroll
    for (int i = 0; i < (MAXB + 511) / 512; ++i) {
        const int o = lane * 16 + i * 512;
        if (o < bytes) cp_async16(dst + o, src + o, 16);
    }
}

// Page id and first position of a warp's chunks j = base .. base + 63 in two registers per lane (window w,
// lane l: chunk base + 32w + l), read from the page table 32 chunks ahead, so that no chunk's copy address
// or q~ waits on a dependent global load. Measured at 32k int4 (H100, ncu): no change in kernel time; the
// warps were not waiting on those loads there (RESULTS.md, sixth pass).
struct DwPageWindow {
    int32_t id[2], pos[2];
    int base = 0;
    __device__ __forceinline__ void load(int w, const PagedKv& kv, int pg0, int p_begin, int cpp, int warp,
                                         int W, int nw, int lane) {
        const int j = base + 32 * w + lane;
        id[w] = 0, pos[w] = 0;
        if (j < nw) {
            const int p = pg0 + p_begin + (warp + W * j) / cpp;
            id[w] = kv.indices[p], pos[w] = kv.page_pos[p];
        }
    }
    // Chunk j's page id and position, j in [base, base + 64) (warp-uniform).
    __device__ __forceinline__ int32_t page_id(int j) const {
        const int r = j - base;
        return __shfl_sync(0xffffffffu, r < 32 ? id[0] : id[1], r & 31);
    }
    __device__ __forceinline__ int32_t page_pos(int j) const {
        const int r = j - base;
        return __shfl_sync(0xffffffffu, r < 32 ? pos[0] : pos[1], r & 31);
    }
};

// Stages chunk slice a of page `page_id` (same bytes as da_issue) with the 32 lanes of one warp.
template <Codec F, int HD>
__device__ __forceinline__ void dw_issue(const PagedKv& kv, int kvh, int32_t page_id, int a, int C,
                                         uint8_t* st, int lane) {
    using L = DaSmem<F, HD>;
    constexpr int N = L::N;
    const int T = kv.page_tokens;
    const DaChunk ch = da_chunk_of_page<F, HD>(kv, kvh, page_id, a, C);
    if (C == T) {
        copy_async_warp<L::k_bytes>(st, ch.kc, C * HD * N / 8, lane);
    } else {  // K codes are [dim][token]: one 64-token row slice per dim
        const int row = C * N / 8, stride = T * N / 8;
        for (int o = lane * 16; o < HD * row; o += 32 * 16) {
            const int d = o / row, c = o % row;
            cp_async16(st + o, ch.kc + static_cast<size_t>(d) * stride + ch.a * row + c, 16);
        }
    }
    copy_async_warp<L::k_bytes>(st + L::k_bytes, ch.vc, C * HD * N / 8, lane);
    copy_async_warp<L::ks_bytes>(st + 2 * L::k_bytes, ch.ks, HD * 4, lane);
    copy_async_warp<L::vs_bytes>(st + 2 * L::k_bytes + L::ks_bytes, ch.vs, C * 4, lane);
}

// The bytes dw_issue stages for that slice, prefetched into L2 instead (no shared memory touched): lets a
// dependent launch start its first chunk's DRAM reads before it may write its ring.
template <Codec F, int HD>
__device__ __forceinline__ void dw_prefetch(const PagedKv& kv, int kvh, int32_t page_id, int a, int C,
                                            int lane) {
    constexpr int N = DaSmem<F, HD>::N;
    const DaChunk ch = da_chunk_of_page<F, HD>(kv, kvh, page_id, a, C);
    // K rows of a chunk slice are strided when C < T: the head's whole K block covers them.
    prefetch_l2_range(ch.kc, static_cast<size_t>(kv.page_tokens) * HD * N / 8, lane, 32);
    prefetch_l2_range(ch.vc, static_cast<size_t>(C) * HD * N / 8, lane, 32);
    prefetch_l2_range(ch.ks, HD * 4, lane, 32);
    prefetch_l2_range(ch.vs, C * 4, lane, 32);
}

// K codes of one dim for the 8 tokens 8g..8g+7 of a stage row: N bytes (int8: two words).
template <int N>
struct DwKWord {
    uint32_t w[N == 8 ? 2 : 1];
    __device__ __forceinline__ void load(const uint8_t* p) {
        if constexpr (N == 8) {
            const uint2 u = *reinterpret_cast<const uint2*>(p);
            w[0] = u.x, w[1] = u.y;
        } else if constexpr (N == 4) {
            w[0] = *reinterpret_cast<const uint32_t*>(p);
        } else {
            w[0] = *reinterpret_cast<const uint16_t*>(p);
        }
    }
};

// (x & m) | c in one LOP3: written by hand because the compiler emits an AND and an OR for two immediates.
__device__ __forceinline__ uint32_t and_or(uint32_t x, uint32_t m, uint32_t c) {
    uint32_t r;
    asm("lop3.b32 %0, %1, %2, %3, 0xEA;" : "=r"(r) : "r"(x), "r"(m), "r"(c));
    return r;
}

// Shifts at which a token's N-bit code sits inside its byte: 0, N, 2N, ... (one for int8).
template <int N>
constexpr int kDwShifts = N >= 8 ? 1 : 8 / N;

// The N-bit codes at bit offset `bit` (compile-time after unrolling) of words wa and wb as the dequantized
// f16 pair {a, b}: one PRMT gathers the code's byte of both words, the codes become exact f16 without a
// shift (0x6400 | c is 1024 + c; a code sitting sh bits up in its byte reads as c * 2^sh, which the scale
// pair s[sh / N], pre-divided by 2^sh, undoes), then one HFMA2 with s and the zero pair z.
template <int N>
__device__ __forceinline__ __half2 dw_dq_pair(uint32_t wa, uint32_t wb, int bit,
                                              const __half2 (&s)[kDwShifts<N>], __half2 z) {
    const int byte = bit / 8, sh = bit % 8;
    const uint32_t x = __byte_perm(wa, wb, static_cast<uint32_t>(byte | (4 + byte) << 8));
    const uint32_t m = ((1u << N) - 1) << sh;
    const uint32_t cb = and_or(x, m | m << 16, 0x64006400u);
    const uint32_t k1024 = 0x64006400u;
    const __half2 c =
        __hsub2(*reinterpret_cast<const __half2*>(&cb), *reinterpret_cast<const __half2*>(&k1024));
    return __hfma2(c, s[sh / N], z);
}

// Element i of two tokens' V slices as f16x2 {token a, token b}, with the tokens' scale pairs (per shift)
// and zero pair.
template <Codec F, int HD>
__device__ __forceinline__ uint32_t dw_v_pair(const DaVSlice<F, HD>& a, const DaVSlice<F, HD>& b, int i,
                                              const __half2 (&s)[kDwShifts<DaSmem<F, HD>::N>], __half2 z) {
    constexpr int N = DaSmem<F, HD>::N;
    const int bit = i * N;
    const __half2 v = dw_dq_pair<N>(a.w[bit / 32], b.w[bit / 32], bit % 32, s, z);
    return *reinterpret_cast<const uint32_t*>(&v);
}

// The rotated K pair {dim 2P, dim 2P+1} of token j (0..7, compile-time after unrolling) of a lane group's
// 8 tokens, as the f16x2 MMA operand. w0 / w1: that group's K code words of dims 2P / 2P+1, dequantized
// with the dims' scale pairs (per shift) and zero pair, then rotated by the token's {cos, cos} / {-sin, sin}
// pairs: k*cc + swap(k)*ss.
template <int N>
__device__ __forceinline__ uint32_t dw_k_rot(const DwKWord<N>& w0, const DwKWord<N>& w1, int j,
                                             const __half2 (&s)[kDwShifts<N>], __half2 z, uint32_t cc,
                                             uint32_t ss) {
    const int bit = j * N;
    const __half2 k = dw_dq_pair<N>(w0.w[bit / 32], w1.w[bit / 32], bit % 32, s, z);
    const __half2 r = __hfma2(__lowhigh2highlow(k), *reinterpret_cast<const __half2*>(&ss),
                              __hmul2(k, *reinterpret_cast<const __half2*>(&cc)));
    return *reinterpret_cast<const uint32_t*>(&r);
}

template <Codec F, int HD>
static __global__ void __launch_bounds__(DwSmem<F, HD>::threads, 1)
    decode_attn_warp_kernel(const float* __restrict__ q, PagedKv kv, int n_heads, int G,
                            const float* __restrict__ inv_freq, float scale_log2, int n_splits,
                            int split_base, int total_splits, float* __restrict__ ws, bool prefetch_next) {
    static_assert(F != Codec::fp16, "f16 stages do not fit; f16 uses decode_attn_mma_kernel");
    using L = DaSmem<F, HD>;
    using S = DwSmem<F, HD>;
    using VS = DaVSlice<F, HD>;
    constexpr int N = L::N;
    constexpr int W = S::warps;
    constexpr int NT = S::threads;
    constexpr int HALF = HD / 2;
    constexpr int KS = HD / 16;  // 16-dim steps
    constexpr int NS = S::stages;
    constexpr int PPL = HALF / 32;  // RoPE pairs of q~ per lane
    extern __shared__ __align__(16) uint8_t dw_smem[];
    uint2* rtab =
        reinterpret_cast<uint2*>(dw_smem);  // {cos, cos}, {-sin, sin} f16 pairs [HALF][kDwRtabStride]
    float* qs = reinterpret_cast<float*>(dw_smem + S::rtab);

    const int split = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    __half2* qt = reinterpret_cast<__half2*>(dw_smem + S::rtab + S::qs + warp * S::qt);
    uint8_t* stw = dw_smem + S::fixed + static_cast<size_t>(warp) * NS * L::stage;
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

    if (n_chunks == 0) {  // empty split: an empty partial (block-uniform, so no barrier is skipped unevenly)
        pdl_launch_dependents();
        pdl_wait();
        for (int i = tid; i < G * HD; i += NT) {
            const int hh = i / HD, d = i % HD;
            float* wo =
                ws + ((static_cast<int64_t>(b) * n_heads + kvh * G + hh) * total_splits + sg) * (HD + 2);
            wo[d] = 0.0f;
            if (d == 0) wo[HD] = -INFINITY, wo[HD + 1] = 0.0f;
        }
        return;
    }
    // This warp's chunks: warp, warp + W, ... (none when n_chunks <= warp; it then only joins the merge).
    const int nw = n_chunks > warp ? (n_chunks - warp + W - 1) / W : 0;
    DwPageWindow pw;
    pw.load(0, kv, pg0, p_begin, cpp, warp, W, nw, lane);
    pw.load(1, kv, pg0, p_begin, cpp, warp, W, nw, lane);
#pragma unroll
    for (int i = 0; i < NS - 1; ++i) {  // one commit group per chunk, empty past the end
        if (i < nw)
            dw_issue<F, HD>(kv, kvh, pw.page_id(i), (warp + W * i) % cpp, C, stw + i * L::stage, lane);
        cp_async_commit();
    }
    if (NS == 1 && nw > 0) dw_prefetch<F, HD>(kv, kvh, pw.page_id(0), warp % cpp, C, lane);
    // Rotation by the offset inside a chunk (< 64 positions): fast sincos is ~1e-5 accurate there.
    for (int i = tid; i < HALF * kChunk; i += NT) {
        float c, s;
        __sincosf(static_cast<float>(i % kChunk) * inv_freq[i / kChunk], &s, &c);
        rtab[(i / kChunk) * kDwRtabStride + i % kChunk] = make_uint2(pack_half2(c, c), pack_half2(-s, s));
    }
    // Everything above reads constant data only (pages, page tables, frequencies); q and the workspace
    // belong to the kernels before.
    pdl_launch_dependents();
    pdl_wait();
    for (int i = tid; i < kMaxG * HD; i += NT) {  // q of the group, zero past G heads
        const int hh = i / HD;
        qs[i] =
            hh < G ? q[(static_cast<int64_t>(b) * n_heads + kvh * G + hh) * HD + i % HD] * scale_log2 : 0.0f;
    }
    for (int i = lane; i < (kMaxG - G) * S::qstride; i += 32)  // q~ rows of absent heads: zero, once
        qt[G * S::qstride + i] = __float2half2_rn(0.0f);
    float my_freq[PPL];
#pragma unroll
    for (int r = 0; r < PPL; ++r) my_freq[r] = inv_freq[lane + 32 * r];
    __syncthreads();  // table and q ready; from here on warps run independently until the merge

    float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};  // heads 2t, 2t+1
    float o[KS][4];                                                    // O^T tiles: dims x heads
#pragma unroll
    for (int mt = 0; mt < KS; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;

    // Per-lane offsets that do not change between chunks.
    const __half2* qg0 = qt + g * S::qstride + t;  // + 8kk (+4)
    const int k_off = g * N;                       // tokens 8g.. in a K row
    const uint4* rt0 = reinterpret_cast<const uint4*>(rtab + t * kDwRtabStride + 8 * g);  // + pair, tile
    const int v_off = 16 * t * (HD * N / 8) + g * VS::bytes;  // + token offset rows

    for (int j = 0; j < nw; ++j) {
        __syncwarp();  // chunk j-1's stage and q~ fully read by every lane
        const int ci = warp + W * j;
        uint8_t* st = stw + (NS == 1 ? 0 : (j % NS) * L::stage);
        if (j - pw.base == 32) {  // slide the page window by 32 chunks
            pw.id[0] = pw.id[1], pw.pos[0] = pw.pos[1], pw.base += 32;
            pw.load(1, kv, pg0, p_begin, cpp, warp, W, nw, lane);
        }
        if (j + NS - 1 < nw)
            dw_issue<F, HD>(kv, kvh, pw.page_id(j + NS - 1), (warp + W * (j + NS - 1)) % cpp, C,
                            stw + (NS == 1 ? 0 : ((j + NS - 1) % NS) * L::stage), lane);
        cp_async_commit();
        // One stage: chunk j + 1 cannot be staged before chunk j is consumed, so it is at least started
        // toward L2 now, and its copy next iteration waits on L2 rather than DRAM.
        if (NS == 1 && j + 1 < nw)
            dw_prefetch<F, HD>(kv, kvh, pw.page_id(j + 1), (warp + W * (j + 1)) % cpp, C, lane);
        const int p = p_begin + ci / cpp, a = ci % cpp;
        const int in_page = (p == n_pages - 1) ? last_len : T;
        const int len = max(0, min(C, in_page - a * C));
        {  // q~ = R(-(page_pos + a*C)) (scale*log2e q) as f16 pairs; one angle per lane per pair
            const int64_t pos0 = static_cast<int64_t>(pw.page_pos(j)) + a * C;
#pragma unroll
            for (int r = 0; r < PPL; ++r) {
                const int pr = lane + 32 * r;
                float c, s;
                rope_cos_sin(pos0, my_freq[r], c, s);
#pragma unroll
                for (int hh = 0; hh < kMaxG; ++hh) {  // rows past G stay zero
                    if (hh >= G) break;
                    const float2 qq = *reinterpret_cast<const float2*>(qs + hh * HD + 2 * pr);
                    qt[hh * S::qstride + pr] = __floats2half2_rn(qq.x * c + qq.y * s, -qq.x * s + qq.y * c);
                }
            }
        }
        cp_async_wait<NS - 1>();  // chunk j landed (a later group may still fly)
        __syncwarp();
        // Scores of all 4 tiles. Tokens past len (short or partial chunks) are scored from finite stale
        // codes and masked below.
        float sc[4][4];
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) sc[tl][0] = sc[tl][1] = sc[tl][2] = sc[tl][3] = 0.0f;
        const uint8_t* kst = st + k_off;
        const uint2* kscale = reinterpret_cast<const uint2*>(st + 2 * L::k_bytes) + t;
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
            const uint32_t b0 = *reinterpret_cast<const uint32_t*>(qg0 + 8 * kk),
                           b1 = *reinterpret_cast<const uint32_t*>(qg0 + 8 * kk + 4);
            // Scale pairs (one per code shift) and zero pairs of dims 2pr, 2pr+1, pairs pr = 8kk + t and pr
            // + 4.
            __half2 ks[2][kDwShifts<N>], kz[2];
            DwKWord<N> kw[2][2];
#pragma unroll
            for (int hp = 0; hp < 2; ++hp) {
                const int pr = 8 * kk + 4 * hp;  // + t (in kst / kscale)
                const uint2 u = kscale[pr];      // {scale, zero} of dim 2(pr + t), then of dim 2(pr + t) + 1
                const uint32_t sp = __byte_perm(u.x, u.y, 0x5410), zp = __byte_perm(u.x, u.y, 0x7632);
#pragma unroll
                for (int i = 0; i < kDwShifts<N>; ++i) {  // times 2^-(i*N) (f16 bits): exact scaling
                    const uint32_t inv = (15u - i * N) << 10 | (15u - i * N) << 26;
                    ks[hp][i] = *reinterpret_cast<const __half2*>(&sp);
                    if (i > 0) ks[hp][i] = __hmul2(ks[hp][i], *reinterpret_cast<const __half2*>(&inv));
                }
                kz[hp] = *reinterpret_cast<const __half2*>(&zp);
                kw[hp][0].load(kst + (2 * (pr + t)) * row);
                kw[hp][1].load(kst + (2 * (pr + t) + 1) * row);
            }
#pragma unroll
            for (int tl = 0; tl < 4; ++tl) {
                uint32_t af[4];
#pragma unroll
                for (int hp = 0; hp < 2; ++hp) {
                    const int pr = 8 * kk + 4 * hp;  // + t (in rt0)
                    // Rotation pairs of tokens 8g + 2tl and 8g + 2tl + 1 for pair pr + t, one 16-byte load.
                    const uint4 cs = rt0[(pr * kDwRtabStride + 2 * tl) / 2];
                    af[2 * hp] = dw_k_rot<N>(kw[hp][0], kw[hp][1], 2 * tl, ks[hp], kz[hp], cs.x, cs.y);
                    af[2 * hp + 1] =
                        dw_k_rot<N>(kw[hp][0], kw[hp][1], 2 * tl + 1, ks[hp], kz[hp], cs.z, cs.w);
                }
                mma_f16(sc[tl], af, b0, b1);
            }
        }
        // One online-softmax update over the chunk, heads 2t and 2t+1 (scores already in log2 units).
        float pv[4][4], alpha[2];
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) {
            const bool va = 8 * g + 2 * tl < len, vb = 8 * g + 2 * tl + 1 < len;
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
        const uint8_t* vc = st + L::k_bytes + v_off;
        const uint32_t* vscale = reinterpret_cast<const uint32_t*>(st + 2 * L::k_bytes + L::ks_bytes);
#pragma unroll
        for (int tl = 0; tl < 4; ++tl) {
            // P^T as the B operand: score rows 0..7 / 8..15 transposed in registers.
            const uint32_t pb0 = movmatrix_trans(pack_half2(pv[tl][0], pv[tl][1]));
            const uint32_t pb1 = movmatrix_trans(pack_half2(pv[tl][2], pv[tl][3]));
            VS vsl[4];
            uint32_t sz[4];  // {scale, zero} f16 pair of each token; zero past len, so its V is exactly 0
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {  // MMA k 2t, 2t+1, 2t+8, 2t+9 = tokens 16t + 2tl + 0, 8, 1, 9
                const int dt = 2 * tl + 8 * (jj & 1) + (jj >> 1);
                vsl[jj].load(vc + dt * (HD * N / 8));
                sz[jj] = 16 * t + dt < len ? vscale[16 * t + dt] : 0u;
            }
            uint32_t sp[2], zp[2];  // {token jj, token jj + 1} pairs for jj = 0, 2
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                sp[h] = __byte_perm(sz[2 * h], sz[2 * h + 1], 0x5410);
                zp[h] = __byte_perm(sz[2 * h], sz[2 * h + 1], 0x7632);
            }
            __half2 s01[kDwShifts<N>], s23[kDwShifts<N>];  // scale pairs per code shift (times 2^-sh, exact)
#pragma unroll
            for (int i = 0; i < kDwShifts<N>; ++i) {
                const uint32_t inv = (15u - i * N) << 10 | (15u - i * N) << 26;
                s01[i] = *reinterpret_cast<const __half2*>(&sp[0]);
                s23[i] = *reinterpret_cast<const __half2*>(&sp[1]);
                if (i > 0) {
                    s01[i] = __hmul2(s01[i], *reinterpret_cast<const __half2*>(&inv));
                    s23[i] = __hmul2(s23[i], *reinterpret_cast<const __half2*>(&inv));
                }
            }
            const __half2 z01 = *reinterpret_cast<const __half2*>(&zp[0]),
                          z23 = *reinterpret_cast<const __half2*>(&zp[1]);
#pragma unroll
            for (int mt = 0; mt < KS; ++mt) {
                const uint32_t af[4] = {dw_v_pair<F, HD>(vsl[0], vsl[1], 2 * mt, s01, z01),
                                        dw_v_pair<F, HD>(vsl[0], vsl[1], 2 * mt + 1, s01, z01),
                                        dw_v_pair<F, HD>(vsl[2], vsl[3], 2 * mt, s23, z23),
                                        dw_v_pair<F, HD>(vsl[2], vsl[3], 2 * mt + 1, s23, z23)};
                mma_f16(o[mt], af, pb0, pb1);
            }
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // every warp is done with all of shared memory, which the merge area reuses
    da_merge_warps<W, HD>(reinterpret_cast<float*>(dw_smem), o, m_run, l_run, G,
                          ws + ((static_cast<int64_t>(b) * n_heads + kvh * G) * total_splits + sg) * (HD + 2),
                          static_cast<int64_t>(total_splits) * (HD + 2));
}

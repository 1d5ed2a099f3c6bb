#include "flash_attn.cuh"
#include "mma.cuh"

namespace docket::cuda {

// Each warp owns 32 query rows (two 16-row MMA tiles), so every K / V fragment read from shared memory feeds
// two MMAs and the two tiles' chains interleave: with 16 rows per warp the kernel ran at ~150 TFLOP/s on the
// H100, stalled on fixed-latency dependencies at 2 warps per scheduler (ncu).
constexpr int kFaWarps = 4, kMt = 2, kBr = 16 * kMt * kFaWarps, kBc = 64;

template <int HD>
struct FaSmem {
    static constexpr int stride = HD + 8;  // halves per smem row: +16 bytes keeps ldmatrix rows off one bank
    static constexpr int q_tile = kBr * stride;
    static constexpr int kv_tile = kBc * stride;
    static constexpr size_t bytes =
        (static_cast<size_t>(q_tile) + 4 * kv_tile) * sizeof(__half);  // Q, 2x K, 2x V
};

// Loads rows [row0, row0+ROWS) of a [n_rows][row_stride] f16 matrix (head offset applied) into smem,
// zero-filling rows past n_rows. 16-byte cp.async per thread: a thread keeps its column and steps its row
// by the rows one pass of the block covers (the address math once, not per copy).
template <int HD, int ROWS>
static __device__ __forceinline__ void load_tile_async(__half* dst, const __half* src, int64_t row0,
                                                       int64_t n_rows, int64_t row_stride) {
    constexpr int chunks = HD / 8;                // 16-byte chunks per row
    constexpr int pass = 32 * kFaWarps / chunks;  // rows per pass of the block
    static_assert(ROWS % pass == 0, "tile rows must be whole passes");
    const int r0 = threadIdx.x / chunks, col = (threadIdx.x % chunks) * 8;
    const int left =
        static_cast<int>(min(max(n_rows - row0 - r0, int64_t{0}), int64_t{ROWS}));  // rows in range
    const __half* s = src + (row0 + r0) * row_stride + col;
    __half* d = dst + r0 * FaSmem<HD>::stride + col;
#pragma unroll
    for (int i = 0; i < ROWS / pass; ++i) {
        const bool in = i * pass < left;
        cp_async16(d + i * pass * FaSmem<HD>::stride, in ? s + i * pass * row_stride : src, in ? 16 : 0);
    }
}

template <int HD>
static __global__ void __launch_bounds__(32 * kFaWarps)
    flash_attn_kernel(const __half* __restrict__ q, const __half* __restrict__ k,
                      const __half* __restrict__ v, int64_t n_q, int64_t n_kv, int n_heads, int n_kv_heads,
                      float scale_log2, __half* __restrict__ out) {
    extern __shared__ __align__(16) unsigned char fa_smem_raw[];
    __half* sq = reinterpret_cast<__half*>(fa_smem_raw);
    __half* sk = sq + FaSmem<HD>::q_tile;       // 2 buffers
    __half* sv = sk + 2 * FaSmem<HD>::kv_tile;  // 2 buffers
    constexpr int S = FaSmem<HD>::stride;
    constexpr int NT = kBc / 8;  // 8-key score tiles per row block

    const int tile = gridDim.x - 1 - blockIdx.x;  // heaviest (last) query tiles first
    const int h = blockIdx.y, kvh = h / (n_heads / n_kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int64_t q0 = static_cast<int64_t>(tile) * kBr;
    const int64_t off = n_kv - n_q;  // key index of query row 0
    const int64_t q_stride = static_cast<int64_t>(n_heads) * HD,
                  kv_stride = static_cast<int64_t>(n_kv_heads) * HD;

    const __half* qh = q + static_cast<int64_t>(h) * HD;
    const __half* kh = k + static_cast<int64_t>(kvh) * HD;
    const __half* vh = v + static_cast<int64_t>(kvh) * HD;

    // Keys this tile needs: up to the last row's index.
    const int64_t last_row = min(q0 + kBr, n_q) - 1;
    const int64_t kv_end = min(n_kv, last_row + off + 1);
    const int n_tiles = static_cast<int>((kv_end + kBc - 1) / kBc);

    load_tile_async<HD, kBr>(sq, qh, q0, n_q, q_stride);
    load_tile_async<HD, kBc>(sk, kh, 0, n_kv, kv_stride);
    load_tile_async<HD, kBc>(sv, vh, 0, n_kv, kv_stride);
    cp_async_commit();

    float o[kMt][HD / 8][4];
#pragma unroll
    for (int mt = 0; mt < kMt; ++mt)
#pragma unroll
        for (int i = 0; i < HD / 8; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    // Running max (raw score units) and sum of rows g and g+8 of each of the warp's two row tiles.
    float m[kMt][2], l[kMt][2];
#pragma unroll
    for (int mt = 0; mt < kMt; ++mt) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
    const int64_t wrow0 = q0 + warp * 16 * kMt;  // the warp's first query row

    for (int it = 0; it < n_tiles; ++it) {
        const int buf = it & 1;
        if (it + 1 < n_tiles) {
            load_tile_async<HD, kBc>(sk + (buf ^ 1) * FaSmem<HD>::kv_tile, kh,
                                     static_cast<int64_t>(it + 1) * kBc, n_kv, kv_stride);
            load_tile_async<HD, kBc>(sv + (buf ^ 1) * FaSmem<HD>::kv_tile, vh,
                                     static_cast<int64_t>(it + 1) * kBc, n_kv, kv_stride);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        const int64_t j0 = static_cast<int64_t>(it) * kBc;
        // A tile whose first key is past this warp's last row (+ off) is fully masked for it: skipped.
        if (j0 <= wrow0 + 16 * kMt - 1 + off) {
            const __half* ks = sk + buf * FaSmem<HD>::kv_tile;
            const __half* vs = sv + buf * FaSmem<HD>::kv_tile;

            // S = Q K^T for this warp's 32 rows x 64 keys; each K fragment serves both row tiles.
            float s[kMt][NT][4];
#pragma unroll
            for (int mt = 0; mt < kMt; ++mt)
#pragma unroll
                for (int i = 0; i < NT; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
#pragma unroll
            for (int kc = 0; kc < HD / 16; ++kc) {
                uint32_t qa[kMt][4];
#pragma unroll
                for (int mt = 0; mt < kMt; ++mt) {
                    const int r = warp * 16 * kMt + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8,
                              c = kc * 16 + (lane >> 4) * 8;
                    ldmatrix_x4(qa[mt], sq + r * S + c);
                }
#pragma unroll
                for (int n2 = 0; n2 < kBc / 16; ++n2) {
                    uint32_t b[4];
                    const int key = n2 * 16 + (lane & 7) + ((lane >> 4) << 3),
                              dim = kc * 16 + ((lane >> 3) & 1) * 8;
                    ldmatrix_x4(b, ks + key * S + dim);
#pragma unroll
                    for (int mt = 0; mt < kMt; ++mt) {
                        mma_f16(s[mt][2 * n2], qa[mt], b[0], b[1]);
                        mma_f16(s[mt][2 * n2 + 1], qa[mt], b[2], b[3]);
                    }
                }
            }
            // Mask (causal + past n_kv) where this tile reaches the diagonal or the end, in 32-bit offsets
            // from the warp's first row and the tile's first key: key c of row r is masked when
            // c - r > wrow0 + off - j0 (causal) or c >= n_kv - j0.
            if (j0 + kBc - 1 > wrow0 + off || j0 + kBc > n_kv) {
                const int causal =
                    static_cast<int>(max(min(wrow0 + off - j0, int64_t{1} << 20), -(int64_t{1} << 20)));
                const int end = static_cast<int>(min(n_kv - j0, int64_t{1} << 20));
#pragma unroll
                for (int mt = 0; mt < kMt; ++mt)
#pragma unroll
                    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            const int c = nt * 8 + 2 * t + (e & 1), r = mt * 16 + g + (e < 2 ? 0 : 8);
                            if (c - r > causal || c >= end) s[mt][nt][e] = -INFINITY;
                        }
            }
            // Online softmax per row (raw scores; the scale is folded into one FFMA before exp2). Each row's
            // 64 values live on the 4 lanes of a quad.
            uint32_t pa[kMt][kBc / 16][4];
#pragma unroll
            for (int mt = 0; mt < kMt; ++mt) {
                float mx0 = m[mt][0], mx1 = m[mt][1];
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    mx0 = fmaxf(mx0, fmaxf(s[mt][nt][0], s[mt][nt][1]));
                    mx1 = fmaxf(mx1, fmaxf(s[mt][nt][2], s[mt][nt][3]));
                }
                mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
                mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
                mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
                mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
                const float nb0 = mx0 == -INFINITY ? 0.0f : -mx0 * scale_log2,
                            nb1 = mx1 == -INFINITY ? 0.0f : -mx1 * scale_log2;
                const float a0 = exp2_approx(fmaf(m[mt][0], scale_log2, nb0)),
                            a1 = exp2_approx(fmaf(m[mt][1], scale_log2, nb1));
                m[mt][0] = mx0, m[mt][1] = mx1;
                l[mt][0] *= a0, l[mt][1] *= a1;
#pragma unroll
                for (int i = 0; i < HD / 8; ++i) {
                    o[mt][i][0] *= a0;
                    o[mt][i][1] *= a0;
                    o[mt][i][2] *= a1;
                    o[mt][i][3] *= a1;
                }
#pragma unroll
                for (int nt = 0; nt < NT; ++nt) {
                    const float p0 = exp2_approx(fmaf(s[mt][nt][0], scale_log2, nb0)),
                                p1 = exp2_approx(fmaf(s[mt][nt][1], scale_log2, nb0));
                    const float p2 = exp2_approx(fmaf(s[mt][nt][2], scale_log2, nb1)),
                                p3 = exp2_approx(fmaf(s[mt][nt][3], scale_log2, nb1));
                    l[mt][0] += p0 + p1;
                    l[mt][1] += p2 + p3;
                    pa[mt][nt >> 1][(nt & 1) * 2] = pack_half2(p0, p1);
                    pa[mt][nt >> 1][(nt & 1) * 2 + 1] = pack_half2(p2, p3);
                }
            }
            // O += P V; each V fragment serves both row tiles.
#pragma unroll
            for (int dp = 0; dp < HD / 16; ++dp) {
#pragma unroll
                for (int kk = 0; kk < kBc / 16; ++kk) {
                    uint32_t b[4];
                    const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8,
                              dim = dp * 16 + (lane >> 4) * 8;
                    ldmatrix_x4_trans(b, vs + key * S + dim);
#pragma unroll
                    for (int mt = 0; mt < kMt; ++mt) {
                        mma_f16(o[mt][2 * dp], pa[mt][kk], b[0], b[1]);
                        mma_f16(o[mt][2 * dp + 1], pa[mt][kk], b[2], b[3]);
                    }
                }
            }
        }
        __syncthreads();  // the buffer is refilled next iteration
    }
    cp_async_wait<0>();

#pragma unroll
    for (int mt = 0; mt < kMt; ++mt) {
        float l0 = l[mt][0], l1 = l[mt][1];
        l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
        l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
        const int64_t row_a = wrow0 + mt * 16 + g, row_b = row_a + 8;
#pragma unroll
        for (int i = 0; i < HD / 8; ++i) {
            const int col = i * 8 + 2 * t;
            if (row_a < n_q)
                *reinterpret_cast<__half2*>(out + row_a * q_stride + static_cast<int64_t>(h) * HD + col) =
                    __floats2half2_rn(o[mt][i][0] * inv0, o[mt][i][1] * inv0);
            if (row_b < n_q)
                *reinterpret_cast<__half2*>(out + row_b * q_stride + static_cast<int64_t>(h) * HD + col) =
                    __floats2half2_rn(o[mt][i][2] * inv1, o[mt][i][3] * inv1);
        }
    }
}

template <int HD>
static Status launch_flash_attn(const __half* q, const __half* k, const __half* v, int64_t n_q, int64_t n_kv,
                                int n_heads, int n_kv_heads, float scale, __half* out, cudaStream_t stream) {
    const size_t smem = FaSmem<HD>::bytes;
    static bool attr_set = false;  // set once per instantiation; harmless if raced (idempotent)
    if (!attr_set) {
        DK_TRY(cuda_status(
            cudaFuncSetAttribute(flash_attn_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(smem)),
            "flash_attn_prefill", "set shared memory"));
        attr_set = true;
    }
    const dim3 grid(ceil_div(n_q, kBr), n_heads);
    flash_attn_kernel<HD><<<grid, 32 * kFaWarps, smem, stream>>>(q, k, v, n_q, n_kv, n_heads, n_kv_heads,
                                                                 scale * 1.4426950408889634f, out);
    return launch_status("flash_attn_prefill");
}

Status flash_attn_prefill(const __half* q, const __half* k, const __half* v, int64_t n_q, int64_t n_kv,
                          int n_heads, int n_kv_heads, int head_dim, float scale, __half* out,
                          cudaStream_t stream) {
    if (n_q <= 0 || n_kv < n_q || n_heads <= 0 || n_kv_heads <= 0 || n_heads % n_kv_heads != 0 ||
        n_q > (int64_t{1} << 31) / 64 * 64)
        return bad_arg("flash_attn_prefill",
                       "bad shape n_q=" + std::to_string(n_q) + " n_kv=" + std::to_string(n_kv));
    if (head_dim == 64)
        return launch_flash_attn<64>(q, k, v, n_q, n_kv, n_heads, n_kv_heads, scale, out, stream);
    if (head_dim == 128)
        return launch_flash_attn<128>(q, k, v, n_q, n_kv, n_heads, n_kv_heads, scale, out, stream);
    return Status(ErrorCode::unsupported,
                  "flash_attn_prefill: head_dim " + std::to_string(head_dim) + " (Docket ships 64 and 128)");
}

}  // namespace docket::cuda

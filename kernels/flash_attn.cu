#include "flash_attn.cuh"
#include "mma.cuh"

namespace docket::cuda {

constexpr int kBr = 64, kBc = 64, kFaWarps = 4;

template <int HD>
struct FaSmem {
    static constexpr int stride = HD + 8;  // halves per smem row: +16 bytes keeps ldmatrix rows off one bank
    static constexpr int tile = 64 * stride;
    static constexpr size_t bytes = static_cast<size_t>(5) * tile * sizeof(__half);  // Q, 2x K, 2x V
};

// Loads rows [row0, row0+64) of a [n_rows][row_stride] f16 matrix (head offset applied) into smem,
// zero-filling rows past n_rows. 16-byte cp.async per thread.
template <int HD>
static __device__ __forceinline__ void load_tile_async(__half* dst, const __half* src, int64_t row0,
                                                       int64_t n_rows, int64_t row_stride) {
    constexpr int chunks = HD / 8;  // 16-byte chunks per row
    for (int c = threadIdx.x; c < 64 * chunks; c += blockDim.x) {
        const int r = c / chunks, col = (c % chunks) * 8;
        const int64_t gr = row0 + r;
        const __half* s = src + (gr < n_rows ? gr : 0) * row_stride + col;
        cp_async16(dst + r * FaSmem<HD>::stride + col, s, gr < n_rows ? 16 : 0);
    }
}

template <int HD>
static __global__ void __launch_bounds__(32 * kFaWarps)
    flash_attn_kernel(const __half* __restrict__ q, const __half* __restrict__ k,
                      const __half* __restrict__ v, int64_t n_q, int64_t n_kv, int n_heads, int n_kv_heads,
                      float scale_log2, __half* __restrict__ out) {
    extern __shared__ __align__(16) unsigned char fa_smem_raw[];
    __half* sq = reinterpret_cast<__half*>(fa_smem_raw);
    __half* sk = sq + FaSmem<HD>::tile;      // 2 buffers
    __half* sv = sk + 2 * FaSmem<HD>::tile;  // 2 buffers
    constexpr int S = FaSmem<HD>::stride;

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

    load_tile_async<HD>(sq, qh, q0, n_q, q_stride);
    load_tile_async<HD>(sk, kh, 0, n_kv, kv_stride);
    load_tile_async<HD>(sv, vh, 0, n_kv, kv_stride);
    cp_async_commit();

    uint32_t qf[HD / 16][4];
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;  // rows g and g+8 of this warp
    const int64_t row_a = q0 + warp * 16 + g, row_b = row_a + 8;

    for (int it = 0; it < n_tiles; ++it) {
        const int buf = it & 1;
        if (it + 1 < n_tiles) {
            load_tile_async<HD>(sk + (buf ^ 1) * FaSmem<HD>::tile, kh, static_cast<int64_t>(it + 1) * kBc,
                                n_kv, kv_stride);
            load_tile_async<HD>(sv + (buf ^ 1) * FaSmem<HD>::tile, vh, static_cast<int64_t>(it + 1) * kBc,
                                n_kv, kv_stride);
        }
        cp_async_commit();
        cp_async_wait<1>();
        __syncthreads();
        if (it == 0) {
            // Q fragments stay in registers for the whole loop.
#pragma unroll
            for (int kc = 0; kc < HD / 16; ++kc) {
                const int r = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, c = kc * 16 + (lane >> 4) * 8;
                ldmatrix_x4(qf[kc], sq + r * S + c);
            }
        }
        const __half* ks = sk + buf * FaSmem<HD>::tile;
        const __half* vs = sv + buf * FaSmem<HD>::tile;

        // S = Q K^T for this warp's 16 rows x 64 keys.
        float s[kBc / 8][4];
#pragma unroll
        for (int i = 0; i < kBc / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
        for (int n2 = 0; n2 < kBc / 16; ++n2) {
#pragma unroll
            for (int kc = 0; kc < HD / 16; ++kc) {
                uint32_t b[4];
                const int key = n2 * 16 + (lane & 7) + ((lane >> 4) << 3),
                          dim = kc * 16 + ((lane >> 3) & 1) * 8;
                ldmatrix_x4(b, ks + key * S + dim);
                mma_f16(s[2 * n2], qf[kc], b[0], b[1]);
                mma_f16(s[2 * n2 + 1], qf[kc], b[2], b[3]);
            }
        }
        // Scale into log2 units and mask (causal + past n_kv).
        const int64_t j0 = static_cast<int64_t>(it) * kBc;
        const bool need_mask = j0 + kBc - 1 > q0 + warp * 16 + off || j0 + kBc > n_kv;
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                float x = s[nt][e] * scale_log2;
                if (need_mask) {
                    const int64_t col = j0 + nt * 8 + 2 * t + (e & 1);
                    const int64_t row = e < 2 ? row_a : row_b;
                    if (col > row + off || col >= n_kv) x = -INFINITY;
                }
                s[nt][e] = x;
            }
        }
        // Online softmax per row; each row's 64 values live on the 4 lanes of a quad.
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt) {
            mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
            mx1 = fmaxf(mx1, fmaxf(s[nt][2], s[nt][3]));
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float base0 = mx0 == -INFINITY ? 0.0f : mx0, base1 = mx1 == -INFINITY ? 0.0f : mx1;
        const float a0 = exp2f(m0 - base0), a1 = exp2f(m1 - base1);
        m0 = mx0;
        m1 = mx1;
        l0 *= a0;
        l1 *= a1;
#pragma unroll
        for (int i = 0; i < HD / 8; ++i) {
            o[i][0] *= a0;
            o[i][1] *= a0;
            o[i][2] *= a1;
            o[i][3] *= a1;
        }
        uint32_t pa[kBc / 16][4];
#pragma unroll
        for (int nt = 0; nt < kBc / 8; ++nt) {
            const float p0 = exp2f(s[nt][0] - base0), p1 = exp2f(s[nt][1] - base0);
            const float p2 = exp2f(s[nt][2] - base1), p3 = exp2f(s[nt][3] - base1);
            l0 += p0 + p1;
            l1 += p2 + p3;
            pa[nt >> 1][(nt & 1) * 2] = pack_half2(p0, p1);
            pa[nt >> 1][(nt & 1) * 2 + 1] = pack_half2(p2, p3);
        }
        // O += P V.
#pragma unroll
        for (int dp = 0; dp < HD / 16; ++dp) {
#pragma unroll
            for (int kk = 0; kk < kBc / 16; ++kk) {
                uint32_t b[4];
                const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dim = dp * 16 + (lane >> 4) * 8;
                ldmatrix_x4_trans(b, vs + key * S + dim);
                mma_f16(o[2 * dp], pa[kk], b[0], b[1]);
                mma_f16(o[2 * dp + 1], pa[kk], b[2], b[3]);
            }
        }
        __syncthreads();  // the buffer is refilled next iteration
    }
    cp_async_wait<0>();

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) {
        const int col = i * 8 + 2 * t;
        if (row_a < n_q)
            *reinterpret_cast<__half2*>(out + row_a * q_stride + static_cast<int64_t>(h) * HD + col) =
                __floats2half2_rn(o[i][0] * inv0, o[i][1] * inv0);
        if (row_b < n_q)
            *reinterpret_cast<__half2*>(out + row_b * q_stride + static_cast<int64_t>(h) * HD + col) =
                __floats2half2_rn(o[i][2] * inv1, o[i][3] * inv1);
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

#include "runtime/cpu/matmul.h"

#include <algorithm>
#include <atomic>

#include "model/dequant.h"
#include "runtime/cpu/simd.h"

namespace docket::cpu {

void MatmulScratch::reserve(int n_threads, int64_t max_n_in) {
    if (static_cast<int>(bufs_.size()) < n_threads) bufs_.resize(n_threads);
    for (auto& b : bufs_)
        if (static_cast<int64_t>(b.size()) < kRowTile * max_n_in) b.resize(kRowTile * max_n_in);
}

bool matmul_supports(GgmlType type) {
    const int t = static_cast<int>(type);
    if (t < kMaxGgmlType && kernels().dequant[t]) return true;
    return can_dequantize(type);
}

namespace {

// Dequantizes rows [r0, r0 + n) into out [n][n_in].
Status dequant_rows(const CpuKernels& k, const WeightView& w, int64_t r0, int64_t n, float* out) {
    const int t = static_cast<int>(w.type);
    const DequantFn fused = t < kMaxGgmlType ? k.dequant[t] : nullptr;
    for (int64_t i = 0; i < n; ++i) {
        if (fused) {
            fused(w.row(r0 + i), out + i * w.n_in, w.n_in);
        } else {
            DK_TRY(dequantize_row(w.type, w.row(r0 + i), out + i * w.n_in, w.n_in));
        }
    }
    return Status::ok();
}

}  // namespace

Status dequant_row(const WeightView& w, int64_t r, float* out) {
    if (r < 0 || r >= w.n_out)
        return make_error(ErrorCode::invalid_argument, "row {} out of range [0, {})", r, w.n_out);
    return dequant_rows(kernels(), w, r, 1, out);
}

Status matmul(ThreadPool& pool, MatmulScratch& scratch, const WeightView& w, const float* x, int64_t n_tok,
              float* y) {
    const CpuKernels& k = kernels();
    const int t = static_cast<int>(w.type);
    const DotFn dot = t < kMaxGgmlType ? k.dot[t] : nullptr;
    const int64_t n_in = w.n_in, n_out = w.n_out;
    scratch.reserve(pool.size(), n_in);
    std::atomic<bool> failed{false};
    Status first_error;

    if (n_tok == 1 && dot) {
        pool.parallel_for(n_out, [&](int64_t b, int64_t e, int) {
            for (int64_t r = b; r < e; ++r) y[r] = dot(w.row(r), x, n_in);
        });
        return Status::ok();
    }

    // Tiles of kRowTile weight rows, dequantized once and multiplied with all tokens.
    const int64_t tile = MatmulScratch::kRowTile;
    const int64_t n_tiles = (n_out + tile - 1) / tile;
    pool.parallel_for(n_tiles, [&](int64_t b, int64_t e, int thread) {
        float* buf = scratch.thread_buffer(thread);
        for (int64_t ti = b; ti < e; ++ti) {
            const int64_t r0 = ti * tile;
            const int64_t nr = std::min(tile, n_out - r0);
            Status s = dequant_rows(k, w, r0, nr, buf);
            if (!s.is_ok()) {
                if (!failed.exchange(true)) first_error = s;
                return;
            }
            k.gemm_nt(n_tok, nr, n_in, x, n_in, buf, n_in, y + r0, n_out);
        }
    });
    if (failed.load()) return first_error;
    return Status::ok();
}

}  // namespace docket::cpu

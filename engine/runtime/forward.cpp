#include "runtime/forward.h"

#include <algorithm>
#include <cmath>
#include <new>

#include "runtime/cpu/simd.h"

namespace docket {

namespace {
template <typename T>
void grow(std::vector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
}
}  // namespace

CpuForward::CpuForward(const Model& model, int n_threads, int ubatch)
    : model_(model),
      pool_(n_threads),
      ubatch_(std::max(1, ubatch)),
      rope_(cpu::make_rope_table(model.config(), model.rope_freq_factors())),
      attention_(model.config(), rope_) {}

Status CpuForward::eval(KvCache& cache, std::span<const TokenId> tokens, LogitsMode mode,
                        std::vector<float>* logits, const CancelFlag* cancel) {
    int32_t next = 0;
    for (int32_t i = 0; i < cache.size(); ++i) next = std::max(next, cache.positions()[i] + 1);
    std::vector<int32_t> pos(tokens.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = next + static_cast<int32_t>(i);
    return eval(cache, tokens, pos, mode, logits, cancel);
}

Status CpuForward::eval(KvCache& cache, std::span<const TokenId> tokens, std::span<const int32_t> positions,
                        LogitsMode mode, std::vector<float>* logits, const CancelFlag* cancel) {
    const ModelConfig& c = model_.config();
    if (tokens.size() != positions.size())
        return make_error(ErrorCode::invalid_argument, "eval: {} tokens but {} positions", tokens.size(),
                          positions.size());
    if (cache.n_layer() != c.n_layer || cache.n_kv_heads() != c.n_head_kv || cache.head_dim() != c.head_dim)
        return make_error(ErrorCode::invalid_argument, "eval: KV cache shape does not match the model");
    if (mode != LogitsMode::none && !logits)
        return make_error(ErrorCode::invalid_argument, "eval: logits requested without an output vector");
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
            return make_error(ErrorCode::invalid_argument,
                              "eval: token {} at index {} is outside the vocabulary "
                              "[0, {})",
                              tokens[i], i, c.n_vocab);
    const int32_t n = static_cast<int32_t>(tokens.size());
    if (logits) {
        logits->clear();
        if (mode == LogitsMode::all) logits->resize(static_cast<size_t>(n) * c.n_vocab);
        if (mode == LogitsMode::last && n > 0) logits->resize(c.n_vocab);
    }
    const int32_t size0 = cache.size();
    for (int32_t start = 0; start < n; start += ubatch_) {
        const int32_t len = std::min(ubatch_, n - start);
        const bool last_chunk = start + len == n;
        const bool want = mode == LogitsMode::all || (mode == LogitsMode::last && last_chunk);
        float* out = nullptr;
        if (want)
            out = logits->data() + (mode == LogitsMode::all ? static_cast<size_t>(start) * c.n_vocab : 0);
        Status s;
        try {  // the scratch buffers grow with the cache: an allocation failure is an error, not an abort
            s = cancel_requested(cancel) ? cancelled_error("eval", start, n)
                                         : eval_chunk(cache, tokens.data() + start, positions.data() + start,
                                                      len, want, mode == LogitsMode::all, out);
        } catch (const std::bad_alloc&) {
            s = make_error(ErrorCode::out_of_memory, "eval: out of memory for {} tokens over {} cached", len,
                           cache.size());
        }
        if (!s.is_ok()) {
            cache.truncate(size0);
            return s;
        }
    }
    return Status::ok();
}

std::vector<double>* CpuForward::mass_for(int32_t layer) const {
    return probe_ && probe_->wants_mass(layer) ? &probe_->mass : nullptr;
}

Status CpuForward::eval_chunk(KvCache& cache, const TokenId* tokens, const int32_t* positions, int32_t n,
                              bool want_logits, bool all_rows, float* logits_out) {
    const ModelConfig& c = model_.config();
    const cpu::CpuKernels& kern = cpu::kernels();
    const int64_t E = c.n_embd, QD = c.n_q_dim(), KVD = c.n_kv_dim(), FF = c.n_ff, HD = c.head_dim;
    DK_ASSIGN_OR_RETURN(const int32_t first, cache.append(std::span<const int32_t>(positions, n)));

    grow(x_, n * E);
    grow(xn_, n * E);
    grow(q_, n * QD);
    grow(attn_, n * QD);
    grow(gate_, n * FF);
    grow(up_, n * FF);
    grow(tmp_, n * std::max(E, FF));
    grow(cs_, static_cast<size_t>(n) * c.n_rot);
    float *x = x_.data(), *xn = xn_.data(), *q = q_.data(), *attn = attn_.data();
    float *gate = gate_.data(), *up = up_.data(), *tmp = tmp_.data();

    Status emb_status;
    for (int32_t t = 0; t < n; ++t) {
        DK_TRY(cpu::dequant_row(model_.token_embd(), tokens[t], x + t * E));
        cpu::rope_cos_sin(rope_, positions[t], cs_.data() + static_cast<size_t>(t) * c.n_rot);
    }

    auto norm_rows = [&](const float* in, const WeightView& w, float* out) {
        pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
            for (int64_t t = b; t < e; ++t) cpu::rms_norm(in + t * E, w.f32(), E, c.rms_eps, out + t * E);
        });
    };
    auto add_rows = [&](float* acc, const float* d) {
        for (int64_t i = 0; i < n * E; ++i) acc[i] += d[i];
    };

    const int32_t n_layers = probe_ && probe_->stop_after_layer >= 0
                                 ? std::min(c.n_layer, probe_->stop_after_layer + 1)
                                 : c.n_layer;
    if (n_layers < c.n_layer) want_logits = false;
    for (int32_t l = 0; l < n_layers; ++l) {
        const LayerWeights& L = model_.layer(l);
        float* kc = cache.k_mut(l) + static_cast<size_t>(first) * KVD;
        float* vc = cache.v_mut(l) + static_cast<size_t>(first) * KVD;

        norm_rows(x, L.attn_norm, xn);
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.wq, xn, n, q));
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.wk, xn, n, kc));
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.wv, xn, n, vc));
        const bool q_norm_later = L.bq.present() || L.q_norm.present();
        if (!q_norm_later && probe_) probe_->capture(l, q, n, QD);
        pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
            for (int64_t t = b; t < e; ++t) {
                float* qt = q + t * QD;
                float* kt = kc + t * KVD;
                float* vt = vc + t * KVD;
                if (L.bq.present())
                    for (int64_t i = 0; i < QD; ++i) qt[i] += L.bq.f32()[i];
                if (L.bk.present())
                    for (int64_t i = 0; i < KVD; ++i) kt[i] += L.bk.f32()[i];
                if (L.bv.present())
                    for (int64_t i = 0; i < KVD; ++i) vt[i] += L.bv.f32()[i];
                if (L.q_norm.present())
                    for (int32_t h = 0; h < c.n_head; ++h)
                        cpu::rms_norm(qt + h * HD, L.q_norm.f32(), HD, c.rms_eps, qt + h * HD);
                if (L.k_norm.present())
                    for (int32_t h = 0; h < c.n_head_kv; ++h)
                        cpu::rms_norm(kt + h * HD, L.k_norm.f32(), HD, c.rms_eps, kt + h * HD);
                if (!q_norm_later) cpu::rope_apply(rope_, cs_.data() + t * c.n_rot, qt, c.n_head);
            }
        });
        if (q_norm_later) {
            // Biases and q-norm come before RoPE: capture the finished pre-RoPE queries, then rotate.
            if (probe_) probe_->capture(l, q, n, QD);
            pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
                for (int64_t t = b; t < e; ++t)
                    cpu::rope_apply(rope_, cs_.data() + t * c.n_rot, q + t * QD, c.n_head);
            });
        }
        attention_.rotate_keys(pool_, cache, l);
        attention_.attend(pool_, cache, l, q, positions, n, attn, mass_for(l));
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.wo, attn, n, tmp));
        add_rows(x, tmp);

        norm_rows(x, L.ffn_norm, xn);
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.ffn_gate, xn, n, gate));
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.ffn_up, xn, n, up));
        pool_.parallel_for(n, [&](int64_t b, int64_t e, int) {
            kern.swiglu((e - b) * FF, gate + b * FF, up + b * FF, gate + b * FF);
        });
        DK_TRY(cpu::matmul(pool_, mm_scratch_, L.ffn_down, gate, n, tmp));
        add_rows(x, tmp);
    }

    if (want_logits) {
        const int32_t r0 = all_rows ? 0 : n - 1, nr = all_rows ? n : 1;
        for (int32_t t = r0; t < r0 + nr; ++t)
            cpu::rms_norm(x + t * E, model_.output_norm().f32(), E, c.rms_eps, xn + t * E);
        DK_TRY(cpu::matmul(pool_, mm_scratch_, model_.output(), xn + r0 * E, nr, logits_out));
    }
    return Status::ok();
}

}  // namespace docket

#if DOCKET_HAVE_CUDA
#include "runtime/cuda/cuda_model.h"

#include <algorithm>
#include <cmath>

#include "decode_attn.cuh"
#include "embed.cuh"
#include "flash_attn.cuh"
#include "format/kv_codec.h"
#include "gemm_q.cuh"
#include "gemv_q.cuh"
#include "gemv_xq.cuh"
#include "kv_pages.cuh"
#include "rmsnorm.cuh"
#include "rope.cuh"
#include "runtime/cpu/ops.h"
#include "sample.cuh"
#include "swiglu.cuh"

namespace docket::cuda {

struct CudaModel::Layer {
    W attn_norm, wq, wk, wv, wo, ffn_norm, gate, up, down;
};

namespace {
bool gpu_matrix_type(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_K:
        case GgmlType::Q6_K:
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::F16:
        case GgmlType::BF16:
            return true;
        default:
            return false;
    }
}
}  // namespace

CudaModel::~CudaModel() {
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
    if (graph_) cudaGraphDestroy(graph_);
    if (ev_fork_) cudaEventDestroy(ev_fork_);
    if (ev_join_) cudaEventDestroy(ev_join_);
    if (side_) cudaStreamDestroy(side_);
}

uint64_t CudaModel::device_bytes() const {
    uint64_t n = snap_pool_.size() + snap_meta_.size();
    for (const auto& b : owned_) n += b.size();
    for (const auto& b : *weights_) n += b.size();
    return n;
}

Result<std::unique_ptr<CudaModel>> CudaModel::create(const Model& model, CudaContext& ctx,
                                                     const CudaModelOptions& opt) {
    const ModelConfig& c = model.config();
    if (c.arch != Arch::llama)
        return make_error(ErrorCode::unsupported,
                          "CUDA backend: architecture {} is not supported yet (llama only)",
                          arch_name(c.arch));
    if (c.rope_style != RopeStyle::normal || c.n_rot != c.head_dim)
        return Status(ErrorCode::unsupported, "CUDA backend: only normal-style RoPE over the whole head");
    if (c.head_dim != 64 && c.head_dim != 128)
        return make_error(ErrorCode::unsupported, "CUDA backend: head_dim {} (kernels ship 64 and 128)",
                          c.head_dim);
    if (opt.capacity <= 0 || opt.max_chunk <= 0)
        return Status(ErrorCode::invalid_argument, "CUDA backend: bad capacity or chunk size");
    std::unique_ptr<CudaModel> m(new CudaModel());
    m->ctx_ = &ctx;
    m->cfg_ = c;
    m->opt_ = opt;
    m->pdl_ = opt.use_pdl && ctx.props().major >= 9;
    DK_TRY(cuda_error(cudaSetDevice(ctx.device()), "cudaSetDevice"));
    m->weights_ = std::make_shared<std::vector<DeviceBuffer>>();
    DK_TRY(m->upload_weights(model));
    // RoPE frequencies exactly as the CPU runtime forms them (llama3 scaling, rope_freqs factors).
    const cpu::RopeTable rt = cpu::make_rope_table(c, model.rope_freq_factors());
    DK_ASSIGN_OR_RETURN(DeviceBuffer inv, DeviceBuffer::alloc(rt.inv_freq.size() * 4, "rope frequencies"));
    DK_TRY(
        cuda_error(cudaMemcpy(inv.get(), rt.inv_freq.data(), rt.inv_freq.size() * 4, cudaMemcpyHostToDevice),
                   "upload rope frequencies"));
    m->inv_freq_ = inv.as<float>();
    m->weights_->push_back(std::move(inv));
    DK_TRY(m->finish_create());
    return m;
}

Result<std::unique_ptr<CudaModel>> CudaModel::create_sharing(const CudaModel& other,
                                                             const CudaModelOptions& opt) {
    if (opt.capacity <= 0 || opt.max_chunk <= 0)
        return Status(ErrorCode::invalid_argument, "CUDA backend: bad capacity or chunk size");
    std::unique_ptr<CudaModel> m(new CudaModel());
    m->ctx_ = other.ctx_;
    m->cfg_ = other.cfg_;
    m->opt_ = opt;
    m->pdl_ = opt.use_pdl && other.ctx_->props().major >= 9;
    m->weights_ = other.weights_;
    m->weight_bytes_ = other.weight_bytes_;
    m->layers_ = other.layers_;
    m->tok_embd_ = other.tok_embd_, m->output_ = other.output_, m->output_norm_ = other.output_norm_;
    m->inv_freq_ = other.inv_freq_;
    DK_TRY(cuda_error(cudaSetDevice(other.ctx_->device()), "cudaSetDevice"));
    DK_TRY(m->finish_create());
    return m;
}

Status CudaModel::finish_create() {
    DK_TRY(alloc_scratch());
    // Side stream for the live-tail attention beside the snapshot pages' kernel (decode_attention's fork).
    DK_TRY(cuda_error(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking), "side stream"));
    DK_TRY(cuda_error(cudaEventCreateWithFlags(&ev_fork_, cudaEventDisableTiming), "fork event"));
    return cuda_error(cudaEventCreateWithFlags(&ev_join_, cudaEventDisableTiming), "join event");
}

Status CudaModel::upload_weights(const Model& model) {
    auto up = [&](const WeightView& w, bool matrix, const char* what, W& out) -> Status {
        if (!w.present()) return make_error(ErrorCode::not_found, "CUDA backend: missing tensor {}", what);
        if (matrix && !gpu_matrix_type(w.type))
            return make_error(ErrorCode::unsupported,
                              "CUDA backend: tensor {} has type {}, not kept on the GPU", what,
                              ggml_type_name(w.type));
        if (!matrix && w.type != GgmlType::F32)
            return make_error(ErrorCode::unsupported, "CUDA backend: vector {} must be F32", what);
        const size_t bytes = w.row_bytes * static_cast<size_t>(w.n_out);
        DK_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::alloc(bytes, what));
        DK_TRY(cuda_error(cudaMemcpy(b.get(), w.data, bytes, cudaMemcpyHostToDevice), what));
        out = W{b.get(), w.type, w.n_in, w.n_out};
        weight_bytes_ += bytes;
        weights_->push_back(std::move(b));
        return Status::ok();
    };
    DK_TRY(up(model.token_embd(), true, "token_embd.weight", tok_embd_));
    DK_TRY(up(model.output_norm(), false, "output_norm.weight", output_norm_));
    if (cfg_.tied_embeddings)
        output_ = tok_embd_;
    else
        DK_TRY(up(model.output(), true, "output.weight", output_));
    layers_.resize(cfg_.n_layer);
    for (int l = 0; l < cfg_.n_layer; ++l) {
        const LayerWeights& w = model.layer(l);
        Layer& d = layers_[l];
        if (w.bq.present() || w.q_norm.present())
            return Status(ErrorCode::unsupported,
                          "CUDA backend: q/k biases and q/k norms are not supported yet");
        DK_TRY(up(w.attn_norm, false, "attn_norm", d.attn_norm));
        DK_TRY(up(w.wq, true, "attn_q", d.wq));
        DK_TRY(up(w.wk, true, "attn_k", d.wk));
        DK_TRY(up(w.wv, true, "attn_v", d.wv));
        DK_TRY(up(w.wo, true, "attn_output", d.wo));
        DK_TRY(up(w.ffn_norm, false, "ffn_norm", d.ffn_norm));
        DK_TRY(up(w.ffn_gate, true, "ffn_gate", d.gate));
        DK_TRY(up(w.ffn_up, true, "ffn_up", d.up));
        DK_TRY(up(w.ffn_down, true, "ffn_down", d.down));
    }
    return Status::ok();
}

Status CudaModel::alloc_scratch() {
    const int64_t M = opt_.max_chunk, dim = cfg_.n_embd, ff = cfg_.n_ff, qd = cfg_.n_q_dim(),
                  kvd = cfg_.n_kv_dim();
    const int64_t cap = opt_.capacity, T = kv_page::kTokens;  // live pages are engine pages
    auto alloc = [&](size_t bytes, const char* what, auto** out) -> Status {
        DK_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::alloc(std::max<size_t>(bytes, 16), what));
        *out = static_cast<std::remove_pointer_t<decltype(out)>>(b.get());
        owned_.push_back(std::move(b));
        return Status::ok();
    };
    int64_t wmax = 0;
    for (const Layer& l : layers_)
        for (const W* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down})
            wmax = std::max(wmax, w->n_in * w->n_out);
    const int64_t widest = std::max({dim, ff, qd});
    DK_TRY(alloc(M * dim * 4, "activations", &x_));
    DK_TRY(alloc(M * dim * 4, "normed activations", &xn_));
    DK_TRY(alloc(M * qd * 4, "queries", &q_));
    DK_TRY(alloc(M * kvd * 4, "keys", &k_));
    DK_TRY(alloc(M * kvd * 4, "values", &v_));
    DK_TRY(alloc(qd * 4 * 8, "attention out", &attn_f_));
    DK_TRY(alloc(M * ff * 4, "ffn gate", &gate_));
    DK_TRY(alloc(M * ff * 4, "ffn up", &up_));
    DK_TRY(alloc(static_cast<size_t>(cfg_.n_vocab) * 8 * 4, "logits", &logits_));
    DK_TRY(alloc(M * widest * 2, "bf16 activations", &xb_));
    DK_TRY(alloc(M * qd * 2, "f16 queries", &q16_));
    DK_TRY(alloc(M * qd * 2, "attention out f16", &attn_b_));
    DK_TRY(alloc(cap * kvd * 2, "gathered keys", &k16_));
    DK_TRY(alloc(cap * kvd * 2, "gathered values", &v16_));
    DK_TRY(alloc(wmax * 2, "dequantized weight tile", &wscratch_));
    DK_TRY(alloc(gemv_xq_bytes(widest), "quantized decode activations", &xq_));
    DK_TRY(alloc(M * 4, "tokens", &tok_d_));
    DK_TRY(alloc(M * 4, "positions", &pos_d_));
    DK_TRY(alloc(M * 4, "slots", &slot_d_));
    // Live KV pool.
    pages_per_layer_ = static_cast<int32_t>((cap + T - 1) / T);
    page_bytes_ = kv_page::page_bytes(Codec::fp16, cfg_.n_head_kv, cfg_.head_dim);
    DK_TRY(alloc(page_bytes_ * pages_per_layer_ * cfg_.n_layer, "KV pages", &kv_pool_));
    DK_TRY(alloc(pages_per_layer_ * 4, "page ids", &live_indices_));
    DK_TRY(alloc(pages_per_layer_ * 4, "page positions", &live_pos_));
    std::vector<int32_t> ids(pages_per_layer_), pos(pages_per_layer_);
    for (int32_t p = 0; p < pages_per_layer_; ++p) ids[p] = p, pos[p] = static_cast<int32_t>(p * T);
    DK_TRY(cuda_error(cudaMemcpy(live_indices_, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice),
                      "page ids"));
    DK_TRY(cuda_error(cudaMemcpy(live_pos_, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice),
                      "page positions"));
    DK_TRY(alloc(16 * 4, "step state", &step_));
    DK_TRY(alloc(16, "next token", &next_token_));
    DK_ASSIGN_OR_RETURN(step_host_, PinnedBuffer::alloc(64));
    // Decode splits: enough blocks to fill the GPU at any context (3 per SM: as many as fit for int4 pages),
    // fixed so the decode graph can be reused. (An f16 rotation table fitting 4 blocks/SM measured no faster
    // for int4 and doubled the kernel's error against its twin, so it was reverted.)
    n_splits_ = std::max(1, (3 * ctx_->props().multiProcessorCount + cfg_.n_head_kv - 1) / cfg_.n_head_kv);
    DecodeAttnShape s;
    s.n_heads = cfg_.n_head, s.head_dim = cfg_.head_dim, s.n_splits = n_splits_;
    ws_floats_ = decode_attention_workspace(s, 2);
    DK_TRY(alloc(ws_floats_ * 4, "decode workspace", &ws_));
    return Status::ok();
}

PagedKv CudaModel::live_kv(int l) const {
    PagedKv kv;
    kv.codec = Codec::fp16;
    kv.page_tokens = kv_page::kTokens;
    kv.n_kv_heads = cfg_.n_head_kv;
    kv.head_dim = cfg_.head_dim;
    kv.page_bytes = page_bytes_;
    kv.pool = kv_pool_ + static_cast<size_t>(l) * pages_per_layer_ * page_bytes_;
    kv.indptr = step_ + 3;
    kv.last_page_len = step_ + 5;
    kv.indices = live_indices_;
    kv.page_pos = live_pos_;
    return kv;
}

PagedKv CudaModel::snap_kv(int l) const {
    PagedKv kv;
    kv.codec = snap_codec_;
    kv.page_tokens = kv_page::kTokens;
    kv.n_kv_heads = cfg_.n_head_kv;
    kv.head_dim = cfg_.head_dim;
    kv.page_bytes = snap_page_bytes_;
    kv.pool = snap_pool_.as<uint8_t>() + static_cast<size_t>(l) * snap_pages_ * snap_page_bytes_;
    const int32_t* meta = snap_meta_.as<int32_t>();
    kv.indptr = meta;
    kv.last_page_len = meta + 2;
    kv.indices = meta + 3;
    kv.page_pos = meta + 3 + snap_pages_;
    return kv;
}

Status CudaModel::set_random_snapshot(Codec codec, int32_t n_tokens, uint64_t seed) {
    if (n_past_ != 0)
        return Status(ErrorCode::invalid_argument, "set_random_snapshot: reset() the live cache first");
    const int T = kv_page::kTokens;
    snap_pool_ = DeviceBuffer();
    snap_meta_ = DeviceBuffer();
    snap_tokens_ = 0;
    snap_pages_ = 0;
    if (n_tokens > 0) {
        if (n_tokens % T != 0)
            return Status(ErrorCode::invalid_argument, "snapshot tokens must fill whole pages");
        snap_codec_ = codec;
        snap_pages_ = n_tokens / T;
        snap_page_bytes_ = kv_page::page_bytes(codec, cfg_.n_head_kv, cfg_.head_dim);
        DK_ASSIGN_OR_RETURN(
            snap_pool_, DeviceBuffer::alloc(snap_page_bytes_ * snap_pages_ * cfg_.n_layer, "snapshot KV"));
        DK_TRY(kv_fill_random(codec, T, cfg_.n_head_kv, cfg_.head_dim, snap_page_bytes_,
                              static_cast<int64_t>(snap_pages_) * cfg_.n_layer, seed,
                              snap_pool_.as<uint8_t>(), ctx_->compute()));
        std::vector<int32_t> meta = {0, snap_pages_, T};
        for (int32_t p = 0; p < snap_pages_; ++p) meta.push_back(p);
        for (int32_t p = 0; p < snap_pages_; ++p) meta.push_back(p * T);
        DK_ASSIGN_OR_RETURN(snap_meta_, DeviceBuffer::alloc(meta.size() * 4, "snapshot page table"));
        DK_TRY(cuda_error(cudaMemcpy(snap_meta_.get(), meta.data(), meta.size() * 4, cudaMemcpyHostToDevice),
                          "snapshot page table"));
        snap_tokens_ = n_tokens;
    }
    std::vector<int32_t> pos(pages_per_layer_);
    for (int32_t p = 0; p < pages_per_layer_; ++p) pos[p] = snap_tokens_ + p * T;
    DK_TRY(cuda_error(cudaMemcpy(live_pos_, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice),
                      "page positions"));
    if (graph_exec_) cudaGraphExecDestroy(graph_exec_), graph_exec_ = nullptr;
    if (graph_) cudaGraphDestroy(graph_), graph_ = nullptr;
    return ctx_->sync_compute();
}

Status CudaModel::prefill(std::span<const int32_t> tokens, bool all_rows, std::vector<float>* logits,
                          const CancelFlag* cancel) {
    if (tokens.empty()) return Status(ErrorCode::invalid_argument, "prefill: no tokens");
    if (snap_tokens_ > 0)
        return Status(ErrorCode::unsupported, "prefill after a snapshot prefix is not supported yet");
    if (n_past_ + static_cast<int64_t>(tokens.size()) > opt_.capacity)
        return make_error(ErrorCode::invalid_argument, "prefill: {} + {} tokens exceed the KV capacity {}",
                          n_past_, tokens.size(), opt_.capacity);
    for (size_t i = 0; i < tokens.size(); ++i)
        if (tokens[i] < 0 || tokens[i] >= cfg_.n_vocab)
            return make_error(ErrorCode::invalid_argument, "prefill: token {} at {} outside the vocabulary",
                              tokens[i], i);
    if (logits) logits->assign(all_rows ? tokens.size() * cfg_.n_vocab : cfg_.n_vocab, 0.0f);
    for (size_t off = 0; off < tokens.size(); off += opt_.max_chunk) {
        if (cancel_requested(cancel)) return cancelled_error("prefill", off, tokens.size());
        const int32_t n = static_cast<int32_t>(std::min<size_t>(opt_.max_chunk, tokens.size() - off));
        const bool last = off + n == tokens.size();
        float* out = nullptr;
        if (logits && all_rows) out = logits->data() + off * cfg_.n_vocab;
        if (logits && !all_rows && last) out = logits->data();
        DK_TRY(prefill_chunk(tokens.data() + off, n, all_rows, out));
    }
    return Status::ok();
}

Status CudaModel::prefill_chunk(const int32_t* tokens, int32_t n, bool all_rows, float* logits_out) {
    cudaStream_t s = ctx_->compute();
    const int dim = cfg_.n_embd, ff = cfg_.n_ff, qd = cfg_.n_q_dim(), kvd = cfg_.n_kv_dim(),
              hd = cfg_.head_dim;
    std::vector<int32_t> pos(n), slots(n);
    for (int32_t i = 0; i < n; ++i) pos[i] = snap_tokens_ + n_past_ + i, slots[i] = n_past_ + i;
    DK_TRY(cuda_error(cudaMemcpyAsync(tok_d_, tokens, n * 4, cudaMemcpyHostToDevice, s), "upload tokens"));
    DK_TRY(cuda_error(cudaMemcpyAsync(pos_d_, pos.data(), n * 4, cudaMemcpyHostToDevice, s),
                      "upload positions"));
    DK_TRY(
        cuda_error(cudaMemcpyAsync(slot_d_, slots.data(), n * 4, cudaMemcpyHostToDevice, s), "upload slots"));
    // 16-bit operands of the prefill GEMMs: f16 (11-bit mantissa) unless the model is built for bf16.
    const DType a16 = opt_.prefill_bf16 ? DType::bf16 : DType::f16;
    void* xb = xb_;
    void* ws = wscratch_;
    cublasHandle_t cb = ctx_->cublas();
    const int64_t n_ctx = n_past_ + n;
    DK_TRY(embed_rows(tok_embd_.type, tok_embd_.p, tok_embd_.n_out, dim, tok_d_, n, x_, s));
    for (int l = 0; l < cfg_.n_layer; ++l) {
        const Layer& L = layers_[l];
        const PagedKv kv = live_kv(l);
        uint8_t* pool = const_cast<uint8_t*>(kv.pool);
        DK_TRY(rmsnorm(x_, static_cast<const float*>(L.attn_norm.p), n, dim, cfg_.rms_eps, xb, a16, s));
        DK_TRY(gemm_q(cb, L.wq.type, L.wq.p, dim, qd, a16, xb, n, q_, false, ws, s));
        DK_TRY(copy_queries(l, n));
        DK_TRY(gemm_q(cb, L.wk.type, L.wk.p, dim, kvd, a16, xb, n, k_, false, ws, s));
        DK_TRY(gemm_q(cb, L.wv.type, L.wv.p, dim, kvd, a16, xb, n, v_, false, ws, s));
        DK_TRY(kv_append_f16(k_, v_, slot_d_, n, cfg_.n_head_kv, hd, kv_page::kTokens, page_bytes_, pool, s));
        DK_TRY(rope(q_, pos_d_, n, cfg_.n_head, hd, inv_freq_, q16_, DType::f16, s));
        DK_TRY(kv_gather_f16(pool, page_bytes_, kv_page::kTokens, live_indices_, live_pos_, n_ctx,
                             cfg_.n_head_kv, hd, inv_freq_, static_cast<__half*>(k16_),
                             static_cast<__half*>(v16_), s));
        DK_TRY(flash_attn_prefill(static_cast<const __half*>(q16_), static_cast<const __half*>(k16_),
                                  static_cast<const __half*>(v16_), n, n_ctx, cfg_.n_head, cfg_.n_head_kv, hd,
                                  1.0f / std::sqrt(static_cast<float>(hd)), static_cast<__half*>(attn_b_),
                                  s));
        // Attention output is f16; with bf16 GEMMs it goes through the bf16 GEMM as a converted copy.
        if (a16 == DType::f16) {
            DK_TRY(gemm_q(cb, L.wo.type, L.wo.p, qd, dim, DType::f16, attn_b_, n, x_, true, ws, s));
        } else {
            DK_TRY(half_to_bf16(static_cast<const __half*>(attn_b_), static_cast<int64_t>(n) * qd, xb, s));
            DK_TRY(gemm_q(cb, L.wo.type, L.wo.p, qd, dim, DType::bf16, xb, n, x_, true, ws, s));
        }
        DK_TRY(rmsnorm(x_, static_cast<const float*>(L.ffn_norm.p), n, dim, cfg_.rms_eps, xb, a16, s));
        DK_TRY(gemm_q(cb, L.gate.type, L.gate.p, dim, ff, a16, xb, n, gate_, false, ws, s));
        DK_TRY(gemm_q(cb, L.up.type, L.up.p, dim, ff, a16, xb, n, up_, false, ws, s));
        DK_TRY(swiglu(gate_, up_, static_cast<int64_t>(n) * ff, xb, a16, s));
        DK_TRY(gemm_q(cb, L.down.type, L.down.p, ff, dim, a16, xb, n, x_, true, ws, s));
    }
    n_past_ += n;
    if (logits_out) {
        const int32_t first = all_rows ? 0 : n - 1, rows = all_rows ? n : 1;
        DK_TRY(rmsnorm(x_ + static_cast<int64_t>(first) * dim, static_cast<const float*>(output_norm_.p),
                       rows, dim, cfg_.rms_eps, xn_, DType::f32, s));
        for (int32_t r = 0; r < rows; r += 8) {
            const int b = std::min(8, rows - r);
            DK_TRY(gemv_q(output_.type, output_.p, dim, cfg_.n_vocab, xn_ + static_cast<int64_t>(r) * dim, b,
                          logits_, false, s));
            DK_TRY(cuda_error(
                cudaMemcpyAsync(logits_out + static_cast<int64_t>(r) * cfg_.n_vocab, logits_,
                                static_cast<size_t>(b) * cfg_.n_vocab * 4, cudaMemcpyDeviceToHost, s),
                "download logits"));
        }
    }
    DK_TRY(ctx_->sync_compute());
    take_queries(n);
    return Status::ok();
}

// y_i (+)= W_i . in for matrices sharing one input vector [n_in]. Where they share a type with an integer
// path: one kernel forms the input and quantizes it (rmsnorm / swiglu / plain) and one fused integer GEMV
// launch follows; else the input is formed in f32 and each matrix goes through the f32 GEMV.
bool CudaModel::integer_path(std::initializer_list<DecodeMat> mats, int64_t n_in) {
    const GgmlType t = mats.begin()->w->type;
    bool ok = gemv_xq_supported(t);
    for (const DecodeMat& m : mats) ok = ok && m.w->type == t && m.w->n_in == n_in;
    return ok;
}

Status CudaModel::decode_gemv(std::initializer_list<DecodeMat> mats, DecodeIn in, int64_t n_in) {
    cudaStream_t s = ctx_->compute();
    const GgmlType t = mats.begin()->w->type;
    if (!integer_path(mats, n_in)) {
        const float* x = in.x;  // (xq_ready is only set where integer_path holds)
        if (in.norm_w) {
            DK_TRY(rmsnorm(in.x, in.norm_w, 1, static_cast<int>(n_in), cfg_.rms_eps, xn_, DType::f32, s));
            x = xn_;
        } else if (in.up) {
            DK_TRY(swiglu(in.x, in.up, n_in, const_cast<float*>(in.x), DType::f32, s));
        }
        for (const DecodeMat& m : mats)
            DK_TRY(gemv_q(m.w->type, m.w->p, n_in, m.w->n_out, x, 1, m.y, m.accumulate, s));
        return Status::ok();
    }
    if (!in.xq_ready)
        DK_TRY(in.norm_w ? rmsnorm_quantize_x(in.x, in.norm_w, n_in, cfg_.rms_eps, xq_, s, pdl_)
               : in.up   ? swiglu_quantize_x(in.x, in.up, n_in, xq_, s, pdl_)
                         : quantize_x(in.x, n_in, xq_, s, pdl_));
    GemvXqMat xm[3];
    int n = 0;
    for (const DecodeMat& m : mats) xm[n++] = {m.w->p, m.w->n_out, m.y, m.accumulate};
    return gemv_xq(t, xm, n, n_in, xq_, s, gemv_xq_decode_config(n, n_in, opt_.gemv_staged), pdl_);
}

Status CudaModel::decode_body() {
    cudaStream_t s = ctx_->compute();
    const int dim = cfg_.n_embd, ff = cfg_.n_ff, qd = cfg_.n_q_dim(), hd = cfg_.head_dim;
    DK_TRY(embed_rows(tok_embd_.type, tok_embd_.p, tok_embd_.n_out, dim, step_, 1, x_, s));
    DecodeAttnShape sh;
    sh.batch = 1, sh.n_heads = cfg_.n_head, sh.head_dim = hd, sh.inv_freq = inv_freq_;
    sh.scale = 1.0f / std::sqrt(static_cast<float>(hd)), sh.n_splits = n_splits_;
    sh.pdl = pdl_ && opt_.attn_pdl;
    sh.prefetch_next = opt_.attn_prefetch;
    if (opt_.attn_side_stream) sh.side = side_, sh.fork = ev_fork_, sh.join = ev_join_;
    for (int l = 0; l < cfg_.n_layer; ++l) {
        const Layer& L = layers_[l];
        PagedKv src[2];
        int n_src = 0;
        if (snap_tokens_ > 0) src[n_src++] = snap_kv(l);
        src[n_src++] = live_kv(l);
        const auto* attn_norm = static_cast<const float*>(L.attn_norm.p);
        const auto* ffn_norm = static_cast<const float*>(L.ffn_norm.p);
        DK_TRY(
            decode_gemv({{&L.wq, q_, false}, {&L.wk, k_, false}, {&L.wv, v_, false}}, {x_, attn_norm}, dim));
        DK_TRY(copy_queries(l, 1));  // q_ is still before RoPE (the append kernel rotates it next)
        DK_TRY(kv_append_f16_rope_q(k_, v_, step_ + 2, step_ + 1, cfg_.n_head_kv, cfg_.n_head, hd,
                                    kv_page::kTokens, page_bytes_, const_cast<uint8_t*>(src[n_src - 1].pool),
                                    q_, inv_freq_, s, pdl_));
        // The combine kernel also quantizes the attention output for wo when wo has the integer path.
        const std::initializer_list<DecodeMat> wo = {{&L.wo, x_, true}};
        const bool wo_xq = integer_path(wo, qd);
        sh.xq_out = wo_xq ? xq_ : nullptr;
        DK_TRY(decode_attention(q_, src, n_src, sh, ws_, attn_f_, s));
        DK_TRY(decode_gemv(wo, {attn_f_, nullptr, nullptr, wo_xq}, qd));
        DK_TRY(decode_gemv({{&L.gate, gate_, false}, {&L.up, up_, false}}, {x_, ffn_norm}, dim));
        DK_TRY(decode_gemv({{&L.down, x_, true}}, {gate_, nullptr, up_}, ff));
    }
    DK_TRY(decode_gemv({{&output_, logits_, false}}, {x_, static_cast<const float*>(output_norm_.p)}, dim));
    return sample_tokens(logits_, 1, cfg_.n_vocab, 0.0f, 0, next_token_, s);
}

Status CudaModel::decode(int32_t token, std::vector<float>* logits, int32_t* next) {
    if (token < 0 || token >= cfg_.n_vocab)
        return make_error(ErrorCode::invalid_argument, "decode: token {} outside the vocabulary", token);
    if (n_past_ + 1 > opt_.capacity)
        return make_error(ErrorCode::invalid_argument, "decode: KV capacity {} is full", opt_.capacity);
    cudaStream_t s = ctx_->compute();
    const int T = kv_page::kTokens;
    const int32_t n = n_past_ + 1, n_pages = (n + T - 1) / T;
    int32_t* h = step_host_.as<int32_t>();
    h[0] = token, h[1] = snap_tokens_ + n_past_, h[2] = n_past_, h[3] = 0, h[4] = n_pages,
    h[5] = n - (n_pages - 1) * T;
    DK_TRY(cuda_error(cudaMemcpyAsync(step_, h, 8 * 4, cudaMemcpyHostToDevice, s), "upload step"));
    const bool have_snap = snap_tokens_ > 0;
    const bool graph = opt_.use_graph && capture_layers_.empty();
    if (graph && graph_exec_ && graph_has_snap_ == have_snap) {
        DK_TRY(cuda_error(cudaGraphLaunch(graph_exec_, s), "cudaGraphLaunch"));
    } else if (graph && decodes_ > 0) {  // first call ran eagerly (kernel attributes set); capture now
        if (graph_exec_) cudaGraphExecDestroy(graph_exec_), graph_exec_ = nullptr;
        if (graph_) cudaGraphDestroy(graph_), graph_ = nullptr;
        DK_TRY(cuda_error(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin capture"));
        const Status body = decode_body();
        cudaGraph_t g = nullptr;
        const cudaError_t end = cudaStreamEndCapture(s, &g);
        DK_TRY(body);
        DK_TRY(cuda_error(end, "end capture"));
        graph_ = g;
        DK_TRY(cuda_error(cudaGraphInstantiate(&graph_exec_, graph_, 0), "instantiate decode graph"));
        graph_has_snap_ = have_snap;
        DK_TRY(cuda_error(cudaGraphLaunch(graph_exec_, s), "cudaGraphLaunch"));
    } else {
        DK_TRY(decode_body());
    }
    DK_TRY(cuda_error(cudaMemcpyAsync(h + 8, next_token_, 4, cudaMemcpyDeviceToHost, s), "download token"));
    if (logits) {
        logits->resize(cfg_.n_vocab);
        DK_TRY(
            cuda_error(cudaMemcpyAsync(logits->data(), logits_, cfg_.n_vocab * 4, cudaMemcpyDeviceToHost, s),
                       "download logits"));
    }
    DK_TRY(ctx_->sync_compute());
    take_queries(1);
    n_past_ = n;
    ++decodes_;
    if (next) *next = h[8];
    return Status::ok();
}

Status CudaModel::extend(int32_t n) {
    if (n < 0 || static_cast<int64_t>(n_past_) + n > opt_.capacity)
        return make_error(ErrorCode::out_of_memory, "CUDA KV cache full: {} tokens + {} new > capacity {}",
                          n_past_, n, opt_.capacity);
    n_past_ += n;
    return Status::ok();
}

static Status check_rows(const ModelConfig& c, int l, int32_t first, int32_t n, int32_t size) {
    if (l < 0 || l >= c.n_layer)
        return make_error(ErrorCode::invalid_argument, "layer {} out of [0, {})", l, c.n_layer);
    if (first < 0 || n < 0 || static_cast<int64_t>(first) + n > size)
        return make_error(ErrorCode::invalid_argument, "rows [{}, {}) out of the GPU cache's [0, {})", first,
                          static_cast<int64_t>(first) + n, size);
    return Status::ok();
}

Status CudaModel::write_rows(int l, int32_t first, int32_t n, const float* k, const float* v) {
    DK_TRY(check_rows(cfg_, l, first, n, n_past_));
    if (!k || !v)
        return Status(ErrorCode::invalid_argument, "write_rows: the GPU cache takes K and V together");
    cudaStream_t s = ctx_->compute();
    const size_t kvd = static_cast<size_t>(cfg_.n_kv_dim());
    uint8_t* pool = const_cast<uint8_t*>(live_kv(l).pool);
    std::vector<int32_t> slots;
    for (int32_t off = 0; off < n; off += opt_.max_chunk) {
        const int32_t m = std::min(opt_.max_chunk, n - off);
        slots.resize(m);
        for (int32_t i = 0; i < m; ++i) slots[i] = first + off + i;
        DK_TRY(cuda_error(cudaMemcpyAsync(k_, k + off * kvd, m * kvd * 4, cudaMemcpyHostToDevice, s),
                          "upload K"));
        DK_TRY(cuda_error(cudaMemcpyAsync(v_, v + off * kvd, m * kvd * 4, cudaMemcpyHostToDevice, s),
                          "upload V"));
        DK_TRY(cuda_error(cudaMemcpyAsync(slot_d_, slots.data(), m * 4, cudaMemcpyHostToDevice, s),
                          "upload slots"));
        DK_TRY(kv_append_f16(k_, v_, slot_d_, m, cfg_.n_head_kv, cfg_.head_dim, kv_page::kTokens, page_bytes_,
                             pool, s));
    }
    // Copies from pageable memory return once their source is staged, so `slots` and the scratch (stream
    // ordered) are reused safely; one sync reports any failure.
    return ctx_->sync_compute();
}

// Downloads the pages holding the rows and decodes them with the store's own page codec (format/kv_codec.h).
Status CudaModel::read_rows(int l, int32_t first, int32_t n, float* k, float* v) const {
    DK_TRY(check_rows(cfg_, l, first, n, n_past_));
    if (n == 0) return Status::ok();
    const int T = kv_page::kTokens;
    const int32_t p0 = first / T, p1 = (first + n - 1) / T;
    std::vector<uint8_t> pages(static_cast<size_t>(p1 - p0 + 1) * page_bytes_);
    const uint8_t* src = live_kv(l).pool + static_cast<size_t>(p0) * page_bytes_;
    DK_TRY(
        cuda_error(cudaMemcpyAsync(pages.data(), src, pages.size(), cudaMemcpyDeviceToHost, ctx_->compute()),
                   "download KV pages"));
    DK_TRY(ctx_->sync_compute());
    const size_t kvd = static_cast<size_t>(cfg_.n_kv_dim());
    std::vector<float> pk(T * kvd), pv(T * kvd);
    for (int32_t p = p0; p <= p1; ++p) {
        const int32_t r0 = std::max(first, p * T), r1 = std::min(first + n, (p + 1) * T);
        DK_TRY(kv_page::decode_page(Codec::fp16, cfg_.n_head_kv, cfg_.head_dim,
                                    pages.data() + static_cast<size_t>(p - p0) * page_bytes_, r1 - p * T,
                                    pk.data(), pv.data()));
        const size_t at = static_cast<size_t>(r0 - p * T) * kvd, len = static_cast<size_t>(r1 - r0) * kvd;
        if (k) std::copy(pk.begin() + at, pk.begin() + at + len, k + (r0 - first) * kvd);
        if (v) std::copy(pv.begin() + at, pv.begin() + at + len, v + (r0 - first) * kvd);
    }
    return Status::ok();
}

Status CudaModel::capture_queries(std::vector<int32_t> layers, std::vector<std::vector<float>>* out) {
    for (int32_t l : layers)
        if (l < 0 || l >= cfg_.n_layer)
            return make_error(ErrorCode::invalid_argument, "capture_queries: layer {} out of [0, {})", l,
                              cfg_.n_layer);
    if (!layers.empty() && !out) return Status(ErrorCode::invalid_argument, "capture_queries: no output");
    const size_t bytes = layers.size() * opt_.max_chunk * cfg_.n_q_dim() * sizeof(float);
    if (capture_host_.size() < bytes) {
        DK_ASSIGN_OR_RETURN(capture_host_, PinnedBuffer::alloc(bytes));
    }
    capture_layers_ = std::move(layers);
    capture_out_ = capture_layers_.empty() ? nullptr : out;
    if (capture_out_) capture_out_->resize(capture_layers_.size());
    return Status::ok();
}

Status CudaModel::copy_queries(int layer, int32_t n) {
    const auto it = std::find(capture_layers_.begin(), capture_layers_.end(), layer);
    if (it == capture_layers_.end()) return Status::ok();
    const size_t qd = cfg_.n_q_dim(), slot = it - capture_layers_.begin();
    float* dst = capture_host_.as<float>() + slot * opt_.max_chunk * qd;
    return cuda_error(
        cudaMemcpyAsync(dst, q_, n * qd * sizeof(float), cudaMemcpyDeviceToHost, ctx_->compute()),
        "download queries");
}

void CudaModel::take_queries(int32_t n) {
    if (!capture_out_) return;
    const size_t qd = cfg_.n_q_dim();
    for (size_t i = 0; i < capture_layers_.size(); ++i) {
        const float* src = capture_host_.as<float>() + i * opt_.max_chunk * qd;
        (*capture_out_)[i].insert((*capture_out_)[i].end(), src, src + n * qd);
    }
}

Result<uint64_t> CudaModel::run_decode_attention_only(int layer, int impl) {
    if (layer < 0 || layer >= cfg_.n_layer || n_past_ == 0)
        return Status(ErrorCode::invalid_argument, "run_decode_attention_only: bad layer or empty cache");
    DecodeAttnShape sh;
    sh.batch = 1, sh.n_heads = cfg_.n_head, sh.head_dim = cfg_.head_dim, sh.inv_freq = inv_freq_;
    sh.scale = 1.0f / std::sqrt(static_cast<float>(cfg_.head_dim)), sh.n_splits = n_splits_;
    sh.impl = impl;
    PagedKv src[2];
    int n_src = 0;
    uint64_t bytes = static_cast<uint64_t>(kv_page::pages_for_tokens(n_past_)) * page_bytes_;
    if (snap_tokens_ > 0) {
        src[n_src++] = snap_kv(layer);
        bytes += static_cast<uint64_t>(snap_pages_) * snap_page_bytes_;
    }
    src[n_src++] = live_kv(layer);
    DK_TRY(decode_attention(q_, src, n_src, sh, ws_, attn_f_, ctx_->compute()));
    return bytes;
}

}  // namespace docket::cuda
#endif

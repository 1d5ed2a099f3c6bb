"""Tiny random llama / qwen2 / qwen3 GGUF models + their fp32 goldens.

The GGUFs are written with PyPI gguf's GGUFWriter, with tensor names, shapes and the llama Q/K
permutation exactly as llama.cpp's convert_hf_to_gguf.py lays them out. The reference model is built
in transformers from an HF config + a state dict made by READING THE WRITTEN FILE BACK (gguf-py
reader + dequantizer, inverse permutation), so F16/Q8_0 rounding is part of the reference. As a
cross-check the same file is also loaded through transformers' own GGUF path, and both must agree.
"""

import collections
import os

import numpy as np
import regex
import torch

import golden_common as gc

N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM, N_FF = 2, 64, 4, 2, 16, 128
N_CTX = 256
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
N_VOCAB = 384
BOS_ID, EOS_ID = 1, 2
LLAMA3_ROPE = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}

VARIANTS = [
    # name, arch, weight type, options
    ("tiny_llama_f32", "llama", "F32", {"seed": 11, "tied": False, "rope_base": 10000.0, "rms_eps": 1e-5}),
    ("tiny_llama_q8_0", "llama", "Q8_0", {"seed": 11, "tied": False, "rope_base": 10000.0, "rms_eps": 1e-5}),
    ("tiny_llama3rope_f16", "llama", "F16", {"seed": 12, "tied": False, "rope_base": 10000.0, "rms_eps": 1e-5,
                                             "llama3_rope": LLAMA3_ROPE}),
    ("tiny_qwen2_f32", "qwen2", "F32", {"seed": 13, "tied": True, "rope_base": 1000000.0, "rms_eps": 1e-6}),
    ("tiny_qwen3_f16", "qwen3", "F16", {"seed": 14, "tied": False, "rope_base": 1000000.0, "rms_eps": 1e-6}),
]

TOKENIZER_CORPUS = (
    "The parties agree that this Agreement shall be governed by the laws of the State of New York. "
    "Either party may terminate this Agreement upon thirty (30) days written notice to the other party. "
    "The Licensee shall pay the Licensor a royalty of five percent (5%) of Net Sales. "
    "Confidential Information means any information disclosed by one party to the other. "
    "def main():\n    return 0\n\nfor i in range(10):\n    print(i)\n"
)

GPT2_SPLIT = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")


def sequences():
    """Fixed token-id inputs (no tokenizer involved)."""
    rng = np.random.default_rng(1234)
    return [
        ("ramp16", [3 + (7 * i) % (N_VOCAB - 3) for i in range(16)]),
        ("random64", [int(x) for x in rng.integers(3, N_VOCAB, 64)]),
        ("with_specials", [1, 50, 60, 70, 2, 1, 80, 90, 2, 0, 100]),
        ("repeats", [200] * 8 + [201, 202] * 4),
        ("single", [42]),
    ]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def train_bpe():
    """Deterministic toy byte-level BPE: 3 specials + 256 bytes + merges up to N_VOCAB.
    Ties between equally frequent pairs go to the lexicographically smallest pair."""
    b2u = bytes_to_unicode()
    tokens = SPECIALS + [b2u[b] for b in range(256)]
    words = collections.Counter(tuple(b2u[b] for b in w.encode("utf-8")) for w in GPT2_SPLIT.findall(TOKENIZER_CORPUS))
    merges = []
    while len(tokens) < N_VOCAB:
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        tokens.append(best[0] + best[1])
        new = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    while len(tokens) < N_VOCAB:  # corpus exhausted: pad with unused tokens
        tokens.append(f"<unused{len(tokens)}>")
    return tokens, [f"{a} {b}" for a, b in merges]


def hf_weights(seed, arch, tied):
    """Random weights in HF layout ([out, in] matrices), float32. Scales chosen so logits spread over
    several units (few near ties) and attention is far from uniform."""
    rng = np.random.default_rng(seed)

    def mat(o, i, scale=1.0):
        return (rng.standard_normal((o, i)) * scale / np.sqrt(i)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    w = {"model.embed_tokens.weight": rng.standard_normal((N_VOCAB, N_EMBD)).astype(np.float32)}
    for layer in range(N_LAYER):
        p = f"model.layers.{layer}."
        w[p + "input_layernorm.weight"] = norm(N_EMBD)
        w[p + "self_attn.q_proj.weight"] = mat(N_HEAD * HEAD_DIM, N_EMBD, 2.0)
        w[p + "self_attn.k_proj.weight"] = mat(N_HEAD_KV * HEAD_DIM, N_EMBD, 2.0)
        w[p + "self_attn.v_proj.weight"] = mat(N_HEAD_KV * HEAD_DIM, N_EMBD)
        w[p + "self_attn.o_proj.weight"] = mat(N_EMBD, N_HEAD * HEAD_DIM)
        if arch == "qwen2":
            for x, n in (("q", N_HEAD), ("k", N_HEAD_KV), ("v", N_HEAD_KV)):
                w[p + f"self_attn.{x}_proj.bias"] = (0.5 * rng.standard_normal(n * HEAD_DIM)).astype(np.float32)
        if arch == "qwen3":
            w[p + "self_attn.q_norm.weight"] = norm(HEAD_DIM)
            w[p + "self_attn.k_norm.weight"] = norm(HEAD_DIM)
        w[p + "post_attention_layernorm.weight"] = norm(N_EMBD)
        w[p + "mlp.gate_proj.weight"] = mat(N_FF, N_EMBD)
        w[p + "mlp.up_proj.weight"] = mat(N_FF, N_EMBD)
        w[p + "mlp.down_proj.weight"] = mat(N_EMBD, N_FF)
    w["model.norm.weight"] = norm(N_EMBD)
    if not tied:
        w["lm_head.weight"] = mat(N_VOCAB, N_EMBD, 4.0)
    else:  # tied: the embedding doubles as the output matrix; keep logits in a useful range
        w["model.embed_tokens.weight"] *= 0.5
    return w


def permute(w, n_head):
    """llama.cpp convert_hf_to_gguf LlamaModel.permute: HF rotate-half layout -> GGML interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")  # model.layers.N.rest
    return f"blk.{parts[2]}." + GGUF_NAMES[".".join(parts[3:])]


def llama3_rope_factors(base, opts):
    """As convert_hf_to_gguf computes rope_freqs for rope_type llama3: one factor per dim pair."""
    freqs = 1.0 / (base ** (np.arange(0, HEAD_DIM, 2, dtype=np.float32) / HEAD_DIM))
    factor, lo, hi = opts["factor"], opts["low_freq_factor"], opts["high_freq_factor"]
    old = opts["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * np.pi / f
        if wl < hi_wl:
            out.append(1.0)
        elif wl > lo_wl:
            out.append(factor)
        else:
            smooth = (old / wl - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def write_gguf(path, name, arch, wtype, opts, w, tokens, merges):
    import gguf

    qtype = {"F32": gguf.GGMLQuantizationType.F32, "F16": gguf.GGMLQuantizationType.F16,
             "Q8_0": gguf.GGMLQuantizationType.Q8_0}[wtype]
    ftype = {"F32": gguf.LlamaFileType.ALL_F32, "F16": gguf.LlamaFileType.MOSTLY_F16,
             "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[wtype]
    wr = gguf.GGUFWriter(path, arch)
    wr.add_name(name)
    wr.add_context_length(N_CTX)
    wr.add_embedding_length(N_EMBD)
    wr.add_feed_forward_length(N_FF)
    wr.add_block_count(N_LAYER)
    wr.add_head_count(N_HEAD)
    wr.add_head_count_kv(N_HEAD_KV)
    wr.add_rope_freq_base(opts["rope_base"])
    wr.add_layer_norm_rms_eps(opts["rms_eps"])
    wr.add_file_type(ftype)
    if arch == "llama":  # LlamaModel.set_gguf_parameters adds these two
        wr.add_vocab_size(N_VOCAB)
        wr.add_rope_dimension_count(HEAD_DIM)
    if arch == "qwen3":  # written when the HF config has head_dim
        wr.add_key_length(HEAD_DIM)
        wr.add_value_length(HEAD_DIM)
    wr.add_quantization_version(gguf.GGML_QUANT_VERSION)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("gpt-2")
    wr.add_token_list(tokens)
    wr.add_token_types([gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * (len(tokens) - len(SPECIALS)))
    wr.add_token_merges(merges)
    wr.add_bos_token_id(BOS_ID)
    wr.add_eos_token_id(EOS_ID)
    wr.add_add_bos_token(False)

    if "llama3_rope" in opts:
        wr.add_tensor("rope_freqs.weight", llama3_rope_factors(opts["rope_base"], opts["llama3_rope"]))
    for hf, arr in w.items():
        if arch == "llama" and hf.endswith("self_attn.q_proj.weight"):
            arr = permute(arr, N_HEAD)
        elif arch == "llama" and hf.endswith("self_attn.k_proj.weight"):
            arr = permute(arr, N_HEAD_KV)
        if arr.ndim == 1 or wtype == "F32":  # norms and biases stay F32, as the converter does
            wr.add_tensor(gguf_name(hf), arr.astype(np.float32))
        elif wtype == "F16":
            wr.add_tensor(gguf_name(hf), arr.astype(np.float16))
        else:
            wr.add_tensor(gguf_name(hf), gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()


def read_back(path, arch):
    """GGUF file -> HF-layout float32 state dict (dequantized, llama Q/K un-permuted)."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    r = GGUFReader(path)
    inv = {}
    for t in r.tensors:
        arr = dequantize(t.data, t.tensor_type).reshape([int(d) for d in reversed(t.shape)]).astype(np.float32)
        inv[t.name] = arr
    sd = {}
    hf_names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    for layer in range(N_LAYER):
        hf_names += [f"model.layers.{layer}.{k}" for k in GGUF_NAMES]
    for hf in hf_names:
        g = gguf_name(hf)
        if g not in inv:
            continue
        arr = inv[g]
        if arch == "llama" and hf.endswith("q_proj.weight"):
            arr = unpermute(arr, N_HEAD)
        elif arch == "llama" and hf.endswith("k_proj.weight"):
            arr = unpermute(arr, N_HEAD_KV)
        sd[hf] = torch.from_numpy(np.ascontiguousarray(arr))
    return sd, inv


def hf_config(arch, opts, tied):
    from transformers import LlamaConfig, Qwen2Config, Qwen3Config

    rope = {"rope_type": "default", "rope_theta": opts["rope_base"]}
    if "llama3_rope" in opts:
        rope = {"rope_type": "llama3", "rope_theta": opts["rope_base"], **opts["llama3_rope"]}
    common = dict(vocab_size=N_VOCAB, hidden_size=N_EMBD, intermediate_size=N_FF, num_hidden_layers=N_LAYER,
                  num_attention_heads=N_HEAD, num_key_value_heads=N_HEAD_KV, max_position_embeddings=N_CTX,
                  rms_norm_eps=opts["rms_eps"], tie_word_embeddings=tied, rope_parameters=rope,
                  bos_token_id=BOS_ID, eos_token_id=EOS_ID, hidden_act="silu")
    if arch == "llama":
        return LlamaConfig(**common, head_dim=HEAD_DIM, attention_bias=False, mlp_bias=False)
    if arch == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    return Qwen3Config(**common, head_dim=HEAD_DIM, attention_bias=False, use_sliding_window=False)


def build_reference(arch, opts, tied, sd):
    from transformers import AutoModelForCausalLM

    cfg = hf_config(arch, opts, tied)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager")
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not (tied and m == "lm_head.weight")]
    assert not missing and not unexpected, (missing, unexpected)
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model.eval()
    return model, cfg


def load_via_transformers_gguf(path, overrides):
    from transformers import AutoModelForCausalLM

    d, f = os.path.split(path)
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32, attn_implementation="eager",
                                             **overrides)
    m.eval()
    return m


def run(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    tokens, merges = train_bpe()
    problems = []
    for name, arch, wtype, opts in VARIANTS:
        tied = opts["tied"]
        path = os.path.join(out_dir, name + ".gguf")
        w = hf_weights(opts["seed"], arch, tied)
        write_gguf(path, name, arch, wtype, opts, w, tokens, merges)
        sd, raw = read_back(path, arch)
        # The read-back must equal what we meant to write, up to the storage type's rounding.
        tol = {"F32": 0.0, "F16": 2e-3, "Q8_0": 0.05}[wtype]
        for k, v in w.items():
            d = float(np.abs(sd[k].numpy() - v).max())
            assert d <= tol * max(1.0, float(np.abs(v).max())), (name, k, d)
        model, cfg = build_reference(arch, opts, tied, sd)
        print(f"{name}: {os.path.getsize(path)} bytes, arch {arch}, {wtype}")

        if "llama3_rope" in opts:
            # The rope_freqs we wrote must be exactly HF's llama3 frequency scaling: inv_freq = base_inv / factor.
            base_inv = 1.0 / (opts["rope_base"] ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
            hf_inv = model.model.rotary_emb.inv_freq.float()
            rel = float(((base_inv / torch.from_numpy(raw["rope_freqs.weight"])) / hf_inv - 1).abs().max())
            print(f"  llama3 rope: max rel diff base_inv/rope_freqs vs HF inv_freq = {rel:g}")
            assert rel < 1e-5, rel

        cases = [gc.make_case(model, sname, ids, EOS_ID, list(range(0, N_VOCAB, 37)) + [N_VOCAB - 1],
                              tokenization="fixed token ids (no tokenizer)", full_logits=len(ids) <= 16)
                 for sname, ids in sequences()]

        # Cross-check: transformers' own GGUF loader on the same file. Two things it does not read from
        # a GGUF (transformers 5.23): qwen3.attention.key_length (its Qwen3Config then defaults head_dim to
        # 128) and rope_freqs.weight (llama3 rope scaling). We pass those as config overrides, and say so.
        overrides = {}
        if arch == "qwen3":
            overrides["head_dim"] = HEAD_DIM
        if "llama3_rope" in opts:
            overrides["rope_parameters"] = hf_config(arch, opts, tied).rope_parameters
        xcheck = {"config_overrides": {k: v for k, v in overrides.items()}}
        try:
            gm = load_via_transformers_gguf(path, overrides)
            for c in cases:
                lg = gc.prompt_logits(gm, c["token_ids"])
                xcheck[c["name"]] = float((lg - c["_logits"]).abs().max())
            xcheck["status"] = "loaded"
        except Exception as e:  # noqa: BLE001 - record what transformers rejected
            xcheck["status"] = f"transformers GGUF load failed: {type(e).__name__}: {str(e)[:300]}"
        worst = max([v for k, v in xcheck.items() if k not in ("status", "config_overrides")], default=None)
        print(f"  transformers-GGUF cross-check: {xcheck['status']}, max |logit diff| {worst}")
        if worst is None or worst > 1e-4:
            problems.append(f"{name}: transformers GGUF path disagrees with the reference by {worst}")

        meta = {
            "file": name + ".gguf", "sha256": gc.sha256(path), "arch": arch, "weight_type": wtype,
            "n_layer": N_LAYER, "n_embd": N_EMBD, "n_head": N_HEAD, "n_head_kv": N_HEAD_KV, "head_dim": HEAD_DIM,
            "n_ff": N_FF, "n_vocab": N_VOCAB, "n_ctx": N_CTX, "rope_base": opts["rope_base"],
            "rms_eps": opts["rms_eps"], "tied_embeddings": tied,
            "rope_scaling": ({"type": "llama3", **opts["llama3_rope"],
                              "rope_freqs": [float(x) for x in raw["rope_freqs.weight"]]}
                             if "llama3_rope" in opts else None),
            "qk_permuted_in_gguf": arch == "llama", "qkv_bias": arch == "qwen2", "qk_norm": arch == "qwen3",
            "rope_style": "normal (GGML interleaved pairs, HF weights permuted)" if arch == "llama" else "neox",
            "eos_id": EOS_ID, "bos_id": BOS_ID, "add_bos": False, "weight_seed": opts["seed"],
        }
        gc.write_json(os.path.join(out_dir, name + ".json"), {
            "format": "docket-golden-logits/1", "generator": gc.versions(), "model": meta,
            "transformers_gguf_cross_check_max_abs_diff": xcheck, "cases": gc.strip_private(cases)})
        for t in gc.summarize_near_ties(cases):
            print("   near tie:", t)
    return problems

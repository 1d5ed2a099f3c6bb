"""SmolLM2-135M-Instruct (Q4_1 GGUF) goldens: logits, greedy continuations and tokenizer ids.

transformers reads the GGUF itself (gguf_file=...), dequantizes Q4_1/Q8_0 to fp32 and runs an fp32
forward pass. We check that it really used the file's weights before trusting it.
"""

import json
import os

import numpy as np
import torch

import golden_common as gc

SMOL_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CUAD_DOC = "GopageCorp_20140221_10-K_EX-10.1_8432966_EX-10.1_Content License Agreement"
CUAD_TARGET_TOKENS = 2000
TOKENIZATION = ("SmolLM2's original pipeline rebuilt with `tokenizers` from the GGUF vocab/merges "
                "(Digits(individual_digits) then ByteLevel regex, BPE), cross-checked against llama.cpp's "
                "SMOLLM pre-tokenizer regexes; encode(prompt, add_special_tokens=False): no BOS "
                "(tokenizer.ggml.add_bos_token=false); special-token strings in the text are parsed as "
                "special tokens. transformers' own GGUF-converted tokenizer drops the digit split and is "
                "NOT used (see README)")
PROBE_IDS = [0, 1, 2, 198, 216, 260, 1000, 12345, 30000, 49151]

PROMPTS = [
    ("short_english", "The quick brown fox jumps over the lazy dog. The dog"),
    ("single_token", "Hello"),
    ("chat_capital_france", None),  # rendered from the chat template below
    ("code_python", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n"
                    "        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\nfor i in range(10):\n"
                    "    print("),
    ("numbers_punctuation", "Invoice #A-1024: 3 items @ $1,234.50 each = $3,703.50 (incl. 7.5% tax); "
                            "due 2024-03-31, ref. 0042/17... Total?! 100%"),
    ("unicode_mixed", "Café naïve résumé — Zürich, São Paulo. 東京は日本の首都です。 Emoji: 🚀🎉👍🏽 "
                      "Ελληνικά, русский, עברית, ½ ² ∑ → ✓"),
    ("whitespace_runs", "Line one.\n\n\n    Indented    with   runs\t\tand\ttabs\n  \n\n\nEnd   of   text.   "),
    ("legal_clause", "12.3 Limitation of Liability. EXCEPT FOR A PARTY'S INDEMNIFICATION OBLIGATIONS, IN NO "
                     "EVENT SHALL EITHER PARTY BE LIABLE TO THE OTHER FOR ANY INDIRECT, INCIDENTAL, "
                     "CONSEQUENTIAL, SPECIAL OR PUNITIVE DAMAGES ARISING OUT OF THIS AGREEMENT, EVEN IF "
                     "ADVISED OF THE POSSIBILITY THEREOF. Notwithstanding the foregoing, the aggregate "
                     "liability of the Licensor shall not exceed the fees paid"),
    ("markdown_list", "## Key terms\n\n1. Term: 3 years, renewing automatically.\n2. Governing law: "
                      "State of New York.\n- Termination for convenience: 90 days' notice.\n- "),
    ("english_paragraph", "Once upon a time, in a small village by the sea, there lived an old fisherman "
                          "who went out every morning before sunrise. One day, he caught a fish that could "
                          "speak. The fish said to him,"),
    ("special_tokens_in_text", "<|im_start|>user\nSummarize: the lease ends in June.<|im_end|>\n"
                               "<|im_start|>assistant\n"),
]
CHAT_USER = "What is the capital of France? Answer in one word."

# ~30 tokenizer edge cases (name, text).
TOKENIZER_CASES = [
    ("empty", ""),
    ("single_space", " "),
    ("leading_space_word", " Hello"),
    ("two_leading_spaces", "  Hello"),
    ("trailing_spaces", "Hello   "),
    ("only_newlines", "\n\n\n"),
    ("multiple_newlines_between", "a\n\nb\n\n\nc"),
    ("crlf", "line1\r\nline2\r\n"),
    ("tabs_mixed", "\tx\t\ty \t z"),
    ("digits_run", "1234567"),
    ("digits_spaced", "Call 555 0100 or 12,345.67 now"),
    ("year_and_percent", "In 2023, 45% of 1000000 cases"),
    ("contractions", "It's, don't, we're, you've, I'm, they'll, he'd"),
    ("contractions_upper", "IT'S DON'T WE'RE"),
    ("apostrophe_spaced", "rock 'n' roll 's 't"),
    ("punct_run", "Wait...!?;:--(()) [] {} <>"),
    ("accents", "Café naïve résumé façade"),
    ("german_sz", "Straße Größe ÄÖÜ"),
    ("cjk", "東京は日本の首都です。北京欢迎你"),
    ("korean", "안녕하세요 세계"),
    ("emoji", "🚀🎉👍🏽❤️"),
    ("numeric_symbols", "½ ² ³ ¼ Ⅷ ① ٣"),
    ("math_symbols", "∑ x² ≤ ∞ → ✓"),
    ("code", "for (int i = 0; i < n; ++i) { x[i] *= 2; }"),
    ("url_email", "See https://example.com/a?b=1&c=2 or mail info@example.org"),
    ("special_im_start", "<|im_start|>user\nHi<|im_end|>"),
    ("special_midword", "abc<|im_end|>def"),
    ("special_endoftext", "<|endoftext|>"),
    ("special_like_not_special", "<|im_start |> <im_start> <|unknown|>"),
    ("legal_quote", "the \"Effective Date\" (as defined in Section 2.1(a)(iii))"),
    ("long_word", "Antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis"),
    ("whitespace_before_newline", "end   \n   start"),
    ("newlines_before_digit", "Agreement.\n\n1. Term\n\n\n2. Fees"),
    ("spaces_before_digit", "Section   12 and  3"),
]


def _bytes_to_unicode():
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


def load(model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=SMOL_NAME)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=SMOL_NAME, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    return tok, model


def unpermute(w, n_head):
    """Inverse of llama.cpp convert_hf_to_gguf's Q/K permute. w: [n_head*head_dim, n_embd]."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def verify_weights(path, model):
    """Compare transformers' tensors with gguf-py's numpy dequantizer on the same file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    r = GGUFReader(path)
    t = {x.name: x for x in r.tensors}
    cfg = model.config

    def deq(name):
        x = t[name]
        return dequantize(x.data, x.tensor_type).reshape([int(d) for d in reversed(x.shape)])

    checks = {
        "token_embd.weight (Q8_0)": (deq("token_embd.weight"), model.model.embed_tokens.weight),
        "blk.0.ffn_down.weight (Q4_1)": (deq("blk.0.ffn_down.weight"), model.model.layers[0].mlp.down_proj.weight),
        "blk.29.attn_v.weight (Q4_1)": (deq("blk.29.attn_v.weight"), model.model.layers[29].self_attn.v_proj.weight),
        "blk.0.attn_q.weight (Q4_1, unpermuted)": (
            unpermute(deq("blk.0.attn_q.weight"), cfg.num_attention_heads), model.model.layers[0].self_attn.q_proj.weight),
        "blk.7.attn_k.weight (Q4_1, unpermuted)": (
            unpermute(deq("blk.7.attn_k.weight"), cfg.num_key_value_heads), model.model.layers[7].self_attn.k_proj.weight),
        "output_norm.weight (F32)": (deq("output_norm.weight"), model.model.norm.weight),
    }
    report = {}
    for k, (a, b) in checks.items():
        b = b.detach().float().numpy()
        assert a.shape == b.shape, (k, a.shape, b.shape)
        d = float(np.abs(a - b).max())
        report[k] = d
        print(f"  weight check {k}: max|diff| = {d:g}")
        assert d == 0.0, f"transformers' {k} differs from gguf's dequantization by {d}"
    # And the permutation matters: the raw (still permuted) attn_q must NOT match.
    raw = deq("blk.0.attn_q.weight")
    hf = model.model.layers[0].self_attn.q_proj.weight.detach().numpy()
    report["raw attn_q vs hf q_proj (should be > 0)"] = float(np.abs(raw - hf).max())
    assert report["raw attn_q vs hf q_proj (should be > 0)"] > 0
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "expected tied lm_head"
    return report


def cuad_excerpt(tok, shared_dir):
    text = open(os.path.join(shared_dir, "data/cuad-dev/docs", CUAD_DOC + ".txt"), encoding="utf-8").read()
    # Largest prefix whose token count is <= target: binary search on char length.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tok.encode(text[:mid], add_special_tokens=False).ids) <= CUAD_TARGET_TOKENS:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo], (0, lo)


def model_meta(path, cfg, tok):
    return {
        "file": os.path.basename(path), "sha256": gc.sha256(path), "arch": "llama",
        "n_layer": cfg.num_hidden_layers, "n_embd": cfg.hidden_size, "n_head": cfg.num_attention_heads,
        "n_head_kv": cfg.num_key_value_heads, "head_dim": cfg.head_dim, "n_ff": cfg.intermediate_size,
        "n_vocab": cfg.vocab_size, "rope_base": float(cfg.rope_parameters["rope_theta"]),
        "rms_eps": float(cfg.rms_norm_eps), "tied_embeddings": bool(cfg.tie_word_embeddings),
        "rope_scaling": None, "eos_id": int(tok.eos_token_id), "bos_id": int(tok.bos_token_id),
        "add_bos": False,
    }


def run_logits(model_dir, shared_dir, out_dir):
    path = os.path.join(model_dir, SMOL_NAME)
    tok, model = load(model_dir)
    ref = reference_tokenizer(path)
    print("verifying SmolLM2 weights against gguf-py dequantization")
    wreport = verify_weights(path, model)
    meta = model_meta(path, model.config, tok)
    eos = meta["eos_id"]
    cases = []
    for name, text in PROMPTS:
        extra = None
        if text is None:
            text = tok.apply_chat_template([{"role": "user", "content": CHAT_USER}], tokenize=False,
                                           add_generation_prompt=True)
            extra = {"chat_messages": [{"role": "user", "content": CHAT_USER}],
                     "chat_template": "model's tokenizer.chat_template, add_generation_prompt=True"}
        ids = ref.encode(text, add_special_tokens=False).ids
        assert ids == llama_cpp_style_tokenize(path, text, ref), name
        hf_ids = tok(text, add_special_tokens=False)["input_ids"]
        if hf_ids != ids:
            extra = dict(extra or {}, transformers_gguf_tokenizer_ids=hf_ids)
        print(f"case {name}: {len(ids)} tokens{' (transformers GGUF tokenizer differs)' if hf_ids != ids else ''}")
        c = gc.make_case(model, name, ids, eos, PROBE_IDS, prompt=text, tokenization=TOKENIZATION, extra=extra)
        c["greedy"]["text"] = tok.decode(c["greedy"]["ids"])
        print(f"  greedy: {c['greedy']['text']!r}")
        cases.append(c)
    chat = next(c for c in cases if c["name"] == "chat_capital_france")
    assert "Paris" in chat["greedy"]["text"], chat["greedy"]["text"]

    doc, (a, b) = cuad_excerpt(ref, shared_dir)
    ids = ref.encode(doc, add_special_tokens=False).ids
    assert ids == llama_cpp_style_tokenize(path, doc, ref)
    print(f"case cuad_2k: {len(ids)} tokens, chars [{a}, {b})")
    big = gc.make_case(model, "cuad_2k", ids, eos, PROBE_IDS, prompt=doc, tokenization=TOKENIZATION,
                       extra={"source": {"corpus": "shared/data/cuad-dev (CUAD v1, CC BY 4.0)", "doc_id": CUAD_DOC,
                                         "char_begin": a, "char_end": b}})
    big["greedy"]["text"] = tok.decode(big["greedy"]["ids"])
    print(f"  greedy: {big['greedy']['text']!r}")

    gen = gc.versions()
    common = {"generator": gen, "model": meta, "weight_check_max_abs_diff": wreport}
    gc.write_json(os.path.join(out_dir, "smollm2_logits.json"),
                  {"format": "docket-golden-logits/1", **common, "cases": gc.strip_private(cases)})
    gc.write_json(os.path.join(out_dir, "smollm2_logits_cuad2k.json"),
                  {"format": "docket-golden-logits/1", **common, "cases": gc.strip_private([big])})
    return gc.summarize_near_ties(cases + [big])


def reference_tokenizer(path):
    """Rebuild SmolLM2's original tokenizer.json pipeline (digits split individually, then GPT-2
    byte-level regex, BPE with the GGUF's vocab+merges) with the `tokenizers` library directly. Used
    only to cross-check the transformers GGUF-converted tokenizer."""
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(path)
    f = r.fields["tokenizer.ggml.tokens"]
    toks = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    m = r.fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(m.parts[i]).decode("utf-8").split(" ", 1)) for i in m.data]
    tt = r.fields["tokenizer.ggml.token_type"]
    types = [int(tt.parts[i][0]) for i in tt.data]
    t = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(toks)}, merges=merges))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                              pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s, ty in zip(toks, types) if ty == 3])
    return t


def llama_cpp_style_tokenize(path, text, tok_ref):
    """Third opinion: llama.cpp's SMOLLM pre-tokenizer regexes (\\p{N} split first, then the GPT-2 regex)
    applied with the `regex` module, each piece BPE-encoded by the reference model (no pre-tokenizer)."""
    import regex

    b2u = _bytes_to_unicode()
    pat1 = regex.compile(r"\p{N}")
    pat2 = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
    specials = [s for s in tok_ref.get_added_tokens_decoder().values()]
    spec = regex.compile("(" + "|".join(regex.escape(s.content) for s in specials) + ")")
    ids = []
    model = tok_ref.model
    for part in spec.split(text):
        if part == "":
            continue
        if spec.fullmatch(part):
            ids.append(tok_ref.token_to_id(part))
            continue
        pieces, pos = [], 0
        for mt in pat1.finditer(part):  # split around each numeric char, keeping it
            pieces += [part[pos:mt.start()], mt.group()]
            pos = mt.end()
        pieces.append(part[pos:])
        for pc in pieces:
            for w in pat2.findall(pc) if not pat1.fullmatch(pc) else [pc]:
                ids += [x.id for x in model.tokenize("".join(b2u[b] for b in w.encode("utf-8")))]
    return ids


def run_tokenizer(model_dir, shared_dir, out_dir):
    path = os.path.join(model_dir, SMOL_NAME)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=SMOL_NAME)
    ref = reference_tokenizer(path)
    cases, mismatches, hf_diff = [], [], []
    for name, text in TOKENIZER_CASES:
        hid = tok(text, add_special_tokens=False)["input_ids"]
        ids = ref.encode(text, add_special_tokens=False).ids
        lid = llama_cpp_style_tokenize(path, text, ref)
        if ids != lid:
            mismatches.append((name, ids, lid))
        case = {"name": name, "text": text, "ids": ids, "pieces": [ref.id_to_token(i) for i in ids]}
        if hid != ids:
            case["transformers_gguf_tokenizer_ids"] = hid
            hf_diff.append(name)
        cases.append(case)
        assert ref.decode(ids, skip_special_tokens=False) == text, (name, ref.decode(ids), text)
    # Broad cross-check on real text: 20 whole CUAD contracts.
    docs_dir = os.path.join(shared_dir, "data/cuad-dev/docs")
    n_tok = 0
    for fn in sorted(os.listdir(docs_dir))[:20]:
        text = open(os.path.join(docs_dir, fn), encoding="utf-8").read()
        ids = ref.encode(text, add_special_tokens=False).ids
        n_tok += len(ids)
        if ids != llama_cpp_style_tokenize(path, text, ref):
            mismatches.append((fn, "differs", ""))
        if ids != tok(text, add_special_tokens=False)["input_ids"]:
            hf_diff.append(fn)
    print(f"tokenizer cross-check: {len(TOKENIZER_CASES)} cases + 20 CUAD docs ({n_tok} tokens), "
          f"{len(mismatches)} mismatches; transformers' GGUF tokenizer differs on {len(hf_diff)}: {hf_diff}")
    for mm in mismatches:
        print("  MISMATCH", mm)
    gc.write_json(os.path.join(out_dir, "smollm2_tokenizer.json"), {
        "format": "docket-golden-tokenizer/1", "generator": gc.versions(),
        "model": {"file": SMOL_NAME, "sha256": gc.sha256(path)}, "add_bos": False, "parse_special": True,
        "ids_from": "tokenizers BPE + Sequence[Digits(individual_digits), ByteLevel(regex)] = SmolLM2's "
                    "tokenizer.json pipeline, vocab/merges from the GGUF",
        "cross_check": {"agrees_with_llama_cpp_smollm_regexes": not mismatches, "cuad_docs": 20,
                        "cuad_tokens": n_tok,
                        "transformers_gguf_tokenizer_differs_on": hf_diff,
                        "note": "transformers' GGUF tokenizer conversion omits the Digits pre-tokenizer; where it "
                                "differs its ids are kept as transformers_gguf_tokenizer_ids (NOT the target)"},
        "cases": cases})
    return mismatches

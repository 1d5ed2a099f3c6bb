"""Shared helpers for the golden-data generator: run a causal LM in fp32 and record its logits.

Dev-time oracle only (see README.md). Everything here is torch/transformers on CPU, float32.
"""

import hashlib
import json
import os
import platform

import numpy as np
import torch

NEAR_TIE = 1e-3  # top1 - top2 below this: the argmax may legitimately flip in another implementation
TOPK = 8
GREEDY_STEPS = 32


def versions():
    import gguf  # noqa: F401
    import importlib.metadata as md
    import transformers

    return {
        "script": "tests/golden/make_golden.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gguf": md.version("gguf"),
        "numpy": np.__version__,
        "tokenizers": md.version("tokenizers"),
        "torch_threads": torch.get_num_threads(),
        "dtype": "float32",
        "device": "cpu",
        "attn_implementation": "eager",
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def r5(x):
    return round(float(x), 5)


def r6(x):
    return round(float(x), 6)


@torch.no_grad()
def prompt_logits(model, ids):
    """Full-sequence forward. ids: int[T]. Returns float32 [T, n_vocab]."""
    out = model(torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float()


def _top(row):
    """row: float32 [n_vocab] -> (top1 id, sorted top-k ids, their logits, gap12)."""
    vals, idx = torch.topk(row, TOPK)
    top1 = int(torch.argmax(row))  # lowest id on an exact tie
    idx = idx.tolist()
    vals = vals.tolist()
    if idx[0] != top1:  # exact tie ordered differently by topk: put argmax first
        j = idx.index(top1) if top1 in idx else None
        if j is not None:
            idx.insert(0, idx.pop(j))
            vals.insert(0, vals.pop(j))
    return top1, idx, vals, float(vals[0] - vals[1])


def position_columns(logits):
    """logits: [T, n_vocab] -> column dict described in README.md."""
    cols = {k: [] for k in ("top1_id", "top1_logit", "max_logit", "min_logit", "top_ids", "top_logits",
                            "near_tie", "gap12")}
    for p in range(logits.shape[0]):
        row = logits[p]
        top1, idx, vals, gap = _top(row)
        cols["top1_id"].append(top1)
        cols["top1_logit"].append(r5(row[top1]))
        cols["max_logit"].append(r5(row.max()))
        cols["min_logit"].append(r5(row.min()))
        cols["top_ids"].append(idx)
        cols["top_logits"].append([r5(v) for v in vals])
        cols["near_tie"].append(bool(gap < NEAR_TIE))
        cols["gap12"].append(r6(gap))
    return cols


def probes(logits, positions, probe_ids):
    out = []
    for p in positions:
        row = logits[p].double()
        out.append({
            "pos": int(p),
            "sum": r5(row.sum()),
            "sum_abs": r5(row.abs().sum()),
            "sum_sq": r5((row * row).sum()),
            "ids": list(probe_ids),
            "logits": [r5(row[i]) for i in probe_ids],
        })
    return out


@torch.no_grad()
def greedy(model, ids, eos_id, steps=GREEDY_STEPS):
    """Exactly `steps` argmax tokens after `ids`, KV-cached, never stopping at EOS."""
    out = model(torch.tensor([ids], dtype=torch.long), use_cache=True)
    past = out.past_key_values
    row = out.logits[0, -1].float()
    chosen, top1_logit, gaps = [], [], []
    for k in range(steps):
        top1, idx, vals, gap = _top(row)
        chosen.append(top1)
        top1_logit.append(r5(vals[0]))
        gaps.append(r6(gap))
        if k + 1 == steps:
            break
        out = model(torch.tensor([[top1]], dtype=torch.long), past_key_values=past, use_cache=True)
        past = out.past_key_values
        row = out.logits[0, -1].float()
    first_eos = chosen.index(eos_id) if eos_id is not None and eos_id in chosen else -1
    return {
        "steps": steps,
        "ids": chosen,
        "first_eos_index": first_eos,
        "top1_logit": top1_logit,
        "gap12": gaps,
        "near_tie": [g < NEAR_TIE for g in gaps],
    }


@torch.no_grad()
def greedy_recompute_check(model, ids, greedy_ids):
    """Independent check of the cached greedy loop: one full forward over prompt+continuation must
    reproduce every chosen token (except where a near tie lets it flip). Returns mismatching steps."""
    full = ids + greedy_ids
    logits = prompt_logits(model, full)
    bad = []
    for k, tok in enumerate(greedy_ids):
        row = logits[len(ids) - 1 + k]
        top1, idx, vals, gap = _top(row)
        if top1 != tok:
            bad.append((k, tok, top1, gap))
    return bad


def make_case(model, name, ids, eos_id, probe_ids, prompt=None, tokenization=None, full_logits=False,
              extra=None):
    logits = prompt_logits(model, ids)
    T = len(ids)
    case = {"name": name, "prompt": prompt, "tokenization": tokenization, "token_ids": list(map(int, ids)),
            "n_tokens": T}
    if extra:
        case.update(extra)
    case.update(position_columns(logits))
    probe_pos = sorted({0, T // 2, T - 1})
    case["probes"] = probes(logits, probe_pos, probe_ids)
    if full_logits:
        case["full_logits"] = [[r5(v) for v in logits[p].tolist()] for p in range(T)]
    case["greedy"] = greedy(model, ids, eos_id)
    bad = greedy_recompute_check(model, ids, case["greedy"]["ids"])
    if bad:
        print(f"  WARNING {name}: cached vs recomputed greedy differ at {bad}")
    case["_logits"] = logits  # stripped before writing; used for cross-checks
    return case


def strip_private(cases):
    return [{k: v for k, v in c.items() if not k.startswith("_")} for c in cases]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def summarize_near_ties(cases):
    lines = []
    for c in cases:
        for p, nt in enumerate(c["near_tie"]):
            if nt:
                lines.append(f"{c['name']} pos {p}: top {c['top_ids'][p][:2]} gap {c['gap12'][p]}")
        for k, nt in enumerate(c["greedy"]["near_tie"]):
            if nt:
                lines.append(f"{c['name']} greedy step {k}: gap {c['greedy']['gap12'][k]}")
    return lines

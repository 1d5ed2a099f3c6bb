# Dev-time analysis (not run by ctest): how often does f16 rounding alone flip the top-1 token on a random
# real-shape model? A numpy llama forward in f32 (plain RoPE, the output head in f32 as on the GPU), with
# optional f16 rounding of the weights, of every matmul input (incl. softmax P), and of K/V. Usage:
#   docket-dev make-model --shape llama3-1b --type q4_k --seed 7 --out /tmp/l1b.gguf
#   python3 tests/cuda/emulate_f16_prefill.py N_PROMPTS   (needs numpy and gguf from PyPI; 150 tokens each)
import numpy as np, gguf, sys, time
r = gguf.GGUFReader(sys.argv[2] if len(sys.argv) > 2 else '/tmp/l1b.gguf')
kv = {f.name: f for f in r.fields.values()}
def fv(name):
    f = kv[name]; return f.parts[f.data[0]].tolist()[0] if len(f.data)==1 else [f.parts[i].tolist()[0] for i in f.data]
arch = 'llama'
n_layer = fv(f'{arch}.block_count'); n_head = fv(f'{arch}.attention.head_count'); n_kv = fv(f'{arch}.attention.head_count_kv')
eps = fv(f'{arch}.attention.layer_norm_rms_epsilon'); base = fv(f'{arch}.rope.freq_base')
T = {}
t0=time.time()
for t in r.tensors:
    a = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    T[t.name] = a.reshape([int(x) for x in reversed(t.shape)]) if a.ndim==1 and len(t.shape)>1 else a
print('dequant', time.time()-t0, 's', file=sys.stderr)
dim = T['token_embd.weight'].shape[1]; hd = dim // n_head
out_w = T.get('output.weight', T['token_embd.weight'])
inv = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
f16 = lambda x: x.astype(np.float16).astype(np.float32)
def rms(x, w): return x / np.sqrt((x*x).mean(-1, keepdims=True) + eps) * w
def rope(x, pos):  # x [n, h, hd], pairs (2i, 2i+1)
    ang = np.outer(pos, inv); c = np.cos(ang).astype(np.float32)[:, None, :]; s = np.sin(ang).astype(np.float32)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]; y = np.empty_like(x); y[..., 0::2] = x0*c - x1*s; y[..., 1::2] = x0*s + x1*c; return y
def forward(toks, wr, ar, kvr):
    W = (lambda n: f16(T[n])) if wr else (lambda n: T[n])
    A = f16 if ar else (lambda x: x)
    n = len(toks); pos = np.arange(n)
    x = T['token_embd.weight'][toks].copy()
    mask = np.triu(np.full((n, n), -np.inf, np.float32), 1)
    for l in range(n_layer):
        p = f'blk.{l}.'
        h = A(rms(x, T[p+'attn_norm.weight']))
        q = (h @ W(p+'attn_q.weight').T).reshape(n, n_head, hd)
        k = (h @ W(p+'attn_k.weight').T).reshape(n, n_kv, hd)
        v = (h @ W(p+'attn_v.weight').T).reshape(n, n_kv, hd)
        if kvr: k, v = f16(k), f16(v)
        q, k = rope(q, pos), rope(k, pos)
        if ar: q, k = f16(q), f16(k)
        g = n_head // n_kv
        o = np.empty((n, n_head, hd), np.float32)
        for hh in range(n_head):
            s = (q[:, hh] @ k[:, hh // g].T) / np.sqrt(hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True)); pr = s / s.sum(-1, keepdims=True)
            o[:, hh] = (f16(pr) if ar else pr) @ v[:, hh // g]
        x = x + A(o.reshape(n, dim)) @ W(p+'attn_output.weight').T
        h = A(rms(x, T[p+'ffn_norm.weight']))
        gt = h @ W(p+'ffn_gate.weight').T; up = h @ W(p+'ffn_up.weight').T
        x = x + A(gt / (1 + np.exp(-gt)) * up) @ W(p+'ffn_down.weight').T
    return rms(x, T['output_norm.weight']) @ out_w.T  # output head in f32, as the GPU's gemv_q
rng = np.random.default_rng(99)
V = out_w.shape[0]
variants = {'weights f16': (1,0,0), 'matmul inputs f16': (0,1,0), 'KV f16': (0,0,1), 'all (GPU-like)': (1,1,1)}
miss = {k: 0 for k in variants}; tot = 0
for pi in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    toks = rng.integers(0, V, 150)
    ref = forward(toks, 0, 0, 0).argmax(-1); tot += len(toks)
    for name, (a, b, c) in variants.items():
        miss[name] += int((forward(toks, a, b, c).argmax(-1) != ref).sum())
    print(pi, tot, miss, file=sys.stderr, flush=True)
for name in variants: print(f'{name:22s} top-1 flips {miss[name]}/{tot} = {100*miss[name]/tot:.2f}%')

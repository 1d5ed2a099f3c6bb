#!/usr/bin/env python3
"""Golden data for Docket's dequantizers, produced by an independent implementation: the numpy dequantizers of
the PyPI `gguf` package (gguf.quants.dequantize). Not run in CI; the C++ test reads the files it writes.

Each <TYPE>.bin holds random block bytes (fp16 scale fields forced finite) and the float32 values gguf computes:
    magic "DQG1" | u32 ggml type id | u32 n_elements | u32 n_bytes | n_bytes block bytes | n_elements f32 (LE)

Usage: /tmp/py/bin/python tests/golden/dequant/make_dequant_golden.py [outdir]
"""
import importlib.metadata
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20241122
# type -> (number of blocks, byte offsets of fp16 scale fields inside a block)
TYPES = {
    T.F32: (256, []),
    T.F16: (512, None),  # every element is an fp16 value
    T.BF16: (512, []),
    T.Q4_0: (64, [0]),
    T.Q4_1: (64, [0, 2]),
    T.Q5_0: (64, [0]),
    T.Q5_1: (64, [0, 2]),
    T.Q8_0: (64, [0]),
    T.Q2_K: (12, [80, 82]),
    T.Q3_K: (12, [108]),
    T.Q4_K: (12, [0, 2]),
    T.Q5_K: (12, [0, 2]),
    T.Q6_K: (12, [208]),
}


def finite_f16(u16: np.ndarray) -> np.ndarray:
    """Clears the top exponent bit of fp16 patterns that are inf/NaN so every value is finite."""
    u16 = u16.astype(np.uint16)
    bad = (u16 & 0x7C00) == 0x7C00
    return np.where(bad, u16 & ~np.uint16(0x4000), u16).astype(np.uint16)


def make(rng: np.random.Generator, qtype: T, n_blocks: int, scale_offsets):
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if qtype == T.F32:
        vals = rng.standard_normal(n_blocks).astype(np.float32) * np.float32(10.0)
        vals[:4] = [0.0, -0.0, np.inf, -np.inf]
        raw = vals.view(np.uint8).reshape(n_blocks, 4)
    elif qtype == T.F16:
        u = finite_f16(raw.view(np.uint16).reshape(-1))
        u[:6] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00]  # zeros, subnormals, max, inf
        raw = u.view(np.uint8).reshape(n_blocks, 2)
    else:
        for off in scale_offsets:
            field = raw[:, off:off + 2].copy().view(np.uint16).reshape(-1)
            field = finite_f16(field)
            if n_blocks > 2:  # pin a zero and a subnormal scale so those paths are covered
                field[0] = 0x0000
                field[1] = 0x0001
            raw[:, off:off + 2] = field.view(np.uint8).reshape(n_blocks, 2)
    data = np.ascontiguousarray(raw).reshape(-1)
    out = gguf.quants.dequantize(data, qtype).astype(np.float32, copy=False).reshape(-1)
    assert out.size == n_blocks * block_size, (qtype, out.size)
    return data.tobytes(), out.tobytes(), out.size


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rng = np.random.default_rng(SEED)
    for qtype, (n_blocks, offs) in TYPES.items():
        blocks, floats, n = make(rng, qtype, n_blocks, offs)
        path = os.path.join(outdir, f"{qtype.name}.bin")
        with open(path, "wb") as f:
            f.write(b"DQG1" + struct.pack("<III", int(qtype), n, len(blocks)))
            f.write(blocks)
            f.write(floats)
        print(f"{path}: {n} elements, {len(blocks)} block bytes")
    with open(os.path.join(outdir, "VERSIONS.txt"), "w") as f:
        f.write(f"gguf {importlib.metadata.version('gguf')}\nnumpy {np.__version__}\n"
                f"seed {SEED}\n")


if __name__ == "__main__":
    main()

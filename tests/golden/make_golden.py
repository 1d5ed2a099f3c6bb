#!/usr/bin/env python3
"""Generate Docket's golden reference data with an independent implementation (transformers/torch, fp32 CPU).

Dev-time oracle only: not run in CI, not shipped. See tests/golden/README.md for the venv, the
exact commands and the JSON schema.

  python make_golden.py [--what all|smollm2|tokenizer|tiny] [--model-dir DIR] [--shared-dir DIR] [--out DIR]
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import golden_common as gc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="all", choices=["all", "smollm2", "tokenizer", "tiny"])
    ap.add_argument("--model-dir", default=os.path.expanduser("~/.cache/docket/models"))
    ap.add_argument("--shared-dir", default=os.path.abspath(os.path.join(HERE, "../../../shared")))
    ap.add_argument("--out", default=os.path.join(HERE, "data"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    # Fixed thread count: fp32 reductions may be split differently with another count (tiny ulp-level
    # changes only), and this keeps reruns bit-identical on the same machine.
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print("versions:", gc.versions())

    problems = []
    if a.what in ("all", "tiny"):
        import tiny_golden

        problems += tiny_golden.run(a.out)
    if a.what in ("all", "tokenizer"):
        import smollm2_golden

        mm = smollm2_golden.run_tokenizer(a.model_dir, a.shared_dir, a.out)
        problems += [f"tokenizer mismatch: {m[0]}" for m in mm]
    if a.what in ("all", "smollm2"):
        import smollm2_golden

        ties = smollm2_golden.run_logits(a.model_dir, a.shared_dir, a.out)
        print(f"SmolLM2 near ties (gap < {gc.NEAR_TIE}): {len(ties)}")
        for t in ties:
            print("  ", t)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

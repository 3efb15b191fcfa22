#!/usr/bin/env python3
"""Measure the Numba kernels' two strategies (fused row loops vs a BLAS GEMM per step)
over cells, batch and hidden sizes, forward and backward, float32, to place
``numba_common.BLAS_MIN_*`` (thresholds on B * H and on G*H, G the cell's gate blocks).

    python benchmarks/kernel_strategy.py [--cells rnn gru lstm]
"""
import os

# Time compiled code: compile in this process, never run uncompiled meanwhile (tinyrnn/jit.py).
os.environ.setdefault("TINYRNN_JIT", "foreground")

import argparse
import sys
import time

import numpy as np

from tinyrnn.kernels import numba_common as common
from tinyrnn.kernels.cells import CELLS, kernel
from tinyrnn.threads import blas_threads


def median_ms(fn, repeat=7):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def run(cell, T, B, H, strategy, rng):
    spec = CELLS[cell]
    module = kernel(cell, "numba").module
    xw = rng.standard_normal((T, B, spec.gates * H)).astype(np.float32)
    w = (rng.standard_normal((spec.gates * H, H)) / np.sqrt(H)).astype(np.float32)
    state0 = np.zeros((spec.states, B, H), np.float32)
    original = common.strategy
    common.strategy = lambda *shape: strategy
    try:
        with blas_threads(module.blas_threads(B, H)[1]):
            fwd = median_ms(lambda: module.forward(xw, w, state0))
            ys, saved = module.forward(xw, w, state0)
            g = np.ones_like(ys)
            bwd = median_ms(lambda: module.backward(g, ys, saved, state0, w))
    finally:
        common.strategy = original
    return fwd, bwd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", nargs="+", default=["rnn", "gru", "lstm"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| cell | T | B | H | B*G*H | fused fwd ms | blas fwd ms | fused bwd ms | blas bwd ms "
          "| faster |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---|")
    for cell in args.cells:
        G = CELLS[cell].gates
        for B in (1, 4, 16, 32):
            for H in (32, 64, 128, 256):
                T = min(max(20, 200_000 // (B * G * H)), 1000)
                f_fwd, f_bwd = run(cell, T, B, H, "fused", rng)
                b_fwd, b_bwd = run(cell, T, B, H, "blas", rng)
                best = "fused" if f_fwd + f_bwd < b_fwd + b_bwd else "blas"
                print(f"| {cell} | {T} | {B} | {H} | {B * G * H} | {f_fwd:.3f} | {b_fwd:.3f} | "
                      f"{f_bwd:.3f} | {b_bwd:.3f} | {best} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())

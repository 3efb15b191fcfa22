#!/usr/bin/env python3
"""Measure the Numba kernel's two strategies (fused row loops vs a BLAS GEMM per step)
over batch and hidden sizes, forward and backward, float32, to place ``BLAS_MIN_*``.

    python benchmarks/kernel_strategy.py
"""
import sys
import time

import numpy as np

from tinyrnn.kernels import numba_kernel as nk
from tinyrnn.threads import blas_threads


def median_ms(fn, repeat=7):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def run(T, B, H, strategy, rng):
    xw = rng.standard_normal((T, B, H)).astype(np.float32)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(np.float32)
    h0 = np.zeros((B, H), np.float32)
    original = nk.strategy
    nk.strategy = lambda B, H: strategy
    try:
        with blas_threads(nk.blas_threads(B, H)):
            fwd = median_ms(lambda: nk.forward(xw, w, h0, "tanh"))
            hs = nk.forward(xw, w, h0, "tanh")
            g = np.ones_like(hs)
            bwd = median_ms(lambda: nk.backward(g, hs, h0, w, "tanh"))
    finally:
        nk.strategy = original
    return fwd, bwd


def main():
    rng = np.random.default_rng(0)
    print("| T | B | H | fused fwd ms | blas fwd ms | fused bwd ms | blas bwd ms | faster |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for B in (1, 4, 16, 32):
        for H in (32, 64, 128, 256, 512):
            T = max(20, 200_000 // (B * H))
            T = min(T, 1000)
            f_fwd, f_bwd = run(T, B, H, "fused", rng)
            b_fwd, b_bwd = run(T, B, H, "blas", rng)
            best = "fused" if f_fwd + f_bwd < b_fwd + b_bwd else "blas"
            print(f"| {T} | {B} | {H} | {f_fwd:.3f} | {b_fwd:.3f} | {f_bwd:.3f} | {b_bwd:.3f} "
                  f"| {best} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())

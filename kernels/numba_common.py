"""What the Numba kernels of every cell share: the row-block matrix product at the heart of
each step, the choice between fused loops and a BLAS GEMM per step, and the row blocks.

Batch rows are independent in time, so each kernel splits the work by rows, not by steps:
each thread owns a block of rows and runs the whole time loop for them, with no barrier per
step. Two strategies, chosen by size:

* ``fused`` (small steps): the step's product ``h W^T`` as loops ordered k -> row -> j over
  ``W^T`` (k-major), so the innermost loop runs along contiguous memory and vectorises, and
  each row of ``W^T`` is reused by every row of the block while it is in L1;
* ``blas`` (large steps): one GEMM per step over all rows (NumPy's BLAS, called from Python:
  a step this size hides the call), then one compiled elementwise pass; the weights no
  longer fit in cache, so BLAS's blocking is what pays.

Compiled with ``cache=True``: a new process loads the machine code instead of compiling.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit

from tinyrnn.jit import announce

announce()

# Numba's OpenMP threads (libgomp, which reads this when Numba first starts them) spin after
# each parallel loop by default, for long enough to take a core from the GEMMs that follow a
# kernel (tinyrnn/threads.py runs those on threads of its own). Measured at (100, 32, 64,
# 128), GRU forward+backward: 27-33 ms with the default spin, 16-19 ms with none. A value
# the user set is kept.
os.environ.setdefault("GOMP_SPINCOUNT", "0")

# Measured with benchmarks/kernel_strategy.py (2 cores): one GEMM per step wins once a
# step has enough rows times units to keep BLAS busy, or the weights outgrow the caches.
# Counted in units (B*H), not outputs (B*G*H): a gated cell's larger product comes with a
# larger gate pass, which the fused loops split over the cores and the BLAS plan runs on one
# (measured crossovers: B*H = 8192 for the Elman cell, the GRU and the LSTM alike).
BLAS_MIN_ROWS_TIMES_UNITS = 8192
BLAS_MIN_OUTPUTS = 1024
# Per-step GEMMs below this many multiply-adds run on one BLAS thread: a second thread saves
# little on them, and its spinning between calls slows the compiled pass that follows each
# one (tinyrnn/threads.py). Measured on 2 shared cores, B = H = 64, T = 100, ms per training
# step with 1 / 2 BLAS threads: GRU 46 / 308, LSTM 58 / 517.
BLAS_MULTITHREAD_MIN_MACS = 1 << 22


@njit(cache=True, error_model="numpy")
def accumulate_rows(out, left, right, n):
    """``out[r, :] += left[r, :] @ right`` for the first n rows.

    k advances four at a time, so ``out[r, :]`` is loaded and stored once per four rows of
    ``right`` (measured: 30-45% faster at H=32 than one at a time; eight was slower).
    """
    K = left.shape[1]
    J = right.shape[1]
    k = 0
    while k + 4 <= K:
        for r in range(n):
            l0, l1, l2, l3 = left[r, k], left[r, k + 1], left[r, k + 2], left[r, k + 3]
            for j in range(J):
                out[r, j] += (l0 * right[k, j] + l1 * right[k + 1, j]) + \
                             (l2 * right[k + 2, j] + l3 * right[k + 3, j])
        k += 4
    for k in range(k, K):
        for r in range(n):
            lk = left[r, k]
            for j in range(J):
                out[r, j] += lk * right[k, j]


# A gated cell's backward step, dh = d_hw W_hh, has G*H terms per output and only H outputs
# per row: k-major loops re-enter their short inner loop once per k. Up to this many outputs
# in a block (rows times H) it runs as dot products instead (accumulate_dots). Measured, one
# thread, (rows, terms, outputs): (1, 128, 32) 0.36 us k-major, 0.18 us dots; (4, 96, 32)
# 0.81 / 0.61; (2, 384, 128) 6.4 / 4.9; (4, 512, 128) 9.4 / 13.0.
DOTS_MAX_OUTPUTS = 256


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def accumulate_dots(out, left, right_t, n):
    """``out[r, :] += left[r, :] @ right_t.T`` for the first n rows: each output a dot
    product along a contiguous row of ``right_t``, four outputs at a time (they share each
    load of ``left[r, k]``).

    The long loop over k is the inner one here; LLVM vectorises its sums because they may be
    reassociated (``fastmath`` reassoc, for this function only), so the results differ from
    ``accumulate_rows``' in the last bits.
    """
    K = left.shape[1]
    J = right_t.shape[0]
    zero = out.dtype.type(0)
    for r in range(n):
        lr, o = left[r], out[r]
        j = 0
        while j + 4 <= J:
            w0, w1, w2, w3 = right_t[j], right_t[j + 1], right_t[j + 2], right_t[j + 3]
            s0 = s1 = s2 = s3 = zero
            for k in range(K):
                lk = lr[k]
                s0 += lk * w0[k]
                s1 += lk * w1[k]
                s2 += lk * w2[k]
                s3 += lk * w3[k]
            o[j] += s0
            o[j + 1] += s1
            o[j + 2] += s2
            o[j + 3] += s3
            j += 4
        for j in range(j, J):
            w, s = right_t[j], zero
            for k in range(K):
                s += lr[k] * w[k]
            o[j] += s


def backward_weights(w_hh, B: int, H: int):
    """What a gated cell's fused backward rows multiply by: ``(W_hh^T, True)`` for
    ``accumulate_dots`` when each row block has at most DOTS_MAX_OUTPUTS outputs, else
    ``(W_hh, False)`` for ``accumulate_rows``."""
    rows = -(-B // row_blocks(B))
    if rows * H <= DOTS_MAX_OUTPUTS:
        return np.ascontiguousarray(w_hh.T), True
    return w_hh, False


def strategy(B: int, outputs: int, gates: int = 1) -> str:
    """"blas" or "fused" for a step of B rows and ``outputs`` = G*H pre-activations
    (``gates`` = G)."""
    if B * outputs >= BLAS_MIN_ROWS_TIMES_UNITS * gates or outputs >= BLAS_MIN_OUTPUTS:
        return "blas"
    return "fused"


def transposed_weights(w_hh, strategy_name):
    """W_hh^T for the step's product ``h W_hh^T``: a contiguous copy for the fused loops,
    which read it row by row; for BLAS the transposed view, which the GEMM reads as it is
    (copying a (3072, 1024) float32 W_hh took 23 ms here; over 50 steps, reading the view
    cost the GEMMs between 2% and 10% of their 65 ms)."""
    return w_hh.T if strategy_name == "blas" else np.ascontiguousarray(w_hh.T)


def blas_threads(B: int, H: int, gates: int):
    """BLAS threads ``(around, loop)`` for a kernel of B rows, H units and ``gates`` gate
    blocks: ``around`` for the GEMMs over all steps before and after the time loop, ``loop``
    inside it (None: BLAS's own choice). The fused loops run on all cores, so the GEMMs
    around them take one thread (spinning BLAS workers would slow them, see
    tinyrnn/threads.py). The per-step GEMM loop runs on one core, so the GEMMs around it may
    take all; its small per-step GEMMs take one thread."""
    outputs = gates * H
    if strategy(B, outputs, gates) == "fused":
        return 1, 1
    return None, (1 if B * outputs * H < BLAS_MULTITHREAD_MIN_MACS else None)


def row_blocks(B: int) -> int:
    # numba.get_num_threads() costs microseconds: not asked for a single row.
    return 1 if B == 1 else max(1, min(B, numba.get_num_threads()))


def full_lengths(lengths, T, B):
    """``lengths``, or every sequence's length T when None (a kernel call's argument)."""
    if lengths is not None:
        return lengths
    out = np.empty(B, dtype=np.int64)  # not np.full: it costs more than the small kernels
    out.fill(T)
    return out

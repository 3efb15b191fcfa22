"""What the Numba kernels of every cell share: the row-block matrix product at the heart of
each step, the input projection inside the loop, the choice between fused loops and a BLAS
GEMM per step, and the row blocks.

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


# How a fused step multiplies a block of rows by its weights, ``out += left @ right`` with
# ``right`` (K terms, J outputs): ``accumulate_rows`` k-major over ``right`` itself (ROWS);
# ``accumulate_dots`` (DOTS) or ``accumulate_tiles`` (TILES) as dot products along the rows of
# ``right^T``. Each kernel branches on the mode at its call (routed through one more compiled
# function, the Elman step at B = 1 took 10-25% longer). Measured, one thread, (rows, terms,
# outputs), us per product:
#   k-major vs dots:  (1, 128, 32) 0.36 / 0.18; (4, 96, 32) 0.81 / 0.61; (2, 384, 128) 6.4 / 4.9
#   k-major vs tiles: (8, 64, 192) 5.2 / 4.1; (16, 128, 384) 36.7 / 23.5; (16, 384, 128)
#   38.6 / 20.3; (16, 128, 512) 34.8 / 32.3; (16, 512, 128) 53.0 / 26.2; (4, 32, 128)
#   1.18 / 1.25; (1, 32, 128) 0.59 / 0.65.
ROWS, DOTS, TILES = 0, 1, 2
TILES_MIN_ROWS = 8
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


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc"})
def accumulate_tiles(out, left, right_t, n):
    """``out[r, :] += left[r, :] @ right_t.T`` for the first n rows, in tiles of four rows
    by three outputs: twelve dot products along k at once, as in a BLAS micro-kernel. Their
    twelve vector sums stay in registers over the whole k loop, each load of ``left`` serves
    three outputs and each load of ``right_t`` four rows (``accumulate_rows`` loads and
    stores its output once per four k; ``accumulate_dots`` shares only ``left``). Rows past
    the last full tile go through ``accumulate_dots``. Sums are reassociated, as there.
    """
    K = left.shape[1]
    J = right_t.shape[0]
    zero = out.dtype.type(0)
    r = 0
    while r + 4 <= n:
        l0, l1, l2, l3 = left[r], left[r + 1], left[r + 2], left[r + 3]
        o0, o1, o2, o3 = out[r], out[r + 1], out[r + 2], out[r + 3]
        j = 0
        while j + 3 <= J:
            w0, w1, w2 = right_t[j], right_t[j + 1], right_t[j + 2]
            a0 = a1 = a2 = b0 = b1 = b2 = c0 = c1 = c2 = d0 = d1 = d2 = zero
            for k in range(K):
                v0, v1, v2 = w0[k], w1[k], w2[k]
                x = l0[k]
                a0 += x * v0
                a1 += x * v1
                a2 += x * v2
                x = l1[k]
                b0 += x * v0
                b1 += x * v1
                b2 += x * v2
                x = l2[k]
                c0 += x * v0
                c1 += x * v1
                c2 += x * v2
                x = l3[k]
                d0 += x * v0
                d1 += x * v1
                d2 += x * v2
            o0[j] += a0
            o0[j + 1] += a1
            o0[j + 2] += a2
            o1[j] += b0
            o1[j + 1] += b1
            o1[j + 2] += b2
            o2[j] += c0
            o2[j + 1] += c1
            o2[j + 2] += c2
            o3[j] += d0
            o3[j + 1] += d1
            o3[j + 2] += d2
            j += 3
        for j in range(j, J):
            w = right_t[j]
            s0 = s1 = s2 = s3 = zero
            for k in range(K):
                v = w[k]
                s0 += l0[k] * v
                s1 += l1[k] * v
                s2 += l2[k] * v
                s3 += l3[k] * v
            o0[j] += s0
            o1[j] += s1
            o2[j] += s2
            o3[j] += s3
        r += 4
    if r < n:
        accumulate_dots(out[r:], left[r:], right_t, n - r)


# The input projection inside the forward loop (each kernel's ``forward_projected``), for a
# single block of rows and a few input features: then the GEMM over all steps does little
# work beside its call and its (T, B, G*H) result, while in the loop the same few
# multiply-adds per output cost next to nothing (they do not wait on h_{t-1}). Measured,
# forward alone, B = 1, us with the GEMM / in the loop: (T, I, H) = (1000, 1, 32): Elman
# 166 / 152, GRU 454 / 411, LSTM 581 / 536; (1000, 4, 32): 182 / 175, 455 / 408, 531 / 498;
# (300, 4, 128): 434 / 413, 966 / 935, 1552 / 1455; at I = 8 even or worse, at I = 32 the
# loop loses by 50-110 us. Only the forward pass folds its product: the backward products
# folded into the loop step by step (dW_hh, dX, dW_ih, the bias sums) made the Elman
# backward at (1000, 1, 1, 32) 130-150 us slower, three times what its GEMMs cost (48 us).
PROJECT_MAX_INPUTS = 4


def projects(B: int, I: int, outputs: int, gates: int) -> bool:
    """Whether ``forward_projected`` should serve a layer of B rows, I input features and
    ``outputs`` = G*H pre-activations (G = ``gates``)."""
    return I <= PROJECT_MAX_INPUTS and row_blocks(B) == 1 and \
        strategy(B, outputs, gates) == "fused"


@njit(cache=True, error_model="numpy", inline="always")
def project_step(out, x_t, w_ih_t, bias, lo, hi):
    """``out[b, :] = bias + x_t[b, :] @ w_ih_t`` for rows lo..hi-1: one step's input
    projection (``w_ih_t`` is W_ih^T, (I, G*H)). Inlined into each kernel's loop: a call per
    step costs more than the few multiply-adds."""
    for b in range(lo, hi):
        o, x_b = out[b], x_t[b]
        for j in range(o.shape[0]):
            o[j] = bias[j]
        for i in range(x_b.shape[0]):
            xi, w_i = x_b[i], w_ih_t[i]
            for j in range(o.shape[0]):
                o[j] += xi * w_i[j]


def bias_or_zeros(bias, outputs, dtype):
    """The projection's bias, or zeros for a layer without one."""
    return np.zeros(outputs, dtype=dtype) if bias is None else bias


def product_mode(rows: int, terms: int, outputs: int) -> int:
    """ROWS, DOTS or TILES for a product of a block of ``rows`` rows, ``terms`` terms and
    ``outputs`` outputs per row (see the measurements above): tiles from TILES_MIN_ROWS rows;
    below, dot products where a few outputs each sum many terms (a gated cell's backward
    step: G*H terms, H outputs), whose k-major loop would re-enter a short inner loop once
    per term; k-major otherwise."""
    if rows >= TILES_MIN_ROWS:
        return TILES
    if rows * outputs <= DOTS_MAX_OUTPUTS and terms > outputs:
        return DOTS
    return ROWS


def step_weights(right, B: int):
    """``(weights, mode)`` for a fused step's product ``left @ right`` over the row blocks
    of B rows: ``right`` (K, J) as a contiguous copy for ROWS, or ``right^T`` contiguous
    (no copy when ``right`` is a transposed view of a contiguous array, as W_hh^T is)."""
    rows = -(-B // row_blocks(B))
    mode = product_mode(rows, right.shape[0], right.shape[1])
    return np.ascontiguousarray(right if mode == ROWS else right.T), mode


def strategy(B: int, outputs: int, gates: int = 1) -> str:
    """"blas" or "fused" for a step of B rows and ``outputs`` = G*H pre-activations
    (``gates`` = G)."""
    if B * outputs >= BLAS_MIN_ROWS_TIMES_UNITS * gates or outputs >= BLAS_MIN_OUTPUTS:
        return "blas"
    return "fused"


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

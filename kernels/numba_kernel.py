"""The Numba CPU kernel for the RNN time loop (same contract as ``numpy_kernel``).

Batch rows are independent in time, so the work is split by rows, not by steps: each
thread owns a block of rows and runs the whole time loop for them, with no barrier per
step. Inside a block two strategies, chosen by size:

* ``fused`` (small steps): the step ``a = xw_t + h W_hh^T`` as loops ordered
  k -> row -> j over ``W_hh^T`` (k-major), so the innermost loop runs along contiguous
  memory and vectorises, and each row of ``W_hh^T`` is reused by every row of the block
  while it is in L1. k advances four at a time, so ``a`` is loaded and stored once per
  four rows (measured: 30-45% faster at H=32 than one at a time; eight was slower).
  The backward ``dh = d_a W_hh`` uses ``W_hh`` itself row-major the same way. Rows past
  their length are skipped, not masked.
* ``blas`` (B*H >= 8192 or H >= 1024): one GEMM per step over all rows (NumPy's BLAS,
  called from Python: a step this size hides the call), then one compiled elementwise
  pass; the weights no longer fit in cache, so BLAS's blocking is what pays.

Compiled with ``cache=True``: a new process loads the machine code instead of compiling.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .numba_tanh import tanh
from .validate import check_backward, check_forward

# Measured with benchmarks/kernel_strategy.py (2 cores): one GEMM per step wins once a
# step has enough rows times units to keep BLAS busy, or the weights outgrow the caches.
BLAS_MIN_ROWS_TIMES_H = 8192
BLAS_MIN_H = 1024


# --------------------------------------------------------------------------- fused rows

@njit(cache=True, error_model="numpy")
def _forward_rows(xw, w_t, h0, lengths, relu, lo, hi, hs):
    """The time loop for batch rows lo..hi-1 (one thread's block)."""
    T, B, H = xw.shape
    n = hi - lo
    h = h0[lo:hi].copy()
    a = np.empty((n, H), dtype=xw.dtype)
    t_max = 0
    for r in range(n):
        t_max = max(t_max, lengths[lo + r])
    for t in range(t_max):
        for r in range(n):
            for j in range(H):
                a[r, j] = xw[t, lo + r, j]
        # k in fours: one load and store of a[r, :] per four rows of W_hh^T, not per row.
        k = 0
        while k + 4 <= H:
            for r in range(n):
                h0_, h1_, h2_, h3_ = h[r, k], h[r, k + 1], h[r, k + 2], h[r, k + 3]
                for j in range(H):
                    a[r, j] += (h0_ * w_t[k, j] + h1_ * w_t[k + 1, j]) + \
                               (h2_ * w_t[k + 2, j] + h3_ * w_t[k + 3, j])
            k += 4
        for k in range(k, H):
            for r in range(n):
                hk = h[r, k]
                for j in range(H):
                    a[r, j] += hk * w_t[k, j]
        for r in range(n):
            if t < lengths[lo + r]:
                if relu:
                    for j in range(H):
                        h[r, j] = a[r, j] if a[r, j] > 0 else 0
                else:
                    for j in range(H):
                        h[r, j] = tanh(a[r, j])
                for j in range(H):
                    hs[t, lo + r, j] = h[r, j]
    for r in range(n):
        for t in range(lengths[lo + r], T):
            for j in range(H):
                hs[t, lo + r, j] = 0


@njit(cache=True, error_model="numpy")
def _backward_rows(g_hs, hs, w, lengths, relu, truncate, g_hn, lo, hi, d_xw, d_h0):
    """The reverse time loop for batch rows lo..hi-1 (one thread's block)."""
    T, B, H = hs.shape
    n = hi - lo
    dh = np.zeros((n, H), dtype=hs.dtype)
    d_a = np.zeros((n, H), dtype=hs.dtype)
    t_max = 0
    for r in range(n):
        t_max = max(t_max, lengths[lo + r])
        for t in range(lengths[lo + r], T):
            for j in range(H):
                d_xw[t, lo + r, j] = 0
    for t in range(t_max - 1, -1, -1):
        for r in range(n):
            L = lengths[lo + r]
            if t >= L:
                continue  # d_a stays 0 for this row: padded steps pass nothing back
            if t == L - 1:
                for j in range(H):
                    dh[r, j] += g_hn[lo + r, j]
            for j in range(H):
                h = hs[t, lo + r, j]
                d = dh[r, j] + g_hs[t, lo + r, j]
                if relu:
                    d_a[r, j] = d if h > 0 else 0
                else:
                    d_a[r, j] = d * (1 - h * h)
                d_xw[t, lo + r, j] = d_a[r, j]
        dh[:, :] = 0
        if truncate > 0 and t > 0 and t % truncate == 0:
            continue  # truncated BPTT: nothing flows from h_t back to h_{t-1}
        j = 0
        while j + 4 <= H:  # j in fours, as in the forward loop
            for r in range(n):
                d0, d1, d2, d3 = d_a[r, j], d_a[r, j + 1], d_a[r, j + 2], d_a[r, j + 3]
                for k in range(H):
                    dh[r, k] += (d0 * w[j, k] + d1 * w[j + 1, k]) + \
                                (d2 * w[j + 2, k] + d3 * w[j + 3, k])
            j += 4
        for j in range(j, H):
            for r in range(n):
                dj = d_a[r, j]
                for k in range(H):
                    dh[r, k] += dj * w[j, k]
    for r in range(n):
        for k in range(H):
            d_h0[lo + r, k] = dh[r, k]


# Row blocks on threads. The parallel drivers are separate functions from the block
# loops: Numba's cache keys on the function, so one function compiled twice (serial and
# parallel) would share, and mix up, its cache entries.
@njit(cache=True, parallel=True)
def _forward_parallel(xw, w_t, h0, lengths, relu, n_blocks, hs):
    B = xw.shape[1]
    for blk in prange(n_blocks):
        _forward_rows(xw, w_t, h0, lengths, relu, blk * B // n_blocks,
                      (blk + 1) * B // n_blocks, hs)


@njit(cache=True, parallel=True)
def _backward_parallel(g_hs, hs, w, lengths, relu, truncate, g_hn, n_blocks, d_xw, d_h0):
    B = hs.shape[1]
    for blk in prange(n_blocks):
        _backward_rows(g_hs, hs, w, lengths, relu, truncate, g_hn, blk * B // n_blocks,
                       (blk + 1) * B // n_blocks, d_xw, d_h0)


# --------------------------------------------------------------------------- blas per step

@njit(cache=True, error_model="numpy")
def _activate_step(a, xw_t, t, lengths, relu, h, hs_t):
    B, H = a.shape
    for b in range(B):
        if t < lengths[b]:
            for j in range(H):
                v = a[b, j] + xw_t[b, j]
                if relu:
                    v = v if v > 0 else 0
                else:
                    v = tanh(v)
                h[b, j] = v
                hs_t[b, j] = v
        else:
            for j in range(H):
                hs_t[b, j] = 0


@njit(cache=True, error_model="numpy")
def _derivative_step(dh, g_hs_t, h_t, g_hn, t, lengths, relu, d_a):
    B, H = d_a.shape
    for b in range(B):
        L = lengths[b]
        if t >= L:
            for j in range(H):
                d_a[b, j] = 0
            continue
        for j in range(H):
            h = h_t[b, j]
            d = dh[b, j] + g_hs_t[b, j] + (g_hn[b, j] if t == L - 1 else 0)
            if relu:
                d_a[b, j] = d if h > 0 else 0
            else:
                d_a[b, j] = d * (1 - h * h)


def _forward_blas(xw, w_t, h0, lengths, relu, hs):
    # The step GEMM is large enough that calling NumPy's BLAS from Python costs nothing
    # extra, and it keeps a single BLAS thread pool (Numba's np.dot uses SciPy's).
    h = h0.copy()
    a = np.empty_like(h0)
    for t in range(xw.shape[0]):
        np.matmul(h, w_t, out=a)
        _activate_step(a, xw[t], t, lengths, relu, h, hs[t])


def _backward_blas(g_hs, hs, w, lengths, relu, truncate, g_hn, d_xw, d_h0):
    dh = np.zeros_like(d_h0)
    for t in range(hs.shape[0] - 1, -1, -1):
        _derivative_step(dh, g_hs[t], hs[t], g_hn, t, lengths, relu, d_xw[t])
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:] = 0
        else:
            np.matmul(d_xw[t], w, out=dh)
    d_h0[:] = dh


# --------------------------------------------------------------------------- contract

def strategy(B: int, H: int) -> str:
    return "blas" if B * H >= BLAS_MIN_ROWS_TIMES_H or H >= BLAS_MIN_H else "fused"


def blas_threads(B: int, H: int):
    """One BLAS thread around the fused loops (spinning BLAS workers would slow them,
    see tinyrnn/threads.py); BLAS's own choice around the per-step GEMMs."""
    return 1 if strategy(B, H) == "fused" else None


def _blocks(B: int) -> int:
    return max(1, min(B, numba.get_num_threads()))


def _full_lengths(lengths, T, B):
    return np.full(B, T, dtype=np.int64) if lengths is None else lengths


def forward(xw, w_hh, h0, nonlinearity, lengths=None):
    xw, w_hh, h0, lengths = check_forward(xw, w_hh, h0, nonlinearity, lengths)
    T, B, H = xw.shape
    lengths = _full_lengths(lengths, T, B)
    relu = nonlinearity == "relu"
    w_t = np.ascontiguousarray(w_hh.T)
    hs = np.empty_like(xw)
    if strategy(B, H) == "blas":
        _forward_blas(xw, w_t, h0, lengths, relu, hs)
    else:
        blocks = _blocks(B)
        if blocks > 1:
            _forward_parallel(xw, w_t, h0, lengths, relu, blocks, hs)
        else:  # one block: waking a thread pool would cost more than the loop
            _forward_rows(xw, w_t, h0, lengths, relu, 0, B, hs)
    return hs


def backward(g_hs, hs, h0, w_hh, nonlinearity, truncate=None, lengths=None, g_hn=None):
    g_hs, hs, h0, w_hh, truncate, lengths, g_hn = check_backward(
        g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn)
    T, B, H = hs.shape
    lengths = _full_lengths(lengths, T, B)
    relu = nonlinearity == "relu"
    truncate = 0 if truncate is None else truncate
    d_xw = np.empty_like(hs)
    d_h0 = np.empty_like(h0)
    if strategy(B, H) == "blas":
        _backward_blas(g_hs, hs, w_hh, lengths, relu, truncate, g_hn, d_xw, d_h0)
    else:
        blocks = _blocks(B)
        if blocks > 1:
            _backward_parallel(g_hs, hs, w_hh, lengths, relu, truncate, g_hn, blocks, d_xw,
                               d_h0)
        else:
            _backward_rows(g_hs, hs, w_hh, lengths, relu, truncate, g_hn, 0, B, d_xw, d_h0)
    return d_xw, d_h0

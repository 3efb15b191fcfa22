"""The Elman cell's Numba CPU kernel (same contract and results as ``numpy_rnn``).

Strategies and row blocks as described in ``numba_common``. The fused forward step starts
``a`` from ``xw_t`` and adds ``h W_hh^T``; the backward step forms ``dh = d_a W_hh``; both
products are rows, dot products or tiles (``numba_common``), in the form ``step_weights``
picks for the block size. Rows past their length are skipped, not masked.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import numba_common as common
from .numba_common import (DOTS, TILES, accumulate_dots, accumulate_rows, accumulate_tiles,
                           project_step)
from .numba_math import tanh


def blas_threads(B, H):
    return common.blas_threads(B, H, 1)


# --------------------------------------------------------------------------- fused rows

@njit(cache=True, error_model="numpy")
def _forward_rows(xw, x, w_ih_t, bias, project, w, mode, h0, lengths, relu, lo, hi, hs):
    """The time loop for batch rows lo..hi-1 (one thread's block). With ``project`` it forms
    ``xw_t = x_t W_ih^T + bias`` itself (``xw`` unused), else ``x``, ``w_ih_t``, ``bias``
    are unused."""
    T, B, H = hs.shape
    n = hi - lo
    h = h0[lo:hi].copy()
    a = np.empty((n, H), dtype=hs.dtype)
    t_max = 0
    for r in range(n):
        t_max = max(t_max, lengths[lo + r])
    for t in range(t_max):
        if project:
            project_step(a, x[t, lo:hi], w_ih_t, bias, 0, n)
        else:
            for r in range(n):
                for j in range(H):
                    a[r, j] = xw[t, lo + r, j]
        if mode == TILES:
            accumulate_tiles(a, h, w, n)
        elif mode == DOTS:
            accumulate_dots(a, h, w, n)
        else:
            accumulate_rows(a, h, w, n)
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
def _backward_rows(g_hs, hs, w, mode, lengths, relu, truncate, lo, hi, d_xw, d_h0):
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
            if t >= lengths[lo + r]:
                continue  # d_a stays 0 for this row: padded steps pass nothing back
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
        if mode == TILES:
            accumulate_tiles(dh, d_a, w, n)
        elif mode == DOTS:
            accumulate_dots(dh, d_a, w, n)
        else:
            accumulate_rows(dh, d_a, w, n)
    for r in range(n):
        for k in range(H):
            d_h0[lo + r, k] = dh[r, k]


# Row blocks on threads. The parallel drivers are separate functions from the block
# loops: Numba's cache keys on the function, so one function compiled twice (serial and
# parallel) would share, and mix up, its cache entries.
@njit(cache=True, parallel=True)
def _forward_parallel(xw, w, mode, h0, lengths, relu, n_blocks, hs):
    B = xw.shape[1]
    for blk in prange(n_blocks):
        _forward_rows(xw, xw, w, w[0], False, w, mode, h0, lengths, relu,
                      blk * B // n_blocks, (blk + 1) * B // n_blocks, hs)


@njit(cache=True, parallel=True)
def _backward_parallel(g_hs, hs, w, mode, lengths, relu, truncate, n_blocks, d_xw, d_h0):
    B = hs.shape[1]
    for blk in prange(n_blocks):
        _backward_rows(g_hs, hs, w, mode, lengths, relu, truncate, blk * B // n_blocks,
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
def _derivative_step(dh, g_hs_t, h_t, t, lengths, relu, d_a):
    B, H = d_a.shape
    for b in range(B):
        if t >= lengths[b]:
            for j in range(H):
                d_a[b, j] = 0
            continue
        for j in range(H):
            h = h_t[b, j]
            d = dh[b, j] + g_hs_t[b, j]
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


def _backward_blas(g_hs, hs, w, lengths, relu, truncate, d_xw, d_h0):
    dh = np.zeros_like(d_h0)
    for t in range(hs.shape[0] - 1, -1, -1):
        _derivative_step(dh, g_hs[t], hs[t], t, lengths, relu, d_xw[t])
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:] = 0
        else:
            np.matmul(d_xw[t], w, out=dh)
    d_h0[:] = dh


# --------------------------------------------------------------------------- contract

def forward(xw, w_hh, state0, lengths=None, *, nonlinearity="tanh"):
    T, B, H = xw.shape
    lengths = common.full_lengths(lengths, T, B)
    relu = nonlinearity == "relu"
    ys = np.empty((1, T, B, H), dtype=xw.dtype)
    hs, h0 = ys[0], state0[0]
    if common.strategy(B, H) == "blas":
        _forward_blas(xw, w_hh.T, h0, lengths, relu, hs)
        return ys, None
    w, mode = common.step_weights(w_hh.T, B)  # a = h W_hh^T
    blocks = common.row_blocks(B)
    if blocks > 1:
        _forward_parallel(xw, w, mode, h0, lengths, relu, blocks, hs)
    else:  # one block: waking a thread pool would cost more than the loop
        _forward_rows(xw, xw, w, w[0], False, w, mode, h0, lengths, relu, 0, B, hs)
    return ys, None


def projects(B, I, H):
    return common.projects(B, I, H, 1)


def forward_projected(x, w_ih, bias, w_hh, state0, lengths=None, *, nonlinearity="tanh"):
    T, B, _ = x.shape
    H = w_hh.shape[1]
    ys = np.empty((1, T, B, H), dtype=x.dtype)
    w, mode = common.step_weights(w_hh.T, B)
    _forward_rows(x, x, np.ascontiguousarray(w_ih.T), common.bias_or_zeros(bias, H, x.dtype),
                  True, w, mode, state0[0], common.full_lengths(lengths, T, B),
                  nonlinearity == "relu", 0, B, ys[0])
    return ys, None


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *,
             nonlinearity="tanh"):
    _, T, B, H = ys.shape
    lengths = common.full_lengths(lengths, T, B)
    relu = nonlinearity == "relu"
    truncate = 0 if truncate is None else truncate
    d_xw = np.empty((T, B, H), dtype=ys.dtype)
    d_state0 = np.empty((1, B, H), dtype=ys.dtype)
    if common.strategy(B, H) == "blas":
        _backward_blas(g_ys[0], ys[0], w_hh, lengths, relu, truncate, d_xw, d_state0[0])
        return d_xw, d_xw, d_state0
    w, mode = common.step_weights(w_hh, B)  # dh = d_a W_hh
    args = (g_ys[0], ys[0], w, mode, lengths, relu, truncate)
    blocks = common.row_blocks(B)
    if blocks > 1:
        _backward_parallel(*args, blocks, d_xw, d_state0[0])
    else:
        _backward_rows(*args, 0, B, d_xw, d_state0[0])
    return d_xw, d_xw, d_state0

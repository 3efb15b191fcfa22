"""The LSTM's Numba CPU kernel (same contract and results as ``numpy_lstm``, whose docstring
has the equations).

Strategies and row blocks as in ``numba_common``: the fused step starts the pre-activation
``a`` (4H per row) from ``xw_t``, adds ``h W_hh^T`` with ``accumulate_rows`` and applies the
gates in one pass; the backward step forms ``d_a`` and the carried ``dc`` in one pass and
``dh = d_a W_hh`` with the same product. The forward pass saves ``[i, f, g, o]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import numba_common as common
from .numba_common import accumulate_rows
from .numba_gru import _zero_padding
from .numba_math import sigmoid, tanh


def blas_threads(B, H):
    return common.blas_threads(B, H, 4)


@njit(cache=True, error_model="numpy")
def _gates(a, t, lengths, lo, n, h, c, ys, saved):
    """From a = xw_t + h W_hh^T (rows 0..n-1 of the block at lo): gates, states, ys, saved."""
    H = h.shape[1]
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        for j in range(H):
            i = sigmoid(a[r, j])
            f = sigmoid(a[r, H + j])
            g = tanh(a[r, 2 * H + j])
            o = sigmoid(a[r, 3 * H + j])
            cv = f * c[r, j] + i * g
            hv = o * tanh(cv)
            c[r, j] = cv
            h[r, j] = hv
            ys[0, t, b, j] = hv
            ys[1, t, b, j] = cv
            saved[t, b, j] = i
            saved[t, b, H + j] = f
            saved[t, b, 2 * H + j] = g
            saved[t, b, 3 * H + j] = o


@njit(cache=True, error_model="numpy")
def _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, lo, n, d_xw, da):
    """Step t's pre-activation gradients for the block's rows into d_xw[t] and da, and dc
    carried to step t - 1. Rows past their length are skipped (their da, dh, dc stay 0)."""
    H = dh.shape[1]
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        for j in range(H):
            i = saved[t, b, j]
            f = saved[t, b, H + j]
            g = saved[t, b, 2 * H + j]
            o = saved[t, b, 3 * H + j]
            tc = tanh(ys[1, t, b, j])
            cp = ys[1, t - 1, b, j] if t > 0 else state0[1, b, j]
            dhv = dh[r, j] + g_ys[0, t, b, j]
            dcv = dc[r, j] + g_ys[1, t, b, j] + dhv * o * (1 - tc * tc)
            da[r, j] = dcv * g * i * (1 - i)
            da[r, H + j] = dcv * cp * f * (1 - f)
            da[r, 2 * H + j] = dcv * i * (1 - g * g)
            da[r, 3 * H + j] = dhv * tc * o * (1 - o)
            for k in range(4):
                d_xw[t, b, k * H + j] = da[r, k * H + j]
            dc[r, j] = dcv * f


# --------------------------------------------------------------------------- fused rows

@njit(cache=True, error_model="numpy")
def _forward_rows(xw, w_t, state0, lengths, lo, hi, ys, saved):
    n = hi - lo
    h = state0[0, lo:hi].copy()
    c = state0[1, lo:hi].copy()
    a = np.empty((n, w_t.shape[1]), dtype=xw.dtype)
    for t in range(lengths[lo:hi].max()):
        a[:, :] = xw[t, lo:hi]
        accumulate_rows(a, h, w_t, n)
        _gates(a, t, lengths, lo, n, h, c, ys, saved)
    _zero_padding(lengths, lo, hi, ys[0])
    _zero_padding(lengths, lo, hi, ys[1])


@njit(cache=True, error_model="numpy")
def _backward_rows(g_ys, ys, saved, state0, w, lengths, truncate, lo, hi, d_xw, d_state0):
    n = hi - lo
    H = ys.shape[3]
    dh = np.zeros((n, H), dtype=ys.dtype)
    dc = np.zeros((n, H), dtype=ys.dtype)
    da = np.zeros((n, 4 * H), dtype=ys.dtype)
    _zero_padding(lengths, lo, hi, d_xw)
    for t in range(lengths[lo:hi].max() - 1, -1, -1):
        _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, lo, n, d_xw, da)
        dh[:, :] = 0
        if truncate > 0 and t > 0 and t % truncate == 0:
            dc[:, :] = 0  # truncated BPTT cuts both the h and the c path
        else:
            accumulate_rows(dh, da, w, n)
    d_state0[0, lo:hi] = dh
    d_state0[1, lo:hi] = dc


@njit(cache=True, parallel=True)
def _forward_parallel(xw, w_t, state0, lengths, n_blocks, ys, saved):
    B = xw.shape[1]
    for blk in prange(n_blocks):
        _forward_rows(xw, w_t, state0, lengths, blk * B // n_blocks,
                      (blk + 1) * B // n_blocks, ys, saved)


@njit(cache=True, parallel=True)
def _backward_parallel(g_ys, ys, saved, state0, w, lengths, truncate, n_blocks, d_xw,
                       d_state0):
    B = ys.shape[2]
    for blk in prange(n_blocks):
        _backward_rows(g_ys, ys, saved, state0, w, lengths, truncate, blk * B // n_blocks,
                       (blk + 1) * B // n_blocks, d_xw, d_state0)


# --------------------------------------------------------------------------- blas per step

def _forward_blas(xw, w_t, state0, lengths, ys, saved):
    h, c = state0[0].copy(), state0[1].copy()
    a = np.empty((h.shape[0], w_t.shape[1]), dtype=xw.dtype)
    for t in range(xw.shape[0]):
        np.matmul(h, w_t, out=a)
        a += xw[t]
        _gates(a, t, lengths, 0, h.shape[0], h, c, ys, saved)
    _zero_padding(lengths, 0, h.shape[0], ys[0])
    _zero_padding(lengths, 0, h.shape[0], ys[1])


def _backward_blas(g_ys, ys, saved, state0, w, lengths, truncate, d_xw, d_state0):
    B, H = ys.shape[2], ys.shape[3]
    dh = np.zeros((B, H), dtype=ys.dtype)
    dc = np.zeros((B, H), dtype=ys.dtype)
    da = np.zeros((B, 4 * H), dtype=ys.dtype)
    _zero_padding(lengths, 0, B, d_xw)
    for t in range(ys.shape[1] - 1, -1, -1):
        _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, 0, B, d_xw, da)
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:] = 0
            dc[:] = 0
        else:
            np.matmul(da, w, out=dh)
    d_state0[0] = dh
    d_state0[1] = dc


# --------------------------------------------------------------------------- contract

def forward(xw, w_hh, state0, lengths=None):
    T, B, H4 = xw.shape
    H = H4 // 4
    lengths = common.full_lengths(lengths, T, B)
    w_t = np.ascontiguousarray(w_hh.T)
    ys = np.empty((2, T, B, H), dtype=xw.dtype)
    saved = np.empty((T, B, 4 * H), dtype=xw.dtype)
    args = (xw, w_t, state0, lengths)
    if common.strategy(B, H4) == "blas":
        _forward_blas(*args, ys, saved)
    elif common.row_blocks(B) > 1:
        _forward_parallel(*args, common.row_blocks(B), ys, saved)
    else:
        _forward_rows(*args, 0, B, ys, saved)
    return ys, saved


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None):
    _, T, B, H = ys.shape
    lengths = common.full_lengths(lengths, T, B)
    d_xw = np.empty((T, B, 4 * H), dtype=ys.dtype)
    d_state0 = np.empty((2, B, H), dtype=ys.dtype)
    args = (g_ys, ys, saved, state0, w_hh, lengths, 0 if truncate is None else truncate)
    if common.strategy(B, 4 * H) == "blas":
        _backward_blas(*args, d_xw, d_state0)
    elif common.row_blocks(B) > 1:
        _backward_parallel(*args, common.row_blocks(B), d_xw, d_state0)
    else:
        _backward_rows(*args, 0, B, d_xw, d_state0)
    return d_xw, d_xw, d_state0

"""The LSTM's Numba CPU kernel (same contract and results as ``numpy_lstm``, whose docstring
has the equations).

Strategies and row blocks as in ``numba_common``: the fused step computes the recurrent
pre-activation ``g = h W_hh^T`` (4H per row), as rows, dots or tiles
(``numba_common.step_weights``), and then, adding ``xw_t``, the gates and states; the
backward step forms ``d_xw_t`` and the carried ``dc`` in one pass and ``dh = d_xw_t W_hh``
with the same product. The forward pass saves
``[i, f, g, o]``.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import numba_common as common
from .numba_common import (DOTS, TILES, accumulate_dots, accumulate_rows, accumulate_tiles,
                           project_step)
from .numba_gru import _zero_padding
from .numba_math import sigmoid, tanh


def blas_threads(B, H):
    return common.blas_threads(B, H, 4)


@njit(cache=True, error_model="numpy")
def _gates(g, xw_t, t, lengths, lo, n, h, c, ys, saved):
    """From g = h W_hh^T (rows 0..n-1 of the block at lo) and xw_t: the gates, the states,
    ys and saved. Gate blocks are 1-D views, as in the GRU's ``_gates`` (which says why)."""
    H = h.shape[1]
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        g_r, x = g[r], xw_t[b]
        s = saved[t, b]
        g_g, g_o, x_g, x_o = g_r[2 * H:3 * H], g_r[3 * H:], x[2 * H:3 * H], x[3 * H:]
        s_i, s_f, s_g, s_o = s[:H], s[H:2 * H], s[2 * H:3 * H], s[3 * H:]
        h_r, c_r, y_h, y_c = h[r], c[r], ys[0, t, b], ys[1, t, b]
        for j in range(2 * H):              # i and f
            s[j] = sigmoid(x[j] + g_r[j])
        for j in range(H):
            s_g[j] = tanh(x_g[j] + g_g[j])
            s_o[j] = sigmoid(x_o[j] + g_o[j])
        for j in range(H):
            cv = s_f[j] * c_r[j] + s_i[j] * s_g[j]
            hv = s_o[j] * tanh(cv)
            c_r[j] = cv
            h_r[j] = hv
            y_h[j] = hv
            y_c[j] = cv


@njit(cache=True, error_model="numpy")
def _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, lo, n, d_xw):
    """Step t's pre-activation gradients for the block's rows into d_xw[t] (which the caller
    then multiplies by W_hh for dh), and dc carried to step t - 1, written over dc. Rows past
    their length are skipped (their rows of d_xw[t], zeroed by the caller, and dc stay 0)."""
    H = dh.shape[1]
    one = dh.dtype.type(1)
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        s = saved[t, b]
        s_i, s_f, s_g, s_o = s[:H], s[H:2 * H], s[2 * H:3 * H], s[3 * H:]
        c_t = ys[1, t, b]
        c_prev = ys[1, t - 1, b] if t > 0 else state0[1, b]
        gy_h, gy_c, dh_r, dc_r = g_ys[0, t, b], g_ys[1, t, b], dh[r], dc[r]
        d = d_xw[t, b]
        d_i, d_f, d_g, d_o = d[:H], d[H:2 * H], d[2 * H:3 * H], d[3 * H:]
        for j in range(H):
            i, f, g, o = s_i[j], s_f[j], s_g[j], s_o[j]
            tc = tanh(c_t[j])
            dhv = dh_r[j] + gy_h[j]
            dcv = dc_r[j] + gy_c[j] + dhv * o * (one - tc * tc)
            d_i[j] = dcv * g * i * (one - i)
            d_f[j] = dcv * c_prev[j] * f * (one - f)
            d_g[j] = dcv * i * (one - g * g)
            d_o[j] = dhv * tc * o * (one - o)
            dc_r[j] = dcv * f


# --------------------------------------------------------------------------- fused rows

@njit(cache=True, error_model="numpy")
def _forward_rows(xw, x, w_ih_t, bias, project, w, mode, state0, lengths, lo, hi, ys, saved):
    """The time loop for rows lo..hi-1. With ``project`` it forms ``xw_t = x_t W_ih^T +
    bias`` itself (``xw`` unused), else ``x``, ``w_ih_t``, ``bias`` are unused."""
    n = hi - lo
    h = state0[0, lo:hi].copy()
    c = state0[1, lo:hi].copy()
    g = np.empty((n, 4 * ys.shape[3]), dtype=ys.dtype)
    xw_t = np.empty((hi, g.shape[1]), dtype=ys.dtype)  # the projection's rows lo..hi-1
    for t in range(lengths[lo:hi].max()):
        g[:, :] = 0
        if mode == TILES:
            accumulate_tiles(g, h, w, n)
        elif mode == DOTS:
            accumulate_dots(g, h, w, n)
        else:
            accumulate_rows(g, h, w, n)
        if project:
            project_step(xw_t, x[t], w_ih_t, bias, lo, hi)
        else:
            xw_t = xw[t]
        _gates(g, xw_t, t, lengths, lo, n, h, c, ys, saved)
    _zero_padding(lengths, lo, hi, ys[0])
    _zero_padding(lengths, lo, hi, ys[1])


@njit(cache=True, error_model="numpy")
def _backward_rows(g_ys, ys, saved, state0, w, mode, lengths, truncate, lo, hi, d_xw,
                   d_state0):
    """The reverse time loop for rows lo..hi-1; ``w`` and ``mode`` as
    ``numba_common.step_weights`` gives them for ``d_xw W_hh``."""
    n = hi - lo
    H = ys.shape[3]
    dh = np.zeros((n, H), dtype=ys.dtype)
    dc = np.zeros((n, H), dtype=ys.dtype)
    _zero_padding(lengths, lo, hi, d_xw)
    for t in range(lengths[lo:hi].max() - 1, -1, -1):
        _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, lo, n, d_xw)
        dh[:, :] = 0
        if truncate > 0 and t > 0 and t % truncate == 0:
            dc[:, :] = 0  # truncated BPTT cuts both the h and the c path
        elif mode == TILES:
            accumulate_tiles(dh, d_xw[t, lo:hi], w, n)
        elif mode == DOTS:
            accumulate_dots(dh, d_xw[t, lo:hi], w, n)
        else:
            accumulate_rows(dh, d_xw[t, lo:hi], w, n)
    d_state0[0, lo:hi] = dh
    d_state0[1, lo:hi] = dc


@njit(cache=True, parallel=True)
def _forward_parallel(xw, w, mode, state0, lengths, n_blocks, ys, saved):
    B = xw.shape[1]
    for blk in prange(n_blocks):
        _forward_rows(xw, xw, w, w[0], False, w, mode, state0, lengths, blk * B // n_blocks,
                      (blk + 1) * B // n_blocks, ys, saved)


@njit(cache=True, parallel=True)
def _backward_parallel(g_ys, ys, saved, state0, w, mode, lengths, truncate, n_blocks, d_xw,
                       d_state0):
    B = ys.shape[2]
    for blk in prange(n_blocks):
        _backward_rows(g_ys, ys, saved, state0, w, mode, lengths, truncate,
                       blk * B // n_blocks, (blk + 1) * B // n_blocks, d_xw, d_state0)


# --------------------------------------------------------------------------- blas per step

def _forward_blas(xw, w_t, state0, lengths, ys, saved):
    h, c = state0[0].copy(), state0[1].copy()
    g = np.empty((h.shape[0], w_t.shape[1]), dtype=xw.dtype)
    for t in range(xw.shape[0]):
        np.matmul(h, w_t, out=g)
        _gates(g, xw[t], t, lengths, 0, h.shape[0], h, c, ys, saved)
    _zero_padding(lengths, 0, h.shape[0], ys[0])
    _zero_padding(lengths, 0, h.shape[0], ys[1])


def _backward_blas(g_ys, ys, saved, state0, w, lengths, truncate, d_xw, d_state0):
    B, H = ys.shape[2], ys.shape[3]
    dh = np.zeros((B, H), dtype=ys.dtype)
    dc = np.zeros((B, H), dtype=ys.dtype)
    _zero_padding(lengths, 0, B, d_xw)
    for t in range(ys.shape[1] - 1, -1, -1):
        _gate_grads(dh, dc, g_ys, ys, saved, state0, t, lengths, 0, B, d_xw)
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:] = 0
            dc[:] = 0
        else:
            np.matmul(d_xw[t], w, out=dh)
    d_state0[0] = dh
    d_state0[1] = dc


# --------------------------------------------------------------------------- contract

def forward(xw, w_hh, state0, lengths=None):
    T, B, H4 = xw.shape
    H = H4 // 4
    lengths = common.full_lengths(lengths, T, B)
    ys = np.empty((2, T, B, H), dtype=xw.dtype)
    saved = np.empty((T, B, 4 * H), dtype=xw.dtype)
    if common.strategy(B, H4, 4) == "blas":
        _forward_blas(xw, w_hh.T, state0, lengths, ys, saved)
        return ys, saved
    w, mode = common.step_weights(w_hh.T, B)  # g = h W_hh^T
    if common.row_blocks(B) > 1:
        _forward_parallel(xw, w, mode, state0, lengths, common.row_blocks(B), ys,
                          saved)
    else:
        _forward_rows(xw, xw, w, w[0], False, w, mode, state0, lengths, 0, B, ys,
                      saved)
    return ys, saved


def projects(B, I, H):
    return common.projects(B, I, 4 * H, 4)


def forward_projected(x, w_ih, bias, w_hh, state0, lengths=None):
    T, B, _ = x.shape
    H = w_hh.shape[1]
    ys = np.empty((2, T, B, H), dtype=x.dtype)
    saved = np.empty((T, B, 4 * H), dtype=x.dtype)
    w, mode = common.step_weights(w_hh.T, B)
    _forward_rows(x, x, np.ascontiguousarray(w_ih.T),
                  common.bias_or_zeros(bias, 4 * H, x.dtype), True, w, mode, state0,
                  common.full_lengths(lengths, T, B), 0, B, ys, saved)
    return ys, saved


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None):
    _, T, B, H = ys.shape
    lengths = common.full_lengths(lengths, T, B)
    d_xw = np.empty((T, B, 4 * H), dtype=ys.dtype)
    d_state0 = np.empty((2, B, H), dtype=ys.dtype)
    truncate = 0 if truncate is None else truncate
    if common.strategy(B, 4 * H, 4) == "blas":
        _backward_blas(g_ys, ys, saved, state0, w_hh, lengths, truncate, d_xw, d_state0)
        return d_xw, d_xw, d_state0
    w, mode = common.step_weights(w_hh, B)  # d_xw W_hh
    args = (g_ys, ys, saved, state0, w, mode, lengths, truncate)
    if common.row_blocks(B) > 1:
        _backward_parallel(*args, common.row_blocks(B), d_xw, d_state0)
    else:
        _backward_rows(*args, 0, B, d_xw, d_state0)
    return d_xw, d_xw, d_state0

"""The GRU's Numba CPU kernel (same contract and results as ``numpy_gru``, whose docstring
has the equations).

Strategies and row blocks as in ``numba_common``: the fused step computes the recurrent
pre-activation ``g = h W_hh^T`` (3H per row), as rows, dots or tiles
(``numba_common.step_weights``), and then, adding ``xw_t``, the gates; the backward step
forms ``d_xw_t`` and ``d_hw_t`` in one pass and adds ``d_hw_t W_hh`` to the direct term
``dh * z``. The forward pass saves ``[r, z, n, hn]``
(``hn = h W_hn^T + b_hn``) for the backward pass.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import numba_common as common
from .numba_common import (DOTS, TILES, accumulate_dots, accumulate_rows, accumulate_tiles,
                           project_step)
from .numba_math import sigmoid, tanh


def blas_threads(B, H):
    return common.blas_threads(B, H, 3)


@njit(cache=True, error_model="numpy")
def _gates(g, xw_t, b_hn, t, lengths, lo, n, h, ys, saved):
    """From g = h W_hh^T (rows 0..n-1 of the block at lo): the gates, h_t, ys and saved.

    Each gate block is taken as its own 1-D view, so that every access in the loop over j
    is ``v[j]``: LLVM vectorises that, not ``a[t, b, H + j]`` (whose index it cannot prove
    non-negative, so it keeps the wraparound check).
    """
    H = h.shape[1]
    one = h.dtype.type(1)
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        g_rz, g_n = g[r, :2 * H], g[r, 2 * H:]
        x_rz, x_n = xw_t[b, :2 * H], xw_t[b, 2 * H:]
        s_rz, s_n, s_hn = saved[t, b, :2 * H], saved[t, b, 2 * H:3 * H], saved[t, b, 3 * H:]
        s_r, s_z = s_rz[:H], s_rz[H:]
        h_r, y = h[r], ys[0, t, b]
        for j in range(2 * H):             # r and z
            s_rz[j] = sigmoid(x_rz[j] + g_rz[j])
        for j in range(H):
            hn = g_n[j] + b_hn[j]
            nn = tanh(x_n[j] + s_r[j] * hn)
            zz = s_z[j]
            hv = (one - zz) * nn + zz * h_r[j]
            h_r[j] = hv
            y[j] = hv
            s_n[j] = nn
            s_hn[j] = hn


@njit(cache=True, error_model="numpy")
def _gate_grads(dh, g_ys, ys, saved, h0, t, lengths, lo, n, d_xw, d_hw):
    """Step t's gradients for the block's rows: d_xw[t] and d_hw[t] (which the caller then
    multiplies by W_hh), and the direct term dh * z, written over dh. Rows past their length
    are skipped: their rows of d_xw[t], d_hw[t] (zeroed by the caller) and dh stay zero."""
    H = dh.shape[1]
    one = dh.dtype.type(1)
    for r in range(n):
        b = lo + r
        if t >= lengths[b]:
            continue
        s_r, s_z = saved[t, b, :H], saved[t, b, H:2 * H]
        s_n, s_hn = saved[t, b, 2 * H:3 * H], saved[t, b, 3 * H:]
        h_prev = ys[0, t - 1, b] if t > 0 else h0[0, b]
        dx_r, dx_z, dx_n = d_xw[t, b, :H], d_xw[t, b, H:2 * H], d_xw[t, b, 2 * H:]
        dw_r, dw_z, dw_n = d_hw[t, b, :H], d_hw[t, b, H:2 * H], d_hw[t, b, 2 * H:]
        dh_r, gy = dh[r], g_ys[0, t, b]
        for j in range(H):
            d = dh_r[j] + gy[j]
            rr, zz, nn = s_r[j], s_z[j], s_n[j]
            dn = d * (one - zz) * (one - nn * nn)
            dr = dn * s_hn[j] * rr * (one - rr)
            dz = d * (h_prev[j] - nn) * zz * (one - zz)
            dx_r[j] = dr
            dx_z[j] = dz
            dx_n[j] = dn
            dw_r[j] = dr
            dw_z[j] = dz
            dw_n[j] = dn * rr
            dh_r[j] = d * zz


@njit(cache=True, error_model="numpy")
def _zero_padding(lengths, lo, hi, a):
    """a[t, b] = 0 for every padded step t >= lengths[b] of rows lo..hi-1 (a: (T, B, K))."""
    for b in range(lo, hi):
        for t in range(lengths[b], a.shape[0]):
            a[t, b, :] = 0


# --------------------------------------------------------------------------- fused rows

@njit(cache=True, error_model="numpy")
def _forward_rows(xw, x, w_ih_t, bias, project, w, mode, b_hn, state0, lengths, lo, hi, ys,
                  saved):
    """The time loop for rows lo..hi-1. With ``project`` it forms ``xw_t = x_t W_ih^T +
    bias`` itself (``xw`` unused), else ``x``, ``w_ih_t``, ``bias`` are unused."""
    n = hi - lo
    h = state0[0, lo:hi].copy()
    g = np.empty((n, 3 * ys.shape[3]), dtype=ys.dtype)
    xw_t = np.empty((hi, g.shape[1]), dtype=ys.dtype)  # the projection's rows lo..hi-1
    t_max = lengths[lo:hi].max()
    for t in range(t_max):
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
        _gates(g, xw_t, b_hn, t, lengths, lo, n, h, ys, saved)
    _zero_padding(lengths, lo, hi, ys[0])


@njit(cache=True, error_model="numpy")
def _backward_rows(g_ys, ys, saved, state0, w, mode, lengths, truncate, lo, hi, d_xw, d_hw,
                   d_state0):
    """The reverse time loop for rows lo..hi-1; ``w`` and ``mode`` as
    ``numba_common.step_weights`` gives them for ``d_hw W_hh``."""
    n = hi - lo
    H = ys.shape[3]
    dh = np.zeros((n, H), dtype=ys.dtype)
    _zero_padding(lengths, lo, hi, d_xw)
    _zero_padding(lengths, lo, hi, d_hw)
    for t in range(lengths[lo:hi].max() - 1, -1, -1):
        _gate_grads(dh, g_ys, ys, saved, state0, t, lengths, lo, n, d_xw, d_hw)
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:, :] = 0  # truncated BPTT: nothing flows from h_t back to h_{t-1}
        elif mode == TILES:
            accumulate_tiles(dh, d_hw[t, lo:hi], w, n)
        elif mode == DOTS:
            accumulate_dots(dh, d_hw[t, lo:hi], w, n)
        else:
            accumulate_rows(dh, d_hw[t, lo:hi], w, n)
    d_state0[0, lo:hi] = dh


@njit(cache=True, parallel=True)
def _forward_parallel(xw, w, mode, b_hn, state0, lengths, n_blocks, ys, saved):
    B = xw.shape[1]
    for blk in prange(n_blocks):
        _forward_rows(xw, xw, w, w[0], False, w, mode, b_hn, state0, lengths,
                      blk * B // n_blocks, (blk + 1) * B // n_blocks, ys, saved)


@njit(cache=True, parallel=True)
def _backward_parallel(g_ys, ys, saved, state0, w, mode, lengths, truncate, n_blocks, d_xw,
                       d_hw, d_state0):
    B = ys.shape[2]
    for blk in prange(n_blocks):
        _backward_rows(g_ys, ys, saved, state0, w, mode, lengths, truncate,
                       blk * B // n_blocks, (blk + 1) * B // n_blocks, d_xw, d_hw, d_state0)


# --------------------------------------------------------------------------- blas per step

def _forward_blas(xw, w_t, b_hn, state0, lengths, ys, saved):
    h = state0[0].copy()
    g = np.empty((h.shape[0], w_t.shape[1]), dtype=xw.dtype)
    for t in range(xw.shape[0]):
        np.matmul(h, w_t, out=g)
        _gates(g, xw[t], b_hn, t, lengths, 0, h.shape[0], h, ys, saved)
    _zero_padding(lengths, 0, h.shape[0], ys[0])


def _backward_blas(g_ys, ys, saved, state0, w, lengths, truncate, d_xw, d_hw, d_state0):
    B, H = ys.shape[2], ys.shape[3]
    dh = np.zeros((B, H), dtype=ys.dtype)
    through_w = np.empty_like(dh)
    _zero_padding(lengths, 0, B, d_xw)
    _zero_padding(lengths, 0, B, d_hw)
    for t in range(ys.shape[1] - 1, -1, -1):
        _gate_grads(dh, g_ys, ys, saved, state0, t, lengths, 0, B, d_xw, d_hw)
        if truncate > 0 and t > 0 and t % truncate == 0:
            dh[:] = 0
        else:
            np.matmul(d_hw[t], w, out=through_w)
            dh += through_w
    d_state0[0] = dh


# --------------------------------------------------------------------------- contract

def forward(xw, w_hh, state0, lengths=None, *, b_hn=None):
    T, B, H3 = xw.shape
    H = H3 // 3
    lengths = common.full_lengths(lengths, T, B)
    b_hn = np.zeros(H, dtype=xw.dtype) if b_hn is None else b_hn
    ys = np.empty((1, T, B, H), dtype=xw.dtype)
    saved = np.empty((T, B, 4 * H), dtype=xw.dtype)
    if common.strategy(B, H3, 3) == "blas":
        _forward_blas(xw, w_hh.T, b_hn, state0, lengths, ys, saved)
        return ys, saved
    w, mode = common.step_weights(w_hh.T, B)  # g = h W_hh^T
    if common.row_blocks(B) > 1:
        _forward_parallel(xw, w, mode, b_hn, state0, lengths, common.row_blocks(B), ys,
                          saved)
    else:
        _forward_rows(xw, xw, w, w[0], False, w, mode, b_hn, state0, lengths, 0, B, ys,
                      saved)
    return ys, saved


def projects(B, I, H):
    return common.projects(B, I, 3 * H, 3)


def forward_projected(x, w_ih, bias, w_hh, state0, lengths=None, *, b_hn=None):
    T, B, _ = x.shape
    H = w_hh.shape[1]
    b_hn = np.zeros(H, dtype=x.dtype) if b_hn is None else b_hn
    ys = np.empty((1, T, B, H), dtype=x.dtype)
    saved = np.empty((T, B, 4 * H), dtype=x.dtype)
    w, mode = common.step_weights(w_hh.T, B)
    _forward_rows(x, x, np.ascontiguousarray(w_ih.T),
                  common.bias_or_zeros(bias, 3 * H, x.dtype), True, w, mode, b_hn, state0,
                  common.full_lengths(lengths, T, B), 0, B, ys, saved)
    return ys, saved


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *, b_hn=None):
    _, T, B, H = ys.shape
    lengths = common.full_lengths(lengths, T, B)
    d_xw = np.empty((T, B, 3 * H), dtype=ys.dtype)
    d_hw = np.empty_like(d_xw)
    d_state0 = np.empty((1, B, H), dtype=ys.dtype)
    truncate = 0 if truncate is None else truncate
    if common.strategy(B, 3 * H, 3) == "blas":
        _backward_blas(g_ys, ys, saved, state0, w_hh, lengths, truncate, d_xw, d_hw,
                       d_state0)
        return d_xw, d_hw, d_state0
    w, mode = common.step_weights(w_hh, B)  # d_hw W_hh
    args = (g_ys, ys, saved, state0, w, mode, lengths, truncate)
    if common.row_blocks(B) > 1:
        _backward_parallel(*args, common.row_blocks(B), d_xw, d_hw, d_state0)
    else:
        _backward_rows(*args, 0, B, d_xw, d_hw, d_state0)
    return d_xw, d_hw, d_state0

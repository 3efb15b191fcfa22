"""The GRU's NumPy kernel: the executable specification of its time loop.

Gate rows in PyTorch's order r, z, n. ``xw_t = x_t W_ih^T + b_ih + [b_hr, b_hz, 0]`` is
precomputed by one GEMM over all steps; ``b_hn`` stays in the loop because it sits inside
``r * (...)``. With ``[g_r, g_z, g_n] = h_{t-1} W_hh^T`` (the recurrent pre-activation):

    r = σ(xw_r + g_r),  z = σ(xw_z + g_z),  hn = g_n + b_hn,  n = tanh(xw_n + r * hn)
    h_t = (1 - z) * n + z * h_{t-1}

The forward pass saves ``[r, z, n, hn]`` per step. Backward, with ``dh`` the gradient
reaching h_t (from the output and from step t + 1)::

    dn = dh (1 - z) (1 - n^2)            (gradient of n's pre-activation)
    dr = dn hn r (1 - r),   dz = dh (h_{t-1} - n) z (1 - z)
    d_xw_t = [dr, dz, dn],  d_hw_t = [dr, dz, dn * r]     (d_hw: of h_{t-1} W_hh^T + b_hh)
    dh_{t-1} = dh z + d_hw_t W_hh

and, as for every cell, nothing flows to h_{t-1} when t is a positive multiple of
``truncate``, and padded steps (t >= lengths[b]) pass nothing back.
"""
from __future__ import annotations

from tinyrnn.backend import get_array_module

from .numpy_common import step_states


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def _sigmoid(xp, a):
    return 1 / (1 + xp.exp(-a))


def forward(xw, w_hh, state0, lengths=None, *, b_hn=None):
    xp = get_array_module(xw)
    T, B, H3 = xw.shape
    H = H3 // 3
    ys = xp.empty((1, T, B, H), dtype=xw.dtype)
    saved = xp.zeros((T, B, 4 * H), dtype=xw.dtype)
    h = state0[0]
    for t in range(T):
        g = h @ w_hh.T
        r = _sigmoid(xp, xw[t, :, :H] + g[:, :H])
        z = _sigmoid(xp, xw[t, :, H:2 * H] + g[:, H:2 * H])
        hn = g[:, 2 * H:] + (0 if b_hn is None else b_hn)
        n = xp.tanh(xw[t, :, 2 * H:] + r * hn)
        h_new = (1 - z) * n + z * h
        saved[t] = xp.concatenate([r, z, n, hn], axis=1)
        h, ys[0, t] = step_states(xp, t, lengths, h_new, h)
    return ys, saved


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *, b_hn=None):
    xp = get_array_module(ys)
    _, T, B, H = ys.shape
    d_xw = xp.empty((T, B, 3 * H), dtype=ys.dtype)
    d_hw = xp.empty_like(d_xw)
    dh = xp.zeros_like(state0[0])
    for t in reversed(range(T)):
        r, z, n, hn = (saved[t, :, k * H:(k + 1) * H] for k in range(4))
        h_prev = ys[0, t - 1] if t > 0 else state0[0]
        dh = dh + g_ys[0, t]
        dn = dh * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dz = dh * (h_prev - n) * z * (1 - z)
        dx = xp.concatenate([dr, dz, dn], axis=1)
        dw = xp.concatenate([dr, dz, dn * r], axis=1)
        direct = dh * z
        if lengths is not None:
            active = (t < lengths)[:, None]
            dx, dw, direct = (xp.where(active, a, 0) for a in (dx, dw, direct))
        d_xw[t], d_hw[t] = dx, dw
        if truncate is not None and t > 0 and t % truncate == 0:
            dh = xp.zeros_like(dh)
        else:
            dh = direct + dw @ w_hh
    return d_xw, d_hw, dh[None]

"""The LSTM's NumPy kernel: the executable specification of its time loop.

Gate rows in PyTorch's order i, f, g, o. ``xw_t = x_t W_ih^T + b_ih + b_hh`` is
precomputed by one GEMM over all steps; with ``a = xw_t + h_{t-1} W_hh^T``::

    i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
    c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

``ys`` holds h_t and c_t (zeros at padded steps, where both states are carried unchanged);
the forward pass saves ``[i, f, g, o]`` per step. Backward, with ``dh`` and ``dc`` the
gradients reaching h_t and c_t (from the outputs and from step t + 1)::

    dc' = dc + dh o (1 - tanh(c_t)^2)
    d_a = [dc' g i (1 - i), dc' c_{t-1} f (1 - f), dc' i (1 - g^2), dh tanh(c_t) o (1 - o)]
    dh_{t-1} = d_a W_hh,   dc_{t-1} = dc' f

``d_hw`` (of the recurrent pre-activation) is ``d_xw`` itself. Truncation cuts both the h
and the c path when t is a positive multiple of ``truncate``; padded steps pass nothing back.
"""
from __future__ import annotations

from tinyrnn.backend import get_array_module

from .numpy_common import step_states


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def _sigmoid(xp, a):
    return 1 / (1 + xp.exp(-a))


def forward(xw, w_hh, state0, lengths=None):
    xp = get_array_module(xw)
    T, B, H4 = xw.shape
    H = H4 // 4
    ys = xp.empty((2, T, B, H), dtype=xw.dtype)
    saved = xp.empty((T, B, 4 * H), dtype=xw.dtype)
    h, c = state0
    for t in range(T):
        a = xw[t] + h @ w_hh.T
        i, f, o = (_sigmoid(xp, a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
        g = xp.tanh(a[:, 2 * H:3 * H])
        c_new = f * c + i * g
        h_new = o * xp.tanh(c_new)
        saved[t] = xp.concatenate([i, f, g, o], axis=1)
        h, ys[0, t] = step_states(xp, t, lengths, h_new, h)
        c, ys[1, t] = step_states(xp, t, lengths, c_new, c)
    return ys, saved


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None):
    xp = get_array_module(ys)
    _, T, B, H = ys.shape
    d_xw = xp.empty((T, B, 4 * H), dtype=ys.dtype)
    dh = xp.zeros_like(state0[0])
    dc = xp.zeros_like(state0[1])
    for t in reversed(range(T)):
        i, f, g, o = (saved[t, :, k * H:(k + 1) * H] for k in range(4))
        c_prev = ys[1, t - 1] if t > 0 else state0[1]
        tc = xp.tanh(ys[1, t])
        dh = dh + g_ys[0, t]
        dc = dc + g_ys[1, t] + dh * o * (1 - tc * tc)
        d_a = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                              dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
        dc = dc * f
        if lengths is not None:
            active = (t < lengths)[:, None]
            d_a, dc = xp.where(active, d_a, 0), xp.where(active, dc, 0)
        d_xw[t] = d_a
        if truncate is not None and t > 0 and t % truncate == 0:
            dh, dc = xp.zeros_like(dh), xp.zeros_like(dc)
        else:
            dh = d_a @ w_hh
    return d_xw, d_xw, xp.stack([dh, dc])

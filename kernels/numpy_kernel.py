"""The NumPy reference kernel: the executable specification of the RNN time loop.

Written for clarity, array-module agnostic (it runs unchanged on CuPy arrays). With
``a_t = xw_t + h_{t-1} W_hh^T`` (``xw_t = x_t W_ih^T + b_ih + b_hh``, precomputed by one
GEMM over all steps) and ``h_t = f(a_t)``:

* forward:  ``hs[t] = h_t`` for t < lengths[b], else 0 with h carried unchanged;
* backward: with ``dh`` the gradient reaching ``h_t`` from the future,
  ``dh_t = g_hs[t] + [t = len_b - 1] g_hn + d_a_{t+1} W_hh``,
  ``d_a_t = dh_t * f'(h_t)`` (tanh: ``1 - h_t^2``, relu: ``[h_t > 0]``),
  and the term ``d_a_{t+1} W_hh`` is dropped when t + 1 is a positive multiple of
  ``truncate`` (truncated BPTT). ``d_h0 = d_a_0 W_hh``.
"""
from __future__ import annotations

from tinyrnn.backend import get_array_module

from .validate import check_backward, check_forward


def blas_threads(B, H):
    """BLAS threads for the GEMMs around this kernel: None leaves BLAS as configured."""
    return None


def _activate(xp, a, nonlinearity):
    return xp.tanh(a) if nonlinearity == "tanh" else xp.maximum(a, 0)


def _derivative(h, nonlinearity):
    # Expressed through the output h_t, which is all the backward pass keeps.
    return 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)


def forward(xw, w_hh, h0, nonlinearity, lengths=None):
    xp = get_array_module(xw)
    xw, w_hh, h0, lengths = check_forward(xw, w_hh, h0, nonlinearity, lengths, xp)
    T = xw.shape[0]
    hs = xp.empty_like(xw)
    h = h0
    for t in range(T):
        h_new = _activate(xp, xw[t] + h @ w_hh.T, nonlinearity)
        if lengths is None:
            h = h_new
            hs[t] = h
        else:
            active = (t < lengths)[:, None]
            h = xp.where(active, h_new, h)
            hs[t] = xp.where(active, h_new, 0)
    return hs


def backward(g_hs, hs, h0, w_hh, nonlinearity, truncate=None, lengths=None, g_hn=None):
    xp = get_array_module(hs)
    g_hs, hs, h0, w_hh, truncate, lengths, g_hn = check_backward(
        g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn, xp)
    T = hs.shape[0]
    d_xw = xp.empty_like(hs)
    dh = xp.zeros_like(h0)
    for t in reversed(range(T)):
        if lengths is None:
            dh = dh + g_hs[t] + (g_hn if t == T - 1 else 0)
            d_a = dh * _derivative(hs[t], nonlinearity)
        else:
            dh = dh + g_hs[t] + xp.where((lengths - 1 == t)[:, None], g_hn, 0)
            # Padded steps are not steps: no gradient passes through them.
            d_a = xp.where((t < lengths)[:, None], dh * _derivative(hs[t], nonlinearity), 0)
        d_xw[t] = d_a
        if truncate is not None and t > 0 and t % truncate == 0:
            dh = xp.zeros_like(dh)
        else:
            dh = d_a @ w_hh
    return d_xw, dh

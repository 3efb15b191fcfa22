"""The Elman cell's NumPy kernel: the executable specification of its time loop.

Written for clarity, array-module agnostic (it runs unchanged on CuPy arrays). With
``a_t = xw_t + h_{t-1} W_hh^T`` (``xw_t = x_t W_ih^T + b_ih + b_hh``, precomputed by one
GEMM over all steps) and ``h_t = f(a_t)``:

* forward:  ``ys[0, t] = h_t`` for t < lengths[b], else 0 with h carried unchanged;
* backward: with ``dh`` the gradient reaching ``h_t`` from the future,
  ``dh_t = g_ys[0, t] + d_a_{t+1} W_hh``, ``d_a_t = dh_t * f'(h_t)`` (tanh: ``1 - h_t^2``,
  relu: ``[h_t > 0]``), and the term ``d_a_{t+1} W_hh`` is dropped when t + 1 is a
  positive multiple of ``truncate`` (truncated BPTT). ``d_h0 = d_a_0 W_hh``. The gradient
  of the recurrent pre-activation is ``d_a`` itself (``d_hw is d_xw``).

The contract every kernel follows is described in ARCHITECTURE.md.
"""
from __future__ import annotations

from tinyrnn.backend import get_array_module

from .numpy_common import step_states


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def _activate(xp, a, nonlinearity):
    return xp.tanh(a) if nonlinearity == "tanh" else xp.maximum(a, 0)


def _derivative(h, nonlinearity):
    # Expressed through the output h_t, which is all the backward pass keeps.
    return 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)


def forward(xw, w_hh, state0, lengths=None, *, nonlinearity="tanh"):
    xp = get_array_module(xw)
    T = xw.shape[0]
    ys = xp.empty((1,) + xw.shape, dtype=xw.dtype)
    h = state0[0]
    for t in range(T):
        h_new = _activate(xp, xw[t] + h @ w_hh.T, nonlinearity)
        h, ys[0, t] = step_states(xp, t, lengths, h_new, h)
    return ys, None


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *,
             nonlinearity="tanh"):
    xp = get_array_module(ys)
    hs = ys[0]
    T = hs.shape[0]
    d_xw = xp.empty_like(hs)
    dh = xp.zeros_like(state0[0])
    for t in reversed(range(T)):
        d_a = (dh + g_ys[0, t]) * _derivative(hs[t], nonlinearity)
        if lengths is not None:
            # Padded steps are not steps: no gradient passes through them.
            d_a = xp.where((t < lengths)[:, None], d_a, 0)
        d_xw[t] = d_a
        if truncate is not None and t > 0 and t % truncate == 0:
            dh = xp.zeros_like(dh)
        else:
            dh = d_a @ w_hh
    return d_xw, d_xw, dh[None]



def elman_backward(g_hs, hs, h0, w_hh, nonlinearity="tanh", truncate=None, lengths=None,
                   g_hn=None):
    """This kernel's backward in the Elman CUDA kernels' own terms (``cuda_kernel.backward``):
    ``(d_xw, d_h0)`` from ``g_hs``, ``hs`` (T, B, H) and ``h0`` (B, H), with ``g_hn`` (B, H),
    the final state's gradient, added at each sequence's last real step."""
    xp = get_array_module(hs)
    g = g_hs.copy()
    if g_hn is not None:
        T, B = g.shape[:2]
        last = xp.full(B, T) if lengths is None else xp.asarray(lengths)
        g[last - 1, xp.arange(B)] += g_hn
    d_xw, _, d_state0 = backward(g[None], hs[None], None, h0[None], w_hh, truncate, lengths,
                                 nonlinearity=nonlinearity)
    return d_xw, d_state0[0]


def elman_reference(xw, w_hh, h0, g_hs, nonlinearity="tanh", truncate=None, lengths=None,
                    g_hn=None):
    """Forward and backward in the Elman CUDA kernels' terms: ``(hs, d_xw, d_h0)``."""
    ys, _ = forward(xw, w_hh, h0[None], lengths, nonlinearity=nonlinearity)
    return (ys[0],) + elman_backward(g_hs, ys[0], h0, w_hh, nonlinearity, truncate, lengths,
                                     g_hn)

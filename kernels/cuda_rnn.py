"""The Elman cell's CUDA kernel, in the contract every kernel follows (ARCHITECTURE.md).

The kernels, their launch plans and the choice between the persistent kernel, the cuBLAS step
loop and its CUDA graph live in ``cuda_kernel``; this module maps the contract onto them.
The fused op has checked every argument; device ``lengths`` are checked once per array.
"""
from __future__ import annotations

from . import cuda_kernel


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def forward(xw, w_hh, state0, lengths=None, *, nonlinearity="tanh"):
    hs = cuda_kernel.run_forward(xw, w_hh, state0[0], nonlinearity, lengths)
    return hs[None], None


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *,
             nonlinearity="tanh"):
    d_xw, d_h0 = cuda_kernel.run_backward(g_ys[0], ys[0], state0[0], w_hh, nonlinearity,
                                          truncate, lengths)
    return d_xw, d_xw, d_h0[None]

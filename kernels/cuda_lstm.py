"""The LSTM's CUDA kernel, in the contract every kernel follows (ARCHITECTURE.md): the
persistent or cuBLAS-step kernels of ``gated_time_loop.cu`` through ``cuda_gated``. The fused
op has checked every argument; device ``lengths`` are checked once per array. ``d_hw`` is
``d_xw`` itself."""
from __future__ import annotations

from . import cuda_gated


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def forward(xw, w_hh, state0, lengths=None):
    return cuda_gated.run_forward("lstm", xw, w_hh, state0, lengths)


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None):
    return cuda_gated.run_backward("lstm", g_ys, ys, saved, state0, w_hh, truncate, lengths)

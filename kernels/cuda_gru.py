"""The GRU's CUDA kernel, in the contract every kernel follows (ARCHITECTURE.md): the
persistent or cuBLAS-step kernels of ``gated_time_loop.cu`` through ``cuda_gated``. The fused
op has checked every argument; device ``lengths`` are checked once per array."""
from __future__ import annotations

from . import cuda_gated


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def forward(xw, w_hh, state0, lengths=None, *, b_hn=None):
    return cuda_gated.run_forward("gru", xw, w_hh, state0, lengths, b_hn)


def backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, *, b_hn=None):
    # b_hn is in `saved` already (hn = W_hn h + b_hn): the backward pass needs no more of it.
    return cuda_gated.run_backward("gru", g_ys, ys, saved, state0, w_hh, truncate, lengths)

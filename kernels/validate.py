"""Argument checks shared by every kernel.

Compiled loops (Numba, CUDA) have no bounds checks, so a call is validated completely
here, before any of them runs.
"""
from __future__ import annotations

import numpy as np

NONLINEARITIES = ("tanh", "relu")


def _shape_error(name, expected, got):
    return ValueError(f"{name} must have shape {expected}, got {tuple(got)}")


def check_nonlinearity(nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def check_truncate(truncate):
    if truncate is None:
        return None
    if isinstance(truncate, bool) or not isinstance(truncate, (int, np.integer)):
        raise TypeError(f"truncate must be None or an int >= 1, got {truncate!r}")
    if truncate < 1:
        raise ValueError(f"truncate must be None or an int >= 1, got {truncate}")
    return int(truncate)


def check_lengths(lengths, T, B, xp=np):
    """``lengths`` as a contiguous int64 array of B values in [1, T], or None."""
    if lengths is None:
        return None
    host = lengths.get() if hasattr(lengths, "get") else np.asarray(lengths)
    if host.dtype.kind not in "iu":
        raise TypeError(f"lengths must hold integers, got dtype {host.dtype}")
    if host.shape != (B,):
        raise ValueError(f"lengths must have shape ({B},) (one per sequence), got {host.shape}")
    if B and (host.min() < 1 or host.max() > T):
        raise ValueError(f"lengths must lie in [1, {T}] (T={T}), got min {host.min()}, "
                         f"max {host.max()}")
    return xp.ascontiguousarray(xp.asarray(host, dtype=np.int64))


def _check_float(name, a, dtype):
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {a.dtype}")


def check_forward(xw, w_hh, h0, nonlinearity, lengths, xp=np):
    """Validate forward arguments; return them C-contiguous, lengths as int64 or None."""
    check_nonlinearity(nonlinearity)
    if xw.ndim != 3:
        raise ValueError(f"xw must be 3-D (T, B, H), got shape {tuple(xw.shape)}")
    T, B, H = xw.shape
    if T < 1 or B < 1 or H < 1:
        raise ValueError(f"xw must be non-empty, got shape {tuple(xw.shape)}")
    if xw.dtype not in (np.float32, np.float64):
        raise TypeError(f"xw must be float32 or float64, got {xw.dtype}")
    if tuple(w_hh.shape) != (H, H):
        raise _shape_error("w_hh", (H, H), w_hh.shape)
    if tuple(h0.shape) != (B, H):
        raise _shape_error("h0", (B, H), h0.shape)
    _check_float("w_hh", w_hh, xw.dtype)
    _check_float("h0", h0, xw.dtype)
    lengths = check_lengths(lengths, T, B, xp)
    c = xp.ascontiguousarray
    return c(xw), c(w_hh), c(h0), lengths


def check_backward(g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn, xp=np):
    """Validate backward arguments; return them C-contiguous (g_hn zeros when None)."""
    hs, w_hh, h0, lengths = check_forward(hs, w_hh, h0, nonlinearity, lengths, xp)
    truncate = check_truncate(truncate)
    if tuple(g_hs.shape) != tuple(hs.shape):
        raise _shape_error("g_hs", tuple(hs.shape), g_hs.shape)
    _check_float("g_hs", g_hs, hs.dtype)
    if g_hn is None:
        g_hn = xp.zeros_like(h0)
    if tuple(g_hn.shape) != tuple(h0.shape):
        raise _shape_error("g_hn", tuple(h0.shape), g_hn.shape)
    _check_float("g_hn", g_hn, hs.dtype)
    c = xp.ascontiguousarray
    return c(g_hs), hs, h0, w_hh, truncate, lengths, c(g_hn)

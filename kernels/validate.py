"""Argument checks shared by every kernel.

Compiled loops (Numba, CUDA) have no bounds checks, so a call is validated completely
before any of them runs: once at the boundary of the fused op (``tinyrnn/nn/fused_rnn.py``),
or by the checked ``forward``/``backward`` of ``tinyrnn.kernels.kernel(...)`` for direct
calls. The kernels' own entry points assume checked arguments.
"""
from __future__ import annotations

import numpy as np

from .cells import Cell

NONLINEARITIES = ("tanh", "relu")


def _shape_error(name, expected, got):
    return ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(got)}")


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
    """``lengths`` as a contiguous int64 array of B values in [1, T], or None.

    Reads the values on the host: call it once per batch, not once per kernel.
    """
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


def check_dtype(name, a, dtype):
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {a.dtype}")


def check_shape(name, a, expected):
    if tuple(a.shape) != tuple(expected):
        raise _shape_error(name, expected, a.shape)


def check_options(cell: Cell, H, dtype, options):
    """The cell's own options: the Elman cell's ``nonlinearity``, the GRU's ``b_hn``."""
    expected = {"rnn": {"nonlinearity"}, "gru": {"b_hn"}, "lstm": set()}[cell.name]
    unknown = set(options) - expected
    if unknown:
        raise TypeError(f"the {cell.name} kernel takes no option {sorted(unknown)[0]!r}")
    if cell.name == "rnn":
        check_nonlinearity(options.get("nonlinearity", "tanh"))
    b_hn = options.get("b_hn")
    if b_hn is not None:
        check_shape("b_hn", b_hn, (H,))
        check_dtype("b_hn", b_hn, dtype)


def check_forward(cell: Cell, xw, w_hh, state0, lengths, options, xp=np):
    """Validate forward arguments; return them C-contiguous (lengths int64 or None)."""
    if xw.ndim != 3:
        raise ValueError(f"xw must be 3-D (T, B, {cell.gates}*H), got shape {tuple(xw.shape)}")
    T, B, GH = xw.shape
    if T < 1 or B < 1 or GH < 1:
        raise ValueError(f"xw must be non-empty, got shape {tuple(xw.shape)}")
    if GH % cell.gates:
        raise ValueError(f"xw's last axis must be {cell.gates}*H for the {cell.name} cell, "
                         f"got {GH}")
    H = GH // cell.gates
    if xw.dtype not in (np.float32, np.float64):
        raise TypeError(f"xw must be float32 or float64, got {xw.dtype}")
    check_shape("w_hh", w_hh, (GH, H))
    check_shape("state0", state0, (cell.states, B, H))
    check_dtype("w_hh", w_hh, xw.dtype)
    check_dtype("state0", state0, xw.dtype)
    check_options(cell, H, xw.dtype, options)
    lengths = check_lengths(lengths, T, B, xp)
    c = xp.ascontiguousarray
    return c(xw), c(w_hh), c(state0), lengths


def check_backward(cell: Cell, g_ys, ys, saved, state0, w_hh, truncate, lengths, options,
                   xp=np):
    """Validate backward arguments; return them C-contiguous."""
    if ys.ndim != 4 or ys.shape[0] != cell.states:
        raise ValueError(f"ys must be 4-D ({cell.states}, T, B, H), got shape "
                         f"{tuple(ys.shape)}")
    _, T, B, H = ys.shape
    if ys.dtype not in (np.float32, np.float64):
        raise TypeError(f"ys must be float32 or float64, got {ys.dtype}")
    check_shape("w_hh", w_hh, (cell.gates * H, H))
    check_shape("state0", state0, (cell.states, B, H))
    check_shape("g_ys", g_ys, ys.shape)
    for name, a in (("w_hh", w_hh), ("state0", state0), ("g_ys", g_ys)):
        check_dtype(name, a, ys.dtype)
    if cell.saved:
        if saved is None:
            raise ValueError(f"saved must hold the {cell.name} forward pass's saved values")
        check_shape("saved", saved, (T, B, cell.saved * H))
        check_dtype("saved", saved, ys.dtype)
    check_options(cell, H, ys.dtype, options)
    truncate = check_truncate(truncate)
    lengths = check_lengths(lengths, T, B, xp)
    c = xp.ascontiguousarray
    saved = c(saved) if cell.saved else None
    return c(g_ys), c(ys), saved, c(state0), c(w_hh), truncate, lengths

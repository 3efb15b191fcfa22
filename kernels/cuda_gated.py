"""The GRU and LSTM CUDA kernels through CuPy: ``gated_time_loop.cu`` on the machinery of
``cuda_kernel`` (module loading with the shared header inlined, launch plans, cooperative
launch, device lengths). ``cuda_gru`` and ``cuda_lstm`` map the kernel contract onto
``run_forward`` / ``run_backward`` here; results match ``numpy_gru`` / ``numpy_lstm``.

Two paths per call:

- "persistent": one cooperative launch when the weights fit in shared memory across the
  multiprocessors. The forward pass keeps the G rows of W_hh of each owned unit (a plan with
  ``gates=G`` rows of length H per unit); the backward pass one row of W_hh^T of length G*H
  per unit (``gates=1, length=G*H``): the plans differ, so each pass is planned on its own.
- "cublas": one cuBLAS GEMM per step (``cupy.matmul``) and one elementwise step kernel.

A (cell, B, H, dtype) takes the path that ran the forward pass faster when both were timed
on the device, once per process (or by cuda_plan's cost model, TINYRNN_CUDA_CHOICE=model); a
backward pass without a persistent plan takes the cuBLAS path. No CUDA graph path yet.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tinyrnn.backend import import_cupy

from . import cuda_kernel as ck
from . import cuda_plan
from .cells import CELLS

SOURCE = Path(__file__).with_name("gated_time_loop.cu")


def _i32(*values):
    return [np.int32(v) for v in values]


def plan(cell, pass_, B, H, dtype):
    """The persistent launch of ``cell``'s forward or backward kernel, or None."""
    G = CELLS[cell].gates
    rows = {"forward": dict(gates=G, length=H), "backward": dict(gates=1, length=G * H)}[pass_]
    return ck.plan(B, H, dtype, f"{cell}_{pass_}_persistent", source=SOURCE, **rows)


def _choose(cell, pass_, B, H, dtype, path):
    """(path, plan); ``path`` None chooses, "persistent" or "cublas" forces it."""
    if path not in (None, "persistent", "cublas"):
        raise ValueError(f"unknown path {path!r}")
    p = plan(cell, pass_, B, H, dtype) if path in (None, "persistent") else None
    if path == "persistent" and p is None:
        raise ValueError(f"no persistent {cell} {pass_} launch fits H={H} ({np.dtype(dtype)}) "
                         "on this device")
    if path is not None:
        return path, p
    cp = import_cupy()
    if p is not None and _fastest(cell, B, H, np.dtype(dtype),
                                  cp.cuda.runtime.getDevice()) == "persistent":
        return "persistent", p
    return "cublas", None


@functools.lru_cache(maxsize=1024)
def _fastest(cell, B, H, dtype, device_id):
    if ck.CHOICE == "model":
        sms, _ = ck._device_limits(device_id)
        G = CELLS[cell].gates
        wins = cuda_plan.persistent_wins(B, H, dtype.itemsize, plan(cell, "forward", B, H, dtype),
                                         sms, G, H)
        return "persistent" if wins else "cublas"
    ms = time_paths(cell, B, H, dtype)
    return min(ms, key=ms.get)


@functools.lru_cache(maxsize=1024)
def time_paths(cell, B, H, dtype, steps=16, repeat=3):
    """Best forward time (ms) of each path that runs here, on `steps` steps of random data."""
    cp = import_cupy()
    c = CELLS[cell]
    rng = np.random.default_rng(0)
    xw = cp.asarray(rng.standard_normal((steps, B, c.gates * H)).astype(dtype))
    w = cp.asarray((rng.standard_normal((c.gates * H, H)) / np.sqrt(H)).astype(dtype))
    state0 = cp.zeros((c.states, B, H), dtype)
    paths = ["cublas"] + (["persistent"] if plan(cell, "forward", B, H, dtype) else [])
    best = {}
    for path in paths:
        try:
            run_forward(cell, xw, w, state0, path=path)  # warm-up: compile, plan
        except ck.CooperativeLaunchRefused:
            continue
        times = []
        for _ in range(repeat):
            start, stop = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            run_forward(cell, xw, w, state0, path=path)
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop))
        best[path] = min(times)
    return best


def run_forward(cell, xw, w_hh, state0, lengths=None, b_hn=None, path=None):
    """``(ys, saved)`` of ``cell`` ("gru", "lstm") as its NumPy kernel defines them; arguments
    checked by the caller (device lengths are checked here, once per array)."""
    cp = import_cupy()
    c = CELLS[cell]
    xw, w_hh, state0 = (cp.ascontiguousarray(a) for a in (xw, w_hh, state0))
    T, B, GH = xw.shape
    H = GH // c.gates
    dtype = xw.dtype
    lengths = ck._lengths_or_full(cp, lengths, T, B)
    b_hn = cp.zeros(H, dtype) if b_hn is None else cp.ascontiguousarray(b_hn)
    ys = cp.empty((c.states, T, B, H), dtype)
    saved = cp.empty((T, B, 4 * H), dtype)
    c_state = cp.empty((B, H), dtype)  # the LSTM's c (the GRU's kernels ignore it)
    chosen, p = _choose(cell, "forward", B, H, dtype, path)
    if chosen == "persistent":
        state = cp.empty((2, B, H), dtype)
        barrier = cp.zeros(3, dtype=cp.uint32)  # arrivals, generation, layout-refused flag
        try:
            ck._launch_cooperative(f"{cell}_forward_persistent", dtype, p,
                                   (xw, w_hh, state0, lengths, b_hn, *_i32(T, B, H, p.rows,
                                                                           p.stride),
                                    ys, saved, state, c_state, barrier), source=SOURCE)
            return ys, saved
        except ck.CooperativeLaunchRefused:
            if path is not None:
                raise
    step = ck._kernel(f"{cell}_step_forward", dtype, SOURCE)
    grid, block = ck._step_grid(B, H)
    h = state0[0].copy()
    c_state[...] = state0[-1]
    gates = cp.empty((B, GH), dtype)
    w_t = w_hh.T  # a transposed view: cuBLAS reads it as is
    for t in range(T):
        cp.matmul(h, w_t, out=gates)
        step(grid, block, (gates, xw, lengths, b_hn, *_i32(t, T, B, H), h, c_state, ys, saved))
    return ys, saved


def run_backward(cell, g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, path=None):
    """``(d_xw, d_hw, d_state0)`` of ``cell`` as its NumPy kernel defines them (``d_hw`` is
    ``d_xw`` for the LSTM); arguments checked by the caller."""
    cp = import_cupy()
    c = CELLS[cell]
    g_ys, ys, saved, state0, w_hh = (cp.ascontiguousarray(a)
                                     for a in (g_ys, ys, saved, state0, w_hh))
    _, T, B, H = ys.shape
    dtype = ys.dtype
    lengths = ck._lengths_or_full(cp, lengths, T, B)
    d_xw = cp.empty((T, B, c.gates * H), dtype)
    d_hw = d_xw if cell == "lstm" else cp.empty_like(d_xw)
    d_state0 = cp.empty_like(state0)
    aux = cp.zeros((B, H), dtype)  # the per-unit carry: GRU dh z, LSTM dc f
    chosen, p = _choose(cell, "backward", B, H, dtype, path)
    if chosen == "persistent":
        barrier = cp.zeros(3, dtype=cp.uint32)
        try:
            ck._launch_cooperative(f"{cell}_backward_persistent", dtype, p,
                                   (g_ys, ys, saved, state0, w_hh, lengths,
                                    *_i32(T, B, H, truncate or 0, p.rows, p.stride),
                                    d_xw, d_hw, d_state0, aux, barrier), source=SOURCE)
            return d_xw, d_hw, d_state0
        except ck.CooperativeLaunchRefused:
            if path is not None:
                raise
    step = ck._kernel(f"{cell}_step_backward", dtype, SOURCE)
    grid, block = ck._step_grid(B, H)
    prod = cp.zeros((B, H), dtype)  # d_hw_{t+1} W_hh
    for t in range(T - 1, -1, -1):
        # `cut`: nothing reaches step t from t + 1 (the last step, or t + 1 a truncation point)
        cut = t == T - 1 or bool(truncate) and (t + 1) % truncate == 0
        step(grid, block, (prod, np.int32(cut), g_ys, ys, saved, state0, lengths,
                           *_i32(t, T, B, H), d_xw, d_hw, aux))
        if t == 0 or not (truncate and t % truncate == 0):
            cp.matmul(d_hw[t], w_hh, out=prod)
    if cell == "lstm":  # dh_{-1} = d_a_0 W_hh, dc_{-1} = dc'_0 f_0
        d_state0[0], d_state0[1] = prod, aux
    else:  # dh_{-1} = direct_0 + d_hw_0 W_hh
        cp.add(aux, prod, out=d_state0[0])
    return d_xw, d_hw, d_state0

"""The CUDA kernel for the RNN time loop (same contract as ``numpy_kernel``), through CuPy.

``rnn_time_loop.cu`` (with ``cuda_common.cuh`` inlined) is compiled once per process with
NVRTC (``cupy.RawModule``). Shapes with a launch plan (``cuda_plan.py``: the weights fit in
shared memory across the multiprocessors) may run the persistent kernels with a cooperative
launch; the others, and shapes where cuBLAS is faster (timed once per shape on the device), run
one cuBLAS GEMM per step (``cupy.matmul``) and one fused elementwise kernel. Arguments are
validated on the host before any kernel runs; device ``lengths`` once per array.
"""
from __future__ import annotations

import collections
import functools
import os
import re
from pathlib import Path

import numpy as np

from tinyrnn.backend import import_cupy

from . import cuda_plan
from .validate import check_backward, check_forward, check_lengths

SOURCE = Path(__file__).with_name("rnn_time_loop.cu")
STEP_BLOCK = 256
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
# How the persistent-or-cuBLAS choice is made for a shape: "time" (both paths timed once per
# shape on the device, the default) or "model" (cuda_plan's cost model only).
CHOICE = os.environ.get("TINYRNN_CUDA_CHOICE", "time")


def blas_threads(B, H):
    """No CPU BLAS runs around this kernel."""
    return None


def kernel_source(path: Path = SOURCE) -> str:
    """The source with its local ``#include "x.cuh"`` headers inlined: NVRTC needs no include
    path, and CuPy's compile cache, keyed on the source text, sees every header change."""
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        included = re.match(r'\s*#include\s+"([^"]+)"', line)
        if included:
            header = path.with_name(included.group(1))
            out.append(f'#line 1 "{header.name}"')
            out += [h for h in kernel_source(header).splitlines() if h.strip() != "#pragma once"]
            out.append(f'#line {number + 1} "{path.name}"')
        else:
            out.append(line)
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=None)
def _module():
    cp = import_cupy()
    module = cp.RawModule(code=kernel_source(), options=("-std=c++17",))
    try:
        module.compile()
    except cp.cuda.compiler.CompileException as e:
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{e}") from e
    return module


@functools.lru_cache(maxsize=None)
def _kernel(name, dtype):
    return _module().get_function(f"{name}_{_SUFFIX[np.dtype(dtype)]}")


_ATTR_MAX_SHARED_PER_BLOCK_OPTIN = 97  # cudaDevAttrMaxSharedMemoryPerBlockOptin


@functools.lru_cache(maxsize=None)
def _device_limits(device_id):
    """(multiprocessors, the most dynamic shared memory a block may opt in to)."""
    cp = import_cupy()
    props = cp.cuda.runtime.getDeviceProperties(device_id)
    optin = props.get("sharedMemPerBlockOptin") or cp.cuda.runtime.deviceGetAttribute(
        _ATTR_MAX_SHARED_PER_BLOCK_OPTIN, device_id)
    return int(props["multiProcessorCount"]), int(optin)


def _blocks_per_sm(name, dtype, block, smem):
    """Resident blocks per SM, as CuPy computes it before a cooperative launch."""
    cp = import_cupy()
    kernel = _kernel(name, dtype)
    kernel.max_dynamic_shared_size_bytes = smem  # needed for any smem above 48 KB
    return cp.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(kernel.kernel.ptr, block,
                                                                    smem)


def plan(B, H, dtype, kernel_name="rnn_forward_persistent"):
    """The persistent launch for this shape on the current device, or None (fallback)."""
    cp = import_cupy()
    return _plan(B, H, np.dtype(dtype), kernel_name, cp.cuda.runtime.getDevice())


@functools.lru_cache(maxsize=256)
def _plan(B, H, dtype, kernel_name, device_id):
    sms, max_shared = _device_limits(device_id)
    return cuda_plan.plan_persistent(
        B, H, dtype.itemsize, sms, max_shared,
        lambda block, smem: _blocks_per_sm(kernel_name, dtype, block, smem))


def _choose(B, H, dtype, kernel_name, persistent):
    """The persistent plan, or None for the cuBLAS-per-step path; ``persistent`` True/False
    forces one (tests, benchmarks)."""
    if persistent is False:
        return None
    p = plan(B, H, dtype, kernel_name)
    if persistent and p is None:
        raise ValueError(f"no persistent launch fits H={H} ({np.dtype(dtype)}) on this device")
    if persistent or p is None:
        return p
    cp = import_cupy()
    return p if _persistent_is_faster(B, H, np.dtype(dtype), cp.cuda.runtime.getDevice()) \
        else None


@functools.lru_cache(maxsize=1024)
def _persistent_is_faster(B, H, dtype, device_id):
    """Which path a shape takes: both timed once on the device (cached for the process), or
    the cost model alone (CHOICE = "model")."""
    sms, _ = _device_limits(device_id)
    p = plan(B, H, dtype)
    if CHOICE == "model":
        return cuda_plan.persistent_wins(B, H, dtype.itemsize, p, sms)
    try:
        ms = time_paths(B, H, dtype)
    except CooperativeLaunchRefused:
        return False
    return ms["persistent"] <= ms["cublas"]


@functools.lru_cache(maxsize=1024)
def time_paths(B, H, dtype, steps=16, repeat=3):
    """Best forward time (ms) of each path on `steps` steps of random data."""
    cp = import_cupy()
    rng = np.random.default_rng(0)
    xw = cp.asarray(rng.standard_normal((steps, B, H)).astype(dtype))
    w = cp.asarray((rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype))
    h0 = cp.zeros((B, H), dtype)
    best = {}
    for name, persistent in (("persistent", True), ("cublas", False)):
        forward(xw, w, h0, "tanh", persistent=persistent)  # warm-up (cuBLAS handles, attributes)
        times = []
        for _ in range(repeat):
            start, stop = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            forward(xw, w, h0, "tanh", persistent=persistent)
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop))
        best[name] = min(times)
    return best


class CooperativeLaunchRefused(RuntimeError):
    """The device cannot hold the planned grid at once (CuPy would shrink it)."""


def _launch_cooperative(name, dtype, p, args):
    # CuPy's own check before a cooperative launch: a grid above occupancy * SMs is silently
    # shrunk to that, and each block would then own more slices than its shared memory holds.
    # Refuse here instead (the kernel also refuses to run a layout that does not fit).
    cp = import_cupy()
    sms, _ = _device_limits(cp.cuda.runtime.getDevice())
    limit = _blocks_per_sm(name, dtype, p.block, p.shared_bytes) * sms
    if p.grid > limit:
        raise CooperativeLaunchRefused(
            f"{name}: a cooperative grid of {p.grid} blocks ({p.block} threads, "
            f"{p.shared_bytes} bytes of shared memory) exceeds the device's {limit}")
    _kernel(name, dtype).kernel((p.grid, 1, 1), (p.block, 1, 1), args,
                                shared_mem=p.shared_bytes, enable_cooperative_groups=True)


def _step_grid(B, H):
    return (min(-(-B * H // STEP_BLOCK), 4096), 1, 1), (STEP_BLOCK, 1, 1)


# Device lengths already validated, by the identity of the array passed in (kept alive here,
# so an id is never reused while cached): the fused op passes the same int64 array to every
# layer, direction and pass, and validating device values costs a device sync each time. Only
# arrays the kernels read as they are get cached, so a later in-place change still reaches the
# kernels; it escapes validation, but cannot make them touch memory out of bounds (a step is
# active iff t < lengths[b]), so once per array is enough.
_CHECKED = collections.OrderedDict()
_CHECKED_MAX = 64


def device_lengths(lengths, T, B):
    """``lengths`` validated and on the device as contiguous int64, or None.

    Host lengths (a list or NumPy array) are validated without touching the device, then
    copied to it; CuPy lengths are validated (one device sync) the first time this array is
    seen for (T, B)."""
    if lengths is None:
        return None
    cp = import_cupy()
    if not isinstance(lengths, cp.ndarray):
        return check_lengths(lengths, T, B, cp)
    key = id(lengths)
    hit = _CHECKED.get(key)
    if hit is not None and hit[0] is lengths and hit[1] == (T, B):
        _CHECKED.move_to_end(key)
        return lengths
    checked = check_lengths(lengths, T, B, cp)
    if lengths.dtype == np.int64 and lengths.flags.c_contiguous:
        _CHECKED[key] = (lengths, (T, B))
        if len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)
        return lengths
    return checked


@functools.lru_cache(maxsize=64)
def _full_lengths(T, B, device_id):
    cp = import_cupy()
    return cp.full(B, T, dtype=cp.int64)  # never handed out: the kernels only read it


def _lengths_or_full(cp, lengths, T, B):
    checked = device_lengths(lengths, T, B)
    return _full_lengths(T, B, cp.cuda.runtime.getDevice()) if checked is None else checked


def forward(xw, w_hh, h0, nonlinearity, lengths=None, *, persistent=None):
    """``persistent``: None chooses by plan; True/False forces a path (tests, benchmarks)."""
    cp = import_cupy()
    xw, w_hh, h0, _ = check_forward(xw, w_hh, h0, nonlinearity, None, cp)
    T, B, H = xw.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    hs = cp.empty_like(xw)
    p = _choose(B, H, xw.dtype, "rnn_forward_persistent", persistent)
    if p is not None:
        state = cp.empty((2, B, H), dtype=xw.dtype)
        barrier = cp.zeros(3, dtype=cp.uint32)  # arrivals, generation, layout-refused flag
        try:
            _launch_cooperative("rnn_forward_persistent", xw.dtype, p,
                                (xw, w_hh, h0, lengths, np.int32(T), np.int32(B), np.int32(H),
                                 relu, np.int32(p.rows), np.int32(p.stride), hs, state, barrier))
            return hs
        except CooperativeLaunchRefused:
            if persistent:
                raise
    step = _kernel("rnn_step_forward", xw.dtype)
    grid, block = _step_grid(B, H)
    w_t = w_hh.T  # a transposed view: cuBLAS reads it as is, no copy
    h = h0.copy()
    a = cp.empty_like(h0)
    for t in range(T):
        cp.matmul(h, w_t, out=a)
        step(grid, block, (a, xw[t], lengths, np.int32(t), np.int32(B), np.int32(H), relu, h,
                           hs[t]))
    return hs


def backward(g_hs, hs, h0, w_hh, nonlinearity, truncate=None, lengths=None, g_hn=None, *,
             persistent=None):
    cp = import_cupy()
    g_hs, hs, h0, w_hh, truncate, _, g_hn = check_backward(
        g_hs, hs, h0, w_hh, nonlinearity, truncate, None, g_hn, cp)
    T, B, H = hs.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    cut = np.int32(0 if truncate is None else truncate)
    d_xw = cp.empty_like(hs)
    d_h0 = cp.empty_like(h0)
    p = _choose(B, H, hs.dtype, "rnn_backward_persistent", persistent)
    if p is not None:
        dbuf = cp.empty((2, B, H), dtype=hs.dtype)
        barrier = cp.zeros(3, dtype=cp.uint32)
        try:
            _launch_cooperative("rnn_backward_persistent", hs.dtype, p,
                                (g_hs, hs, w_hh, lengths, g_hn, np.int32(T), np.int32(B),
                                 np.int32(H), relu, cut, np.int32(p.rows), np.int32(p.stride),
                                 d_xw, d_h0, dbuf, barrier))
            return d_xw, d_h0
        except CooperativeLaunchRefused:
            if persistent:
                raise
    step = _kernel("rnn_step_backward", hs.dtype)
    grid, block = _step_grid(B, H)
    dh = cp.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        step(grid, block, (dh, g_hs, hs, g_hn, lengths, np.int32(t), np.int32(B), np.int32(H),
                           relu, d_xw[t]))
        if cut and t > 0 and t % int(cut) == 0:
            dh.fill(0)
        else:
            cp.matmul(d_xw[t], w_hh, out=dh)
    d_h0[...] = dh
    return d_xw, d_h0

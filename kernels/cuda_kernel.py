"""The CUDA kernels of the Elman time loop through CuPy: loading, launch plans, paths.

The layers reach them through ``cuda_rnn`` (the contract of ARCHITECTURE.md); the results
match ``numpy_rnn``.

``rnn_time_loop.cu`` (with ``cuda_common.cuh`` inlined) is compiled once per process with
NVRTC (``cupy.RawModule``). Three paths:

- "persistent": shapes with a launch plan (``cuda_plan.py``: the weights fit in shared memory
  across the multiprocessors) run the persistent kernels with one cooperative launch;
- "cublas": one cuBLAS GEMM per step (``cupy.matmul``) and one fused elementwise kernel;
- "graph": that step loop captured once per shape as a CUDA graph on static buffers, which
  saves the two launches from Python per step.

Each (B, H, dtype) takes the path that ran fastest when all were timed on the device, once per
process (``time_paths``). Arguments are validated on the host before any kernel runs; device
``lengths`` once per array.
"""
from __future__ import annotations

import collections
import functools
import os
import re
import warnings
from pathlib import Path

import numpy as np

from tinyrnn.backend import import_cupy

from . import cuda_plan, validate
from .cells import RNN
from .validate import check_lengths

SOURCE = Path(__file__).with_name("rnn_time_loop.cu")
STEP_BLOCK = 256
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
# How a shape's path is chosen: "time" (every path timed once per shape on the device, the
# default) or "model" (cuda_plan's cost model: persistent or cuBLAS, no graphs).
CHOICE = os.environ.get("TINYRNN_CUDA_CHOICE", "time")
# CUDA graphs for the fallback's step loop (TINYRNN_CUDA_GRAPHS=0 turns them off). A graph
# holds static copies of its inputs and outputs: only for loops up to GRAPH_MAX_BYTES, and
# captured the second time a shape is seen.
GRAPHS = os.environ.get("TINYRNN_CUDA_GRAPHS", "1") != "0"
GRAPH_MAX_BYTES = 64 << 20


def blas_threads(B, H):
    """(around, loop): no CPU BLAS thread setting around this kernel or in its loop."""
    return None, None


def kernel_source(path: Path = SOURCE, _included=None) -> str:
    """The source with its local ``#include "x.cuh"`` headers inlined (each once, as their
    ``#pragma once`` asks): NVRTC needs no include path, and CuPy's compile cache, keyed on
    the source text, sees every header change."""
    included = set() if _included is None else _included
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = re.match(r'\s*#include\s+"([^"]+)"', line)
        if match is None:
            if line.strip() != "#pragma once":
                out.append(line)
            continue
        header = path.with_name(match.group(1))
        if header.name not in included:
            included.add(header.name)
            out.append(f'#line 1 "{header.name}"')
            out.append(kernel_source(header, included).rstrip("\n"))
        out.append(f'#line {number + 1} "{path.name}"')
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=None)
def _module(source=SOURCE):
    """One RawModule per .cu file (the gated cells' kernels are in gated_time_loop.cu)."""
    cp = import_cupy()
    module = cp.RawModule(code=kernel_source(source), options=("-std=c++17",))
    try:
        module.compile()
    except cp.cuda.compiler.CompileException as e:
        raise RuntimeError(f"compiling {source.name} failed:\n{e}") from e
    return module


@functools.lru_cache(maxsize=None)
def _kernel(name, dtype, source=SOURCE):
    return _module(source).get_function(f"{name}_{_SUFFIX[np.dtype(dtype)]}")


_ATTR_MAX_SHARED_PER_BLOCK_OPTIN = 97  # cudaDevAttrMaxSharedMemoryPerBlockOptin


@functools.lru_cache(maxsize=None)
def _device_limits(device_id):
    """(multiprocessors, the most dynamic shared memory a block may opt in to)."""
    cp = import_cupy()
    props = cp.cuda.runtime.getDeviceProperties(device_id)
    optin = props.get("sharedMemPerBlockOptin") or cp.cuda.runtime.deviceGetAttribute(
        _ATTR_MAX_SHARED_PER_BLOCK_OPTIN, device_id)
    return int(props["multiProcessorCount"]), int(optin)


def _blocks_per_sm(name, dtype, block, smem, source=SOURCE):
    """Resident blocks per SM, as CuPy computes it before a cooperative launch."""
    cp = import_cupy()
    kernel = _kernel(name, dtype, source)
    kernel.max_dynamic_shared_size_bytes = smem  # needed for any smem above 48 KB
    return cp.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(kernel.kernel.ptr, block,
                                                                    smem)


def plan(B, H, dtype, kernel_name="rnn_forward_persistent", gates=1, length=None,
         source=SOURCE):
    """The persistent launch for this shape on the current device, or None (fallback);
    ``gates`` rows of ``length`` per unit for the gated cells (cuda_plan.layout)."""
    cp = import_cupy()
    return _plan(B, H, np.dtype(dtype), kernel_name, cp.cuda.runtime.getDevice(), gates, length,
                 source)


@functools.lru_cache(maxsize=256)
def _plan(B, H, dtype, kernel_name, device_id, gates=1, length=None, source=SOURCE):
    sms, max_shared = _device_limits(device_id)
    return cuda_plan.plan_persistent(
        B, H, dtype.itemsize, sms, max_shared,
        lambda block, smem: _blocks_per_sm(kernel_name, dtype, block, smem, source),
        gates, length)


def _choose(T, B, H, dtype, kernel_name, path):
    """(path, plan) for this call; ``path`` None chooses, a name forces that path."""
    if path not in (None, "persistent", "cublas", "graph"):
        raise ValueError(f"unknown path {path!r}")
    p = plan(B, H, dtype, kernel_name) if path in (None, "persistent") else None
    if path == "persistent" and p is None:
        raise ValueError(f"no persistent launch fits H={H} ({np.dtype(dtype)}) on this device")
    if path is not None:
        return path, p
    cp = import_cupy()
    best = _fastest(B, H, np.dtype(dtype), cp.cuda.runtime.getDevice())
    if best == "persistent" and p is not None:
        return "persistent", p
    if best == "graph" and _graph_pays(T, B, H, dtype):
        return "graph", None
    return "cublas", None


@functools.lru_cache(maxsize=1024)
def _fastest(B, H, dtype, device_id):
    """The path a shape takes: the fastest when timed once on the device (cached for the
    process), or by the cost model alone (CHOICE = "model")."""
    if CHOICE == "model":
        sms, _ = _device_limits(device_id)
        return "persistent" if cuda_plan.persistent_wins(B, H, dtype.itemsize, plan(B, H, dtype),
                                                         sms) else "cublas"
    ms = time_paths(B, H, dtype)
    return min(ms, key=ms.get)


@functools.lru_cache(maxsize=1024)
def time_paths(B, H, dtype, steps=16, repeat=3):
    """Best forward time (ms) of each path that runs here, on `steps` steps of random data."""
    cp = import_cupy()
    rng = np.random.default_rng(0)
    xw = cp.asarray(rng.standard_normal((steps, B, H)).astype(dtype))
    w = cp.asarray((rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype))
    h0 = cp.zeros((B, H), dtype)
    paths = ["cublas"] + (["persistent"] if plan(B, H, dtype) is not None else []) + \
        (["graph"] if GRAPHS and _graph_fits(steps, B, H, dtype) else [])
    best = {}
    for path in paths:
        try:
            run_forward(xw, w, h0, "tanh", path=path)  # warm-up (and the graph's capture)
        except (CooperativeLaunchRefused, GraphUnavailable):
            continue
        times = []
        for _ in range(repeat):
            start, stop = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            run_forward(xw, w, h0, "tanh", path=path)
            stop.record()
            stop.synchronize()
            times.append(cp.cuda.get_elapsed_time(start, stop))
        best[path] = min(times)
    return best


class CooperativeLaunchRefused(RuntimeError):
    """The device cannot hold the planned grid at once (CuPy would shrink it)."""


def _launch_cooperative(name, dtype, p, args, source=SOURCE):
    # CuPy's own check before a cooperative launch: a grid above occupancy * SMs is silently
    # shrunk to that, and each block would then own more slices than its shared memory holds.
    # Refuse here instead (the kernel also refuses to run a layout that does not fit).
    cp = import_cupy()
    sms, _ = _device_limits(cp.cuda.runtime.getDevice())
    limit = _blocks_per_sm(name, dtype, p.block, p.shared_bytes, source) * sms
    if p.grid > limit:
        raise CooperativeLaunchRefused(
            f"{name}: a cooperative grid of {p.grid} blocks ({p.block} threads, "
            f"{p.shared_bytes} bytes of shared memory) exceeds the device's {limit}")
    _kernel(name, dtype, source).kernel((p.grid, 1, 1), (p.block, 1, 1), args,
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


# ------------------------------------------------------------------------ the fallback loop

def _forward_steps(cp, xw, w_hh, lengths, relu, h, a, hs):
    """hs[t] for every step, h holding h0 on entry (h_T on return); a is scratch."""
    T, B, H = xw.shape
    step = _kernel("rnn_step_forward", xw.dtype)
    grid, block = _step_grid(B, H)
    w_t = w_hh.T  # a transposed view: cuBLAS reads it as is, no copy
    for t in range(T):
        cp.matmul(h, w_t, out=a)
        step(grid, block, (a, xw[t], lengths, np.int32(t), np.int32(B), np.int32(H), relu, h,
                           hs[t]))


def _backward_steps(cp, g_hs, hs, g_hn, w_hh, lengths, relu, cut, dh, d_xw):
    """d_xw for every step, dh holding zeros on entry (d_h0 on return)."""
    T, B, H = hs.shape
    step = _kernel("rnn_step_backward", hs.dtype)
    grid, block = _step_grid(B, H)
    for t in range(T - 1, -1, -1):
        step(grid, block, (dh, g_hs, hs, g_hn, lengths, np.int32(t), np.int32(B), np.int32(H),
                           relu, d_xw[t]))
        if cut and t > 0 and t % int(cut) == 0:
            dh.fill(0)
        else:
            cp.matmul(d_xw[t], w_hh, out=dh)


class GraphUnavailable(RuntimeError):
    """CUDA graph capture of the step loop failed here (the step-by-step loop still runs)."""


def _graph_fits(T, B, H, dtype):
    return (3 * T * B * H + H * H + 4 * B * H) * np.dtype(dtype).itemsize <= GRAPH_MAX_BYTES


_SEEN = collections.Counter()


def _graph_pays(T, B, H, dtype):
    """A graph for this T only when it fits and T came before: a capture costs a few loops."""
    key = (T, B, H, np.dtype(dtype))
    _SEEN[key] += 1
    return GRAPHS and _graph_fits(T, B, H, dtype) and _SEEN[key] >= 2


def _no_allocation(size):
    raise RuntimeError("CuPy allocated memory during the capture")


def _capture(cp, body):
    """body() captured as a CUDA graph (after one plain run: cuBLAS and the kernels set up).

    No CuPy allocation may happen in the capture: the pool would hand that memory to someone
    else while the graph still writes it. The allocator refuses, and the capture fails."""
    try:
        stream = cp.cuda.Stream(non_blocking=True)
        with stream:
            body()
            stream.begin_capture()
            try:
                with cp.cuda.using_allocator(_no_allocation):
                    body()
            finally:
                graph = stream.end_capture()
        stream.synchronize()
        return graph
    except Exception as e:  # capture errors do not poison the context
        warnings.warn(f"CUDA graph capture failed, the step loop runs without: {e!r}")
        return None


@functools.lru_cache(maxsize=8)
def _forward_graph(T, B, H, dtype, relu, device_id):
    """(graph, static inputs, static output) of the forward step loop, or None."""
    cp = import_cupy()
    xw, w, h0 = cp.zeros((T, B, H), dtype), cp.zeros((H, H), dtype), cp.zeros((B, H), dtype)
    lengths, hs = cp.full(B, T, dtype=cp.int64), cp.empty((T, B, H), dtype)
    h, a = cp.empty((B, H), dtype), cp.empty((B, H), dtype)

    def body():
        h[...] = h0
        _forward_steps(cp, xw, w, lengths, np.int32(relu), h, a, hs)

    graph = _capture(cp, body)
    return None if graph is None else (graph, (xw, w, h0, lengths), (hs,))


@functools.lru_cache(maxsize=8)
def _backward_graph(T, B, H, dtype, relu, cut, device_id):
    cp = import_cupy()
    g_hs, hs = cp.zeros((T, B, H), dtype), cp.zeros((T, B, H), dtype)
    g_hn, w = cp.zeros((B, H), dtype), cp.zeros((H, H), dtype)
    lengths, d_xw, dh = cp.full(B, T, dtype=cp.int64), cp.empty((T, B, H), dtype), \
        cp.empty((B, H), dtype)

    def body():
        dh.fill(0)
        _backward_steps(cp, g_hs, hs, g_hn, w, lengths, np.int32(relu), cut, dh, d_xw)

    graph = _capture(cp, body)
    return None if graph is None else (graph, (g_hs, hs, g_hn, w, lengths), (d_xw, dh))


def _run_graph(captured, inputs):
    """Copy the inputs in, replay, copy the outputs out (the next call reuses the buffers);
    all on the current stream, so in order."""
    if captured is None:
        raise GraphUnavailable("CUDA graph capture failed on this device (see the warning)")
    graph, statics, outputs = captured
    for static, value in zip(statics, inputs):
        static[...] = value
    graph.launch()
    return [o.copy() for o in outputs]


# ------------------------------------------------------------------------ the contract

def _path_of(persistent):
    return None if persistent is None else "persistent" if persistent else "cublas"


def forward(xw, w_hh, h0, nonlinearity, lengths=None, *, persistent=None):
    """The Elman time loop, checked: ``hs`` (T, B, H) from ``xw`` (T, B, H) and ``h0`` (B, H).

    ``persistent``: None chooses the path; True/False forces the persistent kernel or the
    cuBLAS step loop (tests, benchmarks). The layers call ``cuda_rnn`` instead, whose
    arguments the fused op has checked once.
    """
    cp = import_cupy()
    validate.check_forward(RNN, xw, w_hh, h0[None], None, {"nonlinearity": nonlinearity}, cp)
    return run_forward(xw, w_hh, h0, nonlinearity, lengths, path=_path_of(persistent))


def backward(g_hs, hs, h0, w_hh, nonlinearity, truncate=None, lengths=None, g_hn=None, *,
             persistent=None):
    """The Elman backward loop, checked: ``(d_xw, d_h0)``; ``g_hn`` (B, H) is the gradient of
    each sequence's final state (added at its last real step)."""
    cp = import_cupy()
    validate.check_backward(RNN, g_hs[None], hs[None], None, h0[None], w_hh, truncate, None,
                            {"nonlinearity": nonlinearity}, cp)
    if g_hn is not None:
        validate.check_shape("g_hn", g_hn, h0.shape)
        validate.check_dtype("g_hn", g_hn, hs.dtype)
    return run_backward(g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn,
                        path=_path_of(persistent))


def run_forward(xw, w_hh, h0, nonlinearity, lengths=None, path=None):
    """``forward`` on a named path ("persistent", "cublas", "graph"), or the chosen one;
    arguments already checked (lengths are checked here, once per device array)."""
    cp = import_cupy()
    xw, w_hh, h0 = (cp.ascontiguousarray(a) for a in (xw, w_hh, h0))
    T, B, H = xw.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    chosen, p = _choose(T, B, H, xw.dtype, "rnn_forward_persistent", path)
    if chosen == "persistent":
        hs = cp.empty_like(xw)
        state = cp.empty((2, B, H), dtype=xw.dtype)
        barrier = cp.zeros(3, dtype=cp.uint32)  # arrivals, generation, layout-refused flag
        try:
            _launch_cooperative("rnn_forward_persistent", xw.dtype, p,
                                (xw, w_hh, h0, lengths, np.int32(T), np.int32(B), np.int32(H),
                                 relu, np.int32(p.rows), np.int32(p.stride), hs, state, barrier))
            return hs
        except CooperativeLaunchRefused:
            if path is not None:
                raise
    if chosen == "graph":
        try:
            return _run_graph(_forward_graph(T, B, H, xw.dtype, int(relu),
                                             cp.cuda.runtime.getDevice()),
                              (xw, w_hh, h0, lengths))[0]
        except GraphUnavailable:
            if path is not None:
                raise
    hs = cp.empty_like(xw)
    _forward_steps(cp, xw, w_hh, lengths, relu, h0.copy(), cp.empty_like(h0), hs)
    return hs


def run_backward(g_hs, hs, h0, w_hh, nonlinearity, truncate=None, lengths=None, g_hn=None,
                 path=None):
    """``backward`` on a named path ("persistent", "cublas", "graph"), or the chosen one;
    arguments already checked."""
    cp = import_cupy()
    g_hs, hs, h0, w_hh = (cp.ascontiguousarray(a) for a in (g_hs, hs, h0, w_hh))
    g_hn = cp.zeros_like(h0) if g_hn is None else cp.ascontiguousarray(g_hn)
    T, B, H = hs.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    cut = 0 if truncate is None else truncate
    chosen, p = _choose(T, B, H, hs.dtype, "rnn_backward_persistent", path)
    if chosen == "persistent":
        d_xw, d_h0 = cp.empty_like(hs), cp.empty_like(h0)
        dbuf = cp.empty((2, B, H), dtype=hs.dtype)
        barrier = cp.zeros(3, dtype=cp.uint32)
        try:
            _launch_cooperative("rnn_backward_persistent", hs.dtype, p,
                                (g_hs, hs, w_hh, lengths, g_hn, np.int32(T), np.int32(B),
                                 np.int32(H), relu, np.int32(cut), np.int32(p.rows),
                                 np.int32(p.stride), d_xw, d_h0, dbuf, barrier))
            return d_xw, d_h0
        except CooperativeLaunchRefused:
            if path is not None:
                raise
    if chosen == "graph":
        try:
            d_xw, d_h0 = _run_graph(
                _backward_graph(T, B, H, hs.dtype, int(relu), cut, cp.cuda.runtime.getDevice()),
                (g_hs, hs, g_hn, w_hh, lengths))
            return d_xw, d_h0
        except GraphUnavailable:
            if path is not None:
                raise
    d_xw, dh = cp.empty_like(hs), cp.zeros_like(h0)
    _backward_steps(cp, g_hs, hs, g_hn, w_hh, lengths, relu, cut, dh, d_xw)
    return d_xw, dh

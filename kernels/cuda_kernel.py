"""The CUDA kernel for the RNN time loop (same contract as ``numpy_kernel``), through CuPy.

``rnn_time_loop.cu`` is compiled once per process with NVRTC (``cupy.RawModule``). Shapes with
a launch plan (``cuda_plan.py``: the weights fit in shared memory across the multiprocessors)
run the persistent kernels with a cooperative launch; the others run one cuBLAS GEMM per step
(``cupy.matmul``) and one fused elementwise kernel. Arguments are validated on the host before
any kernel runs.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tinyrnn.backend import import_cupy

from .cuda_plan import plan_persistent
from .validate import check_backward, check_forward

SOURCE = Path(__file__).with_name("rnn_time_loop.cu")
STEP_BLOCK = 256
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def blas_threads(B, H):
    """No CPU BLAS runs around this kernel."""
    return None


@functools.lru_cache(maxsize=None)
def _module():
    cp = import_cupy()
    module = cp.RawModule(code=SOURCE.read_text(), options=("-std=c++17",))
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


def plan(B, H, dtype, kernel_name="rnn_forward_persistent"):
    """The persistent launch for this shape on the current device, or None (fallback)."""
    cp = import_cupy()
    return _plan(B, H, np.dtype(dtype), kernel_name, cp.cuda.runtime.getDevice())


@functools.lru_cache(maxsize=256)
def _plan(B, H, dtype, kernel_name, device_id):
    cp = import_cupy()
    sms, max_shared = _device_limits(device_id)
    kernel = _kernel(kernel_name, dtype)

    def blocks_per_sm(block, smem):
        kernel.max_dynamic_shared_size_bytes = smem
        return cp.cuda.driver.occupancyMaxActiveBlocksPerMultiprocessor(
            kernel.kernel.ptr, block, smem)

    return plan_persistent(B, H, np.dtype(dtype).itemsize, sms, max_shared, blocks_per_sm)


def _choose(B, H, dtype, kernel_name, persistent):
    """The persistent plan, or None for the cuBLAS-per-step path; ``persistent`` True/False
    forces one (tests, benchmarks)."""
    if persistent is False:
        return None
    p = plan(B, H, dtype, kernel_name)
    if persistent and p is None:
        raise ValueError(f"no persistent launch fits H={H} ({np.dtype(dtype)}) on this device")
    return p


def _launch_cooperative(name, dtype, p, args):
    kernel = _kernel(name, dtype)
    kernel.max_dynamic_shared_size_bytes = p.shared_bytes
    kernel.kernel((p.grid, 1, 1), (p.block, 1, 1), args, shared_mem=p.shared_bytes,
                  enable_cooperative_groups=True)


def _step_grid(B, H):
    return (min(-(-B * H // STEP_BLOCK), 4096), 1, 1), (STEP_BLOCK, 1, 1)


def _lengths_or_full(cp, lengths, T, B):
    return cp.full(B, T, dtype=cp.int64) if lengths is None else lengths


def forward(xw, w_hh, h0, nonlinearity, lengths=None, *, persistent=None):
    """``persistent``: None chooses by plan; True/False forces a path (tests, benchmarks)."""
    cp = import_cupy()
    xw, w_hh, h0, lengths = check_forward(xw, w_hh, h0, nonlinearity, lengths, cp)
    T, B, H = xw.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    hs = cp.empty_like(xw)
    p = _choose(B, H, xw.dtype, "rnn_forward_persistent", persistent)
    if p is not None:
        state = cp.empty((2, B, H), dtype=xw.dtype)
        barrier = cp.zeros(2, dtype=cp.uint32)
        _launch_cooperative("rnn_forward_persistent", xw.dtype, p,
                            (xw, w_hh, h0, lengths, np.int32(T), np.int32(B), np.int32(H), relu,
                             np.int32(p.rows), hs, state, barrier))
        return hs
    step = _kernel("rnn_step_forward", xw.dtype)
    grid, block = _step_grid(B, H)
    w_t = cp.ascontiguousarray(w_hh.T)
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
    g_hs, hs, h0, w_hh, truncate, lengths, g_hn = check_backward(
        g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn, cp)
    T, B, H = hs.shape
    lengths = _lengths_or_full(cp, lengths, T, B)
    relu = np.int32(nonlinearity == "relu")
    cut = np.int32(0 if truncate is None else truncate)
    d_xw = cp.empty_like(hs)
    d_h0 = cp.empty_like(h0)
    p = _choose(B, H, hs.dtype, "rnn_backward_persistent", persistent)
    if p is not None:
        dbuf = cp.empty((2, B, H), dtype=hs.dtype)
        barrier = cp.zeros(2, dtype=cp.uint32)
        _launch_cooperative("rnn_backward_persistent", hs.dtype, p,
                            (g_hs, hs, cp.ascontiguousarray(w_hh.T), lengths, g_hn, np.int32(T),
                             np.int32(B), np.int32(H), relu, cut, np.int32(p.rows), d_xw, d_h0,
                             dbuf, barrier))
        return d_xw, d_h0
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

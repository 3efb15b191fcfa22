"""Array modules (NumPy or CuPy) and the choice of time-loop kernel.

One code path serves both devices: every op asks ``get_array_module(array)`` for
``xp`` and calls ``xp.tanh``, ``xp.matmul`` ... CuPy is imported only when a CuPy
array or the "cuda" device is actually used.
"""
from __future__ import annotations

import functools
import importlib
import threading

import numpy as np

from . import jit

KERNEL_NAMES = ("numpy", "numba", "cuda")


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        if type(a) is np.ndarray:  # the common case, without a string test: ops call this
            continue
        if type(a).__module__.startswith("cupy"):
            import cupy
            return cupy
    return np


def is_cuda_array(a) -> bool:
    return type(a).__module__.startswith("cupy")


def import_cupy():
    """Import CuPy with a clear message when it (or a device) is missing."""
    try:
        import cupy
    except ImportError as e:
        raise RuntimeError(
            "the 'cuda' device needs CuPy: pip install 'tinyrnn[gpu]' (cupy-cuda13x)") from e
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # the CUDA driver is missing or broken
        raise RuntimeError(f"CuPy is installed but no CUDA device is usable: {e}") from e
    if n < 1:
        raise RuntimeError("CuPy is installed but no CUDA device was found")
    return cupy


def to_device(array, device: str):
    """Copy ``array`` to ``device`` ("cpu" or "cuda"); a no-op when already there."""
    if device == "cpu":
        return array.get() if is_cuda_array(array) else array
    if device == "cuda":
        return array if is_cuda_array(array) else import_cupy().asarray(array)
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


# --------------------------------------------------------------------------- kernels

class _KernelChoice(threading.local):
    kernel = "auto"  # per thread; the class attribute is every new thread's default


_state = _KernelChoice()


def _current() -> str:
    return _state.kernel


@functools.lru_cache(maxsize=None)
def _kernel_module(cell: str, backend: str):
    from tinyrnn.kernels.cells import kernel_module
    return kernel_module(cell, backend)


@functools.lru_cache(maxsize=1)
def _numba_importable() -> bool:
    """Checked once: "auto" asks on every RNN call, and a failed import is slow to repeat."""
    try:
        importlib.import_module("numba")
        return True
    except ImportError:
        return False


def _cuda_usable() -> bool:
    try:
        import_cupy()
        return True
    except RuntimeError:
        return False


def available_kernels() -> list[str]:
    """The time-loop kernels usable on this machine, a subset of ["numpy", "numba", "cuda"]."""
    names = ["numpy"]
    if _numba_importable():
        names.append("numba")
    if _cuda_usable():
        names.append("cuda")
    return names


class use_kernel:
    """Select the time-loop kernel: ``"auto"`` (default), ``"numpy"``, ``"numba"`` or ``"cuda"``.

    Works as a plain setter, ``tr.use_kernel("numba")``, and as a context manager that
    restores the previous choice on exit::

        with tr.use_kernel("numpy"):
            out, h_n = rnn(x)
    """

    def __init__(self, name: str):
        if name != "auto" and name not in KERNEL_NAMES:
            raise ValueError(
                f"kernel must be one of 'auto', {', '.join(map(repr, KERNEL_NAMES))}; got {name!r}")
        if name == "numba" and not _numba_importable():
            raise RuntimeError("the 'numba' kernel needs Numba: pip install numba")
        if name == "cuda":
            import_cupy()
        self.name = name
        self._previous = _current()
        _state.kernel = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.kernel = self._previous
        return False


def current_kernel() -> str:
    """The name set by ``use_kernel`` ("auto" unless changed)."""
    return _current()


def resolve_kernel(cell: str, on_gpu: bool):
    """The kernel module to run ``cell`` ("rnn", "gru", "lstm") on arrays on the GPU
    (``on_gpu``) or the CPU."""
    name = _current()
    module = _resolved.get((cell, name, on_gpu))
    if module is None:  # once per combination: this sits on every layer call
        module, final = _resolve(cell, name, on_gpu)
        if final:
            _resolved[cell, name, on_gpu] = module
    return module


_resolved: dict = {}


def _resolve(cell, name, on_gpu):
    from tinyrnn.kernels.cells import has_kernel
    if name == "auto":
        name = "cuda" if on_gpu else ("numba" if _numba_importable() else "numpy")
        if name == "numba" and not jit.ready(cell):
            # The first run compiles the Numba kernel in the background (tinyrnn/jit.py);
            # till it is in the cache the NumPy reference runs, and we ask again next call.
            return _kernel_module(cell, "numpy"), False
    elif name == "numba" and on_gpu or name == "cuda" and not on_gpu:
        device = "cuda" if on_gpu else "cpu"
        raise ValueError(f"kernel {name!r} cannot run on {device} arrays; move the data "
                         f"with .to(...) or choose another kernel")
    if not has_kernel(cell, name):
        # The NumPy reference is array-module agnostic and runs on both devices.
        name = "numpy"
    return _kernel_module(cell, name), True

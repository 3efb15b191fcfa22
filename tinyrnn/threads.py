"""Keep BLAS worker threads out of the way of compiled time loops.

After a multi-threaded GEMM, OpenBLAS's workers busy-wait for more work. On a small
machine they then compete with a Numba loop that follows: measured here (2 cores), a
0.37 ms loop took 8 ms right after a two-thread GEMM. Kernels whose time loop does its own
arithmetic therefore run the surrounding GEMMs on one BLAS thread, and ``matmul_side_by_side``
splits the large ones over helper threads of its own, which sleep when idle.
"""
from __future__ import annotations

import functools
import os

import numpy as np


@functools.lru_cache(maxsize=1)
def _blas_switches():
    """One ``(get, set)`` pair of functions per BLAS library loaded in this process.

    ``blas_threads`` sits on the path of every recurrent layer call, where threadpoolctl's
    methods cost microseconds each (symbol lookups in Python, four calls per switch). For
    OpenBLAS on its own pthreads pool, its two C functions are called directly; any other
    library goes through threadpoolctl.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(_openblas_functions(c) or (c.get_num_threads, c.set_num_threads)
                 for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


def _openblas_functions(controller):
    """OpenBLAS's ``openblas_get/set_num_threads`` as ctypes functions, or None (another
    library, an OpenMP build, or symbols under names not known here)."""
    if controller.internal_api != "openblas" or \
            getattr(controller, "threading_layer", None) != "pthreads":
        return None
    import ctypes
    dynlib = getattr(controller, "dynlib", None)
    for prefix in ("", "scipy_"):  # the affixes of OpenBLAS builds (NumPy's: scipy_, 64_)
        for suffix in ("", "64_", "_64"):
            get = getattr(dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return get, set_
    return None


class blas_threads:
    """``with blas_threads(n):`` runs the block with ``n`` BLAS threads (None: leave as is).

    A class rather than a generator-based context manager: it sits on the path of every
    recurrent layer call, and touches a library only when its thread count must change.
    """

    __slots__ = ("n", "_changed")

    def __init__(self, n: int | None):
        self.n = n
        self._changed = ()

    def __enter__(self):
        if self.n is not None:
            changed = []
            for get, set_ in _blas_switches():
                k = get()
                if k != self.n:
                    set_(self.n)
                    changed.append((set_, k))
            self._changed = changed
        return self

    def __exit__(self, *exc):
        for set_, k in self._changed:
            set_(k)
        self._changed = ()
        return False


# Below this many multiply-adds per part, handing half a product to another thread costs
# more than it saves (a hand-off is tens of microseconds).
SPLIT_MIN_MACS_PER_PART = 1 << 22


@functools.lru_cache(maxsize=1)
def _helpers(pid):
    """(parts, pool) for this process; keyed by pid because a forked child inherits the
    pool object but not its thread, and would wait on it forever."""
    from concurrent.futures import ThreadPoolExecutor
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = max(1, cores or 1)
    return parts, (ThreadPoolExecutor(parts - 1, thread_name_prefix="tinyrnn-gemm")
                   if parts > 1 else None)


def matmul_side_by_side(a, b):
    """``a @ b`` for NumPy arrays, its rows split over one thread per core, each part a
    single-threaded BLAS call (call it inside ``blas_threads(1)``).

    The parallel GEMM for code that must keep BLAS's own pool asleep (see the module
    docstring): the helper threads block on a queue when idle instead of spinning, so a
    Numba loop that follows has the cores to itself. Small products run in one call.
    """
    M, K = a.shape
    N = b.shape[1]
    parts, pool = _helpers(os.getpid())
    parts = min(parts, M, max(1, (M * K * N) // SPLIT_MIN_MACS_PER_PART))
    if parts == 1:
        # dot for K = 1: there NumPy's matmul takes a slow non-BLAS loop over a transposed
        # view (measured: 6x slower); matmul otherwise: dot copies a transposed operand.
        return np.dot(a, b) if K == 1 else a @ b
    # matmul here, not dot: dot copies a transposed slice (measured 2x slower for a.T @ b).
    out = np.empty((M, N), dtype=np.result_type(a, b))
    bounds = [M * i // parts for i in range(parts + 1)]
    futures = [pool.submit(np.matmul, a[lo:hi], b, out=out[lo:hi])
               for lo, hi in zip(bounds[1:-1], bounds[2:])]
    np.matmul(a[:bounds[1]], b, out=out[:bounds[1]])
    for f in futures:
        f.result()
    return out

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
def _blas_controllers():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


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
            for c in _blas_controllers():
                k = c.get_num_threads()
                if k != self.n:
                    c.set_num_threads(self.n)
                    changed.append((c, k))
            self._changed = changed
        return self

    def __exit__(self, *exc):
        for c, k in self._changed:
            c.set_num_threads(k)
        self._changed = ()
        return False


# OpenBLAS runs a GEMM of up to this many multiply-adds on one thread whatever its thread
# count (4 x 65536 in its interface/gemm.c; measured here: 32x256x32 takes 9.0 us with one
# thread or two, 32x1000x32 31 us with one and 26 with two): around products no larger,
# holding its count at one would only cost the switches (microseconds each).
BLAS_ONE_THREAD_MAX_MACS = 4 * 65536

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
    parts = (M * K * N) // SPLIT_MIN_MACS_PER_PART
    if parts > 1:
        cores, pool = _helpers(os.getpid())
        parts = min(parts, cores, M)
    if parts <= 1:
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

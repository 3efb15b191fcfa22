"""Keep BLAS worker threads out of the way of compiled time loops.

After a multi-threaded GEMM, OpenBLAS's workers busy-wait for more work. On a small
machine they then compete with a Numba loop that follows: measured here (2 cores), a
0.37 ms loop took 8 ms right after a two-thread GEMM. Kernels whose time loop does its own
arithmetic therefore run the surrounding GEMMs on one BLAS thread.
"""
from __future__ import annotations

import contextlib
import functools


@functools.lru_cache(maxsize=1)
def _blas_controllers():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Run the block with ``n`` BLAS threads (None: leave as is)."""
    controllers = _blas_controllers() if n is not None else ()
    previous = [c.get_num_threads() for c in controllers]
    for c in controllers:
        c.set_num_threads(n)
    try:
        yield
    finally:
        for c, k in zip(controllers, previous):
            c.set_num_threads(k)

"""Keep BLAS worker threads out of the way of compiled time loops.

After a multi-threaded GEMM, OpenBLAS's workers busy-wait for more work. On a small
machine they then compete with a Numba loop that follows: measured here (2 cores), a
0.37 ms loop took 8 ms right after a two-thread GEMM. Kernels whose time loop does its own
arithmetic therefore run the surrounding GEMMs on one BLAS thread.
"""
from __future__ import annotations

import functools


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

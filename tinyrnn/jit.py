"""Numba compilation, said aloud, and compiled ahead of time on request.

tinyrnn's compiled loops are cached on disk (``cache=True``), so only the first run on a
machine compiles them, but that run can take tens of seconds in all. ``announce()`` makes
the first compilation of a tinyrnn function in a process print one line on stderr, so a
first call that takes seconds does not look hung; loading from the cache is silent.
``warmup()`` (the command ``tinyrnn warmup``) compiles every kernel once, for people who
prefer to pay at install time.
"""
from __future__ import annotations

import sys
import threading
import time

_lock = threading.Lock()
_installed = False
_said = False


def announce() -> None:
    """Install the listener (once per process; a no-op without Numba)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    try:
        from numba.core import event
    except ImportError:
        return

    class _FirstCompile(event.Listener):
        def on_start(self, ev):
            global _said
            func = getattr(ev.data.get("dispatcher"), "py_func", None)
            if _said or not getattr(func, "__module__", "").startswith("tinyrnn"):
                return
            _said = True
            print("tinyrnn: compiling kernels (once; later runs load them from Numba's "
                  "cache; `tinyrnn warmup` compiles all of them ahead of time) ...",
                  file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    event.register("numba:compile", _FirstCompile())


def _warm_recurrent(log):
    import numpy as np

    from tinyrnn.kernels import numba_common
    from tinyrnn.kernels.cells import CELLS, kernel

    rng = np.random.default_rng(0)
    original = numba_common.strategy
    try:
        for name, spec in CELLS.items():
            k = kernel(name, "numba")
            for dtype in (np.float32, np.float64):
                for strategy, B in (("fused", 1), ("fused", 2), ("blas", 2)):
                    numba_common.strategy = lambda B, outputs, s=strategy: s
                    H = 4
                    xw = rng.standard_normal((3, B, spec.gates * H)).astype(dtype)
                    w = rng.standard_normal((spec.gates * H, H)).astype(dtype)
                    s0 = np.zeros((spec.states, B, H), dtype)
                    options = {"b_hn": np.zeros(H, dtype)} if name == "gru" else {}
                    ys, saved = k.forward(xw, w, s0, np.full(B, 3), **options)
                    k.backward(np.ones_like(ys), ys, saved, s0, w, 2, np.full(B, 3), **options)
            log(f"  {name}: float32 and float64, fused and per-step GEMM loops")
    finally:
        numba_common.strategy = original


def _warm_arima(log):
    import numpy as np

    from tinyrnn.arima import ARIMA, fit_many

    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_normal(60))
    res = ARIMA(y, order=(1, 1, 1)).fit()
    res.summary()
    res.extend(y[:3]).forecast(2)  # the filter from a known state
    fit_many(np.cumsum(rng.standard_normal((3, 60)), axis=1), order=(1, 1, 0))
    log("  arima: the likelihood, its score, fits of one and of many series, extensions")


def warmup(log=print) -> float:
    """Compile (or load from the cache) every Numba kernel; the seconds it took."""
    announce()
    t0 = time.perf_counter()
    _warm_recurrent(log)
    _warm_arima(log)
    return time.perf_counter() - t0

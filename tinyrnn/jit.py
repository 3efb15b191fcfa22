"""Numba compilation: said aloud, moved out of the user's way, or done ahead of time.

tinyrnn's compiled loops are cached on disk (``cache=True``), so only the first run on a
machine compiles them; but that compilation takes from a few seconds (one recurrent cell) to
about a minute (the ARIMA filter and its exact score). Three ways to pay it:

* **In the background** (the default, ``TINYRNN_JIT=background``). The first call that needs a
  group of kernels ("rnn", "gru", "lstm", "arima") starts one child process that compiles the
  group into Numba's cache, and the call goes on at once without it: a recurrent layer runs the
  NumPy reference kernel, ARIMA runs its own Numba functions as plain Python (``njit`` below).
  When the child has finished, the next call loads the compiled kernels from the cache. The two
  give the same results to rounding (the NumPy and Numba kernels are tested against each other
  to 1e-10 in float64). Large batches (``fit_many``) wait for the child instead of
  interpreting: ``ready(group, wait=True)``.
* **In the foreground** (``TINYRNN_JIT=foreground``): the first call compiles what it needs and
  ``announce()`` says so once on stderr, so a first call that takes seconds does not look hung.
* **Ahead of time**: ``warmup()``, the command ``tinyrnn warmup``.

Whether a group is already in the cache is known from a marker file that the child writes
next to Numba's cache, named by a digest of what makes Numba's cache valid (the Numba and
Python versions, the CPU, and the size and modification time of the group's source files).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

_lock = threading.RLock()  # ready() holds it while announce() takes it too
_installed = False
_said = False

MODE_VARIABLE = "TINYRNN_JIT"
MODES = ("background", "foreground")

_PACKAGE = Path(__file__).resolve().parent
# The source files whose compiled code each group caches: a change to any of them makes Numba
# recompile, so it must make the marker stale too. (The kernels live in the installed
# subpackage tinyrnn.kernels, which an editable install maps to the top-level kernels/.)
_COMMON = ("numba_common.py", "numba_math.py")
GROUPS = {
    "rnn": ("kernels", ("numba_rnn.py",) + _COMMON),
    "gru": ("kernels", ("numba_gru.py",) + _COMMON),
    "lstm": ("kernels", ("numba_lstm.py",) + _COMMON),
    "arima": ("arima", ("statespace.py", "chandrasekhar.py", "transforms.py", "css.py")),
}

_ready: set = set()
_children: dict = {}
_said_background: set = set()


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


# --------------------------------------------------------------------------- tiers

def mode() -> str:
    """``TINYRNN_JIT``: "background" (default) or "foreground"."""
    value = os.environ.get(MODE_VARIABLE, "background").strip().lower() or "background"
    if value not in MODES:
        raise ValueError(f"{MODE_VARIABLE} must be one of {', '.join(MODES)}; got {value!r}")
    return value


def _source_dir(group):
    folder, _ = GROUPS[group]
    if folder == "arima":
        return _PACKAGE / "arima"
    import tinyrnn.kernels
    return Path(tinyrnn.kernels.__file__).resolve().parent


def cache_dir() -> Path:
    """Where Numba caches tinyrnn's kernels, by Numba's own rule: ``NUMBA_CACHE_DIR`` when set,
    else ``__pycache__`` beside the sources when writable, else a per-user folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if os.access(_PACKAGE, os.W_OK):
        return _PACKAGE / "__pycache__"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinyrnn"


def marker(group: str) -> Path:
    """The file whose existence says that ``group`` is in Numba's cache."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}; got {group!r}")
    import numba
    source = _source_dir(group)
    digest = hashlib.sha1()
    for part in (numba.__version__, sys.version, platform.machine(), platform.processor()):
        digest.update(part.encode())
    for name in GROUPS[group][1]:
        st = (source / name).stat()
        digest.update(f"{name}:{st.st_mtime_ns}:{st.st_size}".encode())
    return cache_dir() / f"tinyrnn-{group}-{digest.hexdigest()[:16]}.compiled"


def ready(group: str, wait: bool = False) -> bool:
    """May ``group``'s compiled kernels be called now without a long compilation here?

    True when they are in Numba's cache, when a child has just compiled them, or in the
    foreground mode (a call then compiles, announced). Otherwise the first call starts the
    child that compiles them and returns False: use the uncompiled path. ``wait=True`` is for
    work too large to run uncompiled: it waits for a running child, or, if none runs, returns
    True so the caller compiles in the foreground.
    """
    if group in _ready:
        return True
    with _lock:
        if group in _ready:
            return True
        child = _children.get(group)
        if child is None:
            if mode() == "foreground" or wait or marker(group).exists():
                _ready.add(group)
                return True
            try:
                _children[group] = child = _start_child(group)
            except OSError:  # no writable cache folder or no process to spare: compile here
                _ready.add(group)
                return True
            _say_background(group)
        if wait:
            child.wait()
        if child.poll() is None:
            return False
        if child.returncode != 0:  # the calls compile here instead (announced)
            print(f"tinyrnn: the background compilation of the {group} kernels failed (exit "
                  f"{child.returncode}; its log: {_log(group)}); compiling them here",
                  file=sys.stderr, flush=True)
        _ready.add(group)
        return True


def _log(group):
    return cache_dir() / f"tinyrnn-{group}-compile.log"


def _start_child(group):
    announce()  # if the child fails, the foreground compilation that follows is announced
    env = dict(os.environ, **{MODE_VARIABLE: "foreground"})
    command = "import sys, tinyrnn.jit as jit; sys.exit(jit.child_main(sys.argv[1:]))"
    log = _log(group)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen([sys.executable, "-c", command, group], env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)


def _say_background(group):
    if group in _said_background:
        return
    _said_background.add(group)
    meanwhile = ("ARIMA runs uncompiled" if group == "arima"
                 else f"the {group.upper()} layers run the NumPy kernel")
    print(f"tinyrnn: compiling the {group} kernels in a background process (once; later runs "
          f"load them from Numba's cache; `tinyrnn warmup` compiles everything ahead of time); "
          f"meanwhile {meanwhile}", file=sys.stderr, flush=True)


def njit(*, group: str, **options):
    """``numba.njit(**options)`` whose calls from Python run the plain Python function while
    ``ready(group)`` is False. Calls between compiled functions are direct, as with njit; calls
    between uncompiled ones pass through here again, so a whole call tree runs uncompiled."""
    import numba
    from numba.core.registry import CPUDispatcher

    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}; got {group!r}")

    def decorate(func):
        dispatcher = numba.njit(**options)(func)
        if type(dispatcher) is CPUDispatcher:  # not a plain function (NUMBA_DISABLE_JIT=1)
            dispatcher.__class__ = _tiered_dispatcher_class()
            dispatcher.group = group
        return dispatcher
    return decorate


@functools.cache
def _tiered_dispatcher_class():
    from numba.core.registry import CPUDispatcher

    class TieredDispatcher(CPUDispatcher):
        """A CPUDispatcher that runs ``py_func`` until its group is compiled (see ``njit``),
        and then becomes a plain CPUDispatcher again: the Python-level check would cost
        microseconds on every later call (ARIMA's optimiser calls its objective thousands
        of times a second)."""

        def __call__(self, *args, **kwargs):
            if self.group in _ready or ready(self.group):
                self.__class__ = CPUDispatcher
                return self(*args, **kwargs)
            return self.py_func(*args, **kwargs)

    return TieredDispatcher


# --------------------------------------------------------------------------- warm-up

def _warm_recurrent(log, cells):
    import numpy as np

    from tinyrnn.kernels import numba_common
    from tinyrnn.kernels.cells import CELLS, kernel

    rng = np.random.default_rng(0)
    original = numba_common.strategy
    try:
        for name in cells:
            spec = CELLS[name]
            k = kernel(name, "numba")
            for dtype in (np.float32, np.float64):
                for strategy, B in (("fused", 1), ("fused", 2), ("blas", 2)):
                    numba_common.strategy = lambda *shape, s=strategy: s
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


def warmup(log=print, groups=None) -> float:
    """Compile (or load from the cache) the Numba kernels of ``groups`` (default: all), mark
    each group compiled (see ``marker``); the seconds it took."""
    groups = list(GROUPS) if groups is None else list(groups)
    for group in groups:
        marker(group)  # checks the name
    _ready.update(groups)  # compile here, now: not in yet another child
    announce()
    t0 = time.perf_counter()
    cells = [g for g in groups if g != "arima"]
    if cells:
        _warm_recurrent(log, cells)
    if "arima" in groups:
        _warm_arima(log)
    for group in groups:
        path = marker(group)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return time.perf_counter() - t0


def child_main(groups):
    """The background child's work (see ``ready``): compile ``groups``, quietly."""
    if hasattr(os, "nice"):
        os.nice(5)  # the parent's uncompiled work comes first
    warmup(log=lambda *_: None, groups=groups)
    return 0

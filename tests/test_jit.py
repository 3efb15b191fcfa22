"""The first run's compilation: in the foreground, announced once on stderr (a cache hit is
silent); in the background (the default), out of the first calls' way."""
import os
import subprocess
import sys

SCRIPT = """
import numpy as np, tinyrnn as tr
tr.manual_seed(0)
rnn = tr.nn.RNN(2, 3).double()
with tr.use_kernel("numba"):
    out, h = rnn(tr.tensor(np.ones((4, 1, 2))))
    out.sum().backward()
print("ok")
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), TINYRNN_JIT="foreground")
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=True)


def test_compilation_is_announced_once_and_a_cache_hit_is_silent(tmp_path):
    cold = _run(tmp_path)
    assert cold.stdout.strip() == "ok"
    assert cold.stderr.count("tinyrnn: compiling kernels") == 1, cold.stderr
    warm = _run(tmp_path)
    assert "compiling" not in warm.stderr, warm.stderr


BACKGROUND = """
import sys, numpy as np, tinyrnn as tr
from tinyrnn import jit
from tinyrnn.arima import ARIMA, load_shampoo
tr.manual_seed(0)
rnn = tr.nn.RNN(2, 3).double()
x = np.random.default_rng(0).standard_normal((6, 2, 2))

def step():
    out, h = rnn(tr.tensor(x))
    return tr.backend.resolve_kernel("rnn", False).__name__.rsplit(".", 1)[-1], out.data

def fit():
    return ARIMA(load_shampoo(), order=(2, 1, 0)).fit().llf

kernel1, out1 = step()
llf1 = fit()
print(kernel1, jit.marker("arima").exists(), flush=True)
jit.ready("rnn", wait=True), jit.ready("arima", wait=True)  # the children finish
kernel2, out2 = step()
llf2 = fit()
print(kernel2, jit.marker("rnn").exists(), jit.marker("arima").exists())
print(float(np.max(np.abs(out1 - out2))), abs(llf1 - llf2) / abs(llf2))
"""


def test_the_first_run_compiles_in_a_background_process_and_runs_uncompiled_meanwhile(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), TINYRNN_JIT="background")
    cold = subprocess.run([sys.executable, "-c", BACKGROUND], env=env, capture_output=True,
                          text=True, check=True)
    first, second, diffs = cold.stdout.split("\n")[:3]
    # Meanwhile: the NumPy reference kernel and the plain-Python ARIMA filter, no compiling here.
    assert first == "numpy_rnn False", cold.stdout
    assert cold.stderr.count("in a background process") == 2, cold.stderr
    assert "tinyrnn: compiling kernels (once" not in cold.stderr, cold.stderr
    # Afterwards: the Numba kernel from the cache the child wrote, with the same results.
    assert second == "numba_rnn True True", cold.stdout
    out_diff, llf_rel = (float(v) for v in diffs.split())
    assert out_diff < 1e-12 and llf_rel < 1e-10, diffs
    # A later process finds the cache: compiled from its first call, nothing compiled or said.
    warm = subprocess.run([sys.executable, "-c", BACKGROUND], env=env, capture_output=True,
                          text=True, check=True)
    assert warm.stdout.split("\n")[0] == "numba_rnn True", warm.stdout
    assert "compiling" not in warm.stderr, warm.stderr


def test_foreground_mode_and_a_bad_mode(tmp_path):
    script = "import tinyrnn.jit as j; print(j.ready('arima'), j.ready('rnn'))"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), TINYRNN_JIT="foreground")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["True", "True"] and not list(tmp_path.iterdir())
    env["TINYRNN_JIT"] = "later"
    bad = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "TINYRNN_JIT must be one of" in bad.stderr


def test_a_failed_background_compilation_is_said_and_the_calls_compile_here(tmp_path):
    script = """
import subprocess, sys, tinyrnn.jit as jit
jit._start_child = lambda group: subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
print(jit.ready("rnn"), jit.ready("rnn", wait=True), jit.ready("rnn"))
"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), TINYRNN_JIT="background")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stdout
    assert "background compilation of the rnn kernels failed (exit 3" in done.stderr


def test_without_a_process_to_start_the_calls_compile_here(tmp_path):
    script = """
import tinyrnn.jit as jit
def refuse(group):
    raise PermissionError("read-only cache")
jit._start_child = refuse
print(jit.ready("lstm"))
"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), TINYRNN_JIT="background")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["True"] and "background" not in done.stderr

"""The first compilation in a process is announced once on stderr; a cache hit is silent."""
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
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=True)


def test_compilation_is_announced_once_and_a_cache_hit_is_silent(tmp_path):
    cold = _run(tmp_path)
    assert cold.stdout.strip() == "ok"
    assert cold.stderr.count("tinyrnn: compiling kernels") == 1, cold.stderr
    warm = _run(tmp_path)
    assert "compiling" not in warm.stderr, warm.stderr

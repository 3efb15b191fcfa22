#!/usr/bin/env python3
"""Cold compile time of the Numba kernel, and the first call in a new process once cached.

Each measurement runs in a fresh interpreter with its own NUMBA_CACHE_DIR, so nothing is
shared with the caller's cache:

    python benchmarks/numba_startup.py
"""
import datetime as dt
import os
import subprocess
import sys
import tempfile

from tinyrnn.bench import RESULTS, cpu_model, machine_slug

FIRST_CALL = r"""
import time
t0 = time.perf_counter()
import numpy as np, tinyrnn as tr
t1 = time.perf_counter()
rnn = tr.nn.RNN(8, 32, num_layers=1)
x = tr.tensor(np.zeros((20, {B}, 8), np.float32), requires_grad=True)
with tr.use_kernel("numba"):
    out, _ = rnn(x)
    out.sum().backward()
t2 = time.perf_counter()
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}}")
"""


def run(cache_dir, B):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", FIRST_CALL.format(B=B)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


TRIVIAL = r"""
import time
t0 = time.perf_counter()
import numba, numpy as np
from numba import njit
@njit(cache=True)
def f(a):
    return a.sum()
f(np.ones(3))
print(f"0 {time.perf_counter() - t0:.3f}")
"""


def main():
    date = dt.date.today().isoformat()
    lines = [f"# Numba start-up, {date}", "",
             f"Machine: {cpu_model()}, {os.cpu_count()} cores. A fresh interpreter and an empty "
             "NUMBA_CACHE_DIR per row; 'cached' is the second process on that cache. The first "
             "call is a forward and backward of a 1-layer RNN (T=20, I=8, H=32).", "",
             "| batch | path | import tinyrnn s | cold first call s (compiles) | "
             "cached first call s |", "|---|---|---:|---:|---:|"]
    for B, path in ((1, "serial fused"), (4, "parallel fused")):
        with tempfile.TemporaryDirectory() as cache:
            _, cold = run(cache, B)
            imp, warm = run(cache, B)
        lines.append(f"| {B} | {path} | {imp:.2f} | {cold:.2f} | {warm:.3f} |")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        script = os.path.join(cache, "trivial.py")  # Numba caches functions from files only
        with open(script, "w") as f:
            f.write(TRIVIAL)
        for _ in range(2):  # the second run loads from the cache
            out = subprocess.run([sys.executable, script], env=env, capture_output=True,
                                 text=True, check=True).stdout.split()
    lines += ["", f"For scale: importing Numba and the first call of a trivial cached function "
              f"(`a.sum()`) take {float(out[1]):.3f} s on this machine: Numba's own floor."]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = machine_slug({"cpu": cpu_model(), "cores": os.cpu_count()})
    path = RESULTS / f"numba-startup-{machine}-{date}.md"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

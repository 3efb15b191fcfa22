#!/usr/bin/env python3
"""Cold compile time of the Numba kernel, and the first call in a new process once cached.

Each measurement runs in a fresh interpreter with its own NUMBA_CACHE_DIR, so nothing is
shared with the caller's cache:

    python benchmarks/numba_startup.py
"""
import os
import subprocess
import sys
import tempfile

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


def main():
    print("| batch | path | import s | cold first call s (compile) | cached first call s |")
    print("|---|---|---:|---:|---:|")
    for B, path in ((1, "serial fused"), (4, "parallel fused")):
        with tempfile.TemporaryDirectory() as cache:
            imp, cold = run(cache, B)
            imp2, warm = run(cache, B)
        print(f"| {B} | {path} | {imp2:.2f} | {cold:.2f} | {warm:.3f} |")


if __name__ == "__main__":
    main()

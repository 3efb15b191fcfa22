#!/usr/bin/env python3
"""The first call in a new process: with an empty Numba cache (a fresh install) and with a warm
one (every later run), for the first recurrent-layer forward+backward of each cell and the
first ARIMA fit, summary and walk-forward.

With an empty cache, each case runs twice: as a user gets it (TINYRNN_JIT=background, the
default: the kernels compile in a child process while the call runs uncompiled; we also time
how long the child takes to put them in the cache) and with TINYRNN_JIT=foreground (the call
compiles what it needs itself). The warm run follows the background child's cache.

Each case runs in a fresh interpreter with its own NUMBA_CACHE_DIR, so nothing is shared with
the caller's cache or with another case:

    python benchmarks/cold_start.py          # writes benchmarks/results/cold-start-<machine>-<date>.md/.json
"""
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

from tinyrnn.bench import RESULTS, cpu_model, machine_slug

PRELUDE = """
import time
t0 = time.perf_counter()
import numpy as np, tinyrnn as tr
t1 = time.perf_counter()
"""
LAYER = """
layer = tr.nn.{cls}(8, 32)
x = tr.tensor(np.random.default_rng(0).standard_normal((50, 4, 8)).astype(np.float32),
              requires_grad=True)
out, _ = layer(x)
out.sum().backward()
"""
CASES = {  # case: (its kernel group, code)
    "RNN forward+backward": ("rnn", LAYER.format(cls="RNN")),
    "GRU forward+backward": ("gru", LAYER.format(cls="GRU")),
    "LSTM forward+backward": ("lstm", LAYER.format(cls="LSTM")),
    "ARIMA(5,1,0) fit": ("arima", """
from tinyrnn.arima import ARIMA, load_shampoo
ARIMA(load_shampoo(), order=(5, 1, 0)).fit()
"""),
    "ARIMA fit + summary()": ("arima", """
from tinyrnn.arima import ARIMA, load_shampoo
ARIMA(load_shampoo(), order=(5, 1, 0)).fit().summary()
"""),
    "walk_forward (5,1,0)": ("arima", """
from tinyrnn.arima import walk_forward, load_shampoo
walk_forward(load_shampoo(), order=(5, 1, 0))
"""),
}
EPILOGUE = """
t2 = time.perf_counter()
from tinyrnn.jit import marker
print(f"{{t1 - t0:.3f}} {{t2 - t1:.3f}} {{marker({group!r})}}")
"""


def run(group, code, cache_dir, mode="background"):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, TINYRNN_JIT=mode)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PRELUDE + code + EPILOGUE.format(group=group)],
                          env=env, capture_output=True, text=True, check=True)
    imported, call, marker = done.stdout.split()[-3:]
    row = {"import_s": float(imported), "call_s": float(call),
           "announced": "tinyrnn: compiling" in done.stderr}
    if mode == "background" and row["announced"]:  # wait for the child to fill the cache
        while not os.path.exists(marker):
            time.sleep(0.2)
        row["cached_after_s"] = time.perf_counter() - start
    return row


def main():
    rows = []
    for name, (group, code) in CASES.items():
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = run(group, code, cache), run(group, code, cache)
        with tempfile.TemporaryDirectory() as cache:
            foreground = run(group, code, cache, mode="foreground")
        rows.append({"case": name, "cold": cold, "cold_foreground": foreground, "warm": warm})
        print(f"{name:24} cold: import {cold['import_s']:.2f} s + call {cold['call_s']:.2f} s "
              f"(cached after {cold.get('cached_after_s', 0):.1f} s; foreground call "
              f"{foreground['call_s']:.2f} s); warm: import {warm['import_s']:.2f} s + call "
              f"{warm['call_s']:.2f} s", flush=True)
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None}
    date = dt.date.today().isoformat()
    stem = RESULTS / f"cold-start-{machine_slug(info)}-{date}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "date": date,
                                                     "rows": rows}, indent=1))
    lines = [f"# First call in a new process, {date}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores. Cold: an empty Numba cache "
             "(a fresh install), as a user gets it (the kernels compile in a background "
             "process meanwhile; 'in the cache after' is when that process had finished, "
             "counted from the start of the cold run) and with TINYRNN_JIT=foreground (the "
             "call compiles them itself); warm: the cache the cold run left. Seconds.", "",
             "| case | cold import | cold first call | said on stderr | in the cache after | "
             "cold first call, foreground | warm import | warm first call |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        c, f, w = r["cold"], r["cold_foreground"], r["warm"]
        lines.append(f"| {r['case']} | {c['import_s']:.2f} | {c['call_s']:.2f} | "
                     f"{'yes' if c['announced'] else 'no'} | "
                     f"{c.get('cached_after_s', float('nan')):.1f} | {f['call_s']:.2f} | "
                     f"{w['import_s']:.2f} | {w['call_s']:.2f} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.md, .json")


if __name__ == "__main__":
    sys.exit(main())

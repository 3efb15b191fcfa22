#!/usr/bin/env python3
"""The first call in a new process: with an empty Numba cache (a fresh install) and with a warm
one (every later run), for the first recurrent-layer forward+backward of each cell and the
first ARIMA fit, summary and walk-forward.

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
CASES = {
    "RNN forward+backward": LAYER.format(cls="RNN"),
    "GRU forward+backward": LAYER.format(cls="GRU"),
    "LSTM forward+backward": LAYER.format(cls="LSTM"),
    "ARIMA(5,1,0) fit": """
from tinyrnn.arima import ARIMA, load_shampoo
ARIMA(load_shampoo(), order=(5, 1, 0)).fit()
""",
    "ARIMA fit + summary()": """
from tinyrnn.arima import ARIMA, load_shampoo
ARIMA(load_shampoo(), order=(5, 1, 0)).fit().summary()
""",
    "walk_forward (5,1,0)": """
from tinyrnn.arima import walk_forward, load_shampoo
walk_forward(load_shampoo(), order=(5, 1, 0))
""",
}
EPILOGUE = """
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def run(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-c", PRELUDE + code + EPILOGUE], env=env,
                          capture_output=True, text=True, check=True)
    imported, call = (float(v) for v in done.stdout.split()[-2:])
    return {"import_s": imported, "call_s": call,
            "announced": "tinyrnn: compiling kernels" in done.stderr}


def main():
    rows = []
    for name, code in CASES.items():
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = run(code, cache), run(code, cache)
        rows.append({"case": name, "cold": cold, "warm": warm})
        print(f"{name:24} cold: import {cold['import_s']:.2f} s + call {cold['call_s']:.2f} s; "
              f"warm: import {warm['import_s']:.2f} s + call {warm['call_s']:.2f} s", flush=True)
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None}
    date = dt.date.today().isoformat()
    stem = RESULTS / f"cold-start-{machine_slug(info)}-{date}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "date": date,
                                                     "rows": rows}, indent=1))
    lines = [f"# First call in a new process, {date}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores. Cold: an empty Numba cache "
             "(a fresh install); warm: the cache the cold run left. Seconds.", "",
             "| case | cold import | cold first call | compile announced | warm import | "
             "warm first call |", "|---|---:|---:|---|---:|---:|"]
    for r in rows:
        c, w = r["cold"], r["warm"]
        lines.append(f"| {r['case']} | {c['import_s']:.2f} | {c['call_s']:.2f} | "
                     f"{'yes' if c['announced'] else 'no'} | {w['import_s']:.2f} | "
                     f"{w['call_s']:.2f} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {stem}.md, .json")


if __name__ == "__main__":
    sys.exit(main())

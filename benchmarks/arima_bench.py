#!/usr/bin/env python3
"""ARIMA benchmark: tinyrnn against statsmodels (and statsforecast when installed), one run.

Cases: one ARIMA(5,1,0) fit on shampoo, the chapter's walk-forward (13 refits), and a batch
of random walks (default 1000 series of n=100, order (5,1,0)). Prints a table with ratios
and writes ``benchmarks/results/arima-<machine>-<date>.{json,md}``.

    python benchmarks/arima_bench.py [--series 1000] [--quick]
"""
import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from tinyrnn.bench import RESULTS, cpu_model, machine_slug, versions

from tinyrnn.arima import ARIMA, fit_many, load_shampoo, walk_forward


def timed(fn, repeat=1):
    fn()  # warm-up (compilation, caches)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def statsmodels_fit(y, order):
    from statsmodels.tsa.arima.model import ARIMA as SMARIMA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SMARIMA(y, order=order).fit()


def statsmodels_walk_forward(y, order=(5, 1, 0), train_frac=0.66):
    size = int(len(y) * train_frac)
    preds = [statsmodels_fit(y[:t], order).forecast()[0] for t in range(size, len(y))]
    return float(np.mean((y[size:] - np.array(preds)) ** 2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 series instead of 1000")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n_series = 100 if args.quick else args.series
    y = load_shampoo()
    rows = []

    t_ours, ours = timed(lambda: ARIMA(y, order=(5, 1, 0)).fit(), repeat=5)
    t_sm, sm = timed(lambda: statsmodels_fit(y, (5, 1, 0)), repeat=3)
    rows.append({"case": "one fit, shampoo ARIMA(5,1,0)", "tinyrnn_s": t_ours,
                 "statsmodels_s": t_sm, "tinyrnn_llf": ours.llf, "statsmodels_llf": sm.llf})

    t_ours, wf = timed(lambda: walk_forward(y, (5, 1, 0)), repeat=5)
    t_sm, sm_mse = timed(lambda: statsmodels_walk_forward(y), repeat=1)
    rows.append({"case": "walk-forward, shampoo (13 refits)", "tinyrnn_s": t_ours,
                 "statsmodels_s": t_sm, "tinyrnn_mse": wf.mse, "statsmodels_mse": sm_mse})

    rng = np.random.default_rng(0)
    Y = np.cumsum(rng.standard_normal((n_series, 100)), axis=1)
    t_ours, many = timed(lambda: fit_many(Y, (5, 1, 0)), repeat=3)
    t0 = time.perf_counter()
    sm_llf = np.array([statsmodels_fit(s, (5, 1, 0)).llf for s in Y])
    t_sm = time.perf_counter() - t0
    ok = float(np.mean(many.llf >= sm_llf - 1e-3))
    row = {"case": f"{n_series} random walks, n=100, ARIMA(5,1,0)", "tinyrnn_s": t_ours,
           "statsmodels_s": t_sm, "share_llf_ok": ok,
           "worst_llf_gap": float(np.min(many.llf - sm_llf))}
    try:
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import ARIMA as SFARIMA
        df = pd.DataFrame({"unique_id": np.repeat(np.arange(n_series), 100),
                           "ds": np.tile(np.arange(100), n_series), "y": Y.ravel()})
        sf = StatsForecast(models=[SFARIMA(order=(5, 1, 0))], freq=1)
        sf.fit(df[df.unique_id < 2])  # warm-up: statsforecast compiles with Numba too
        t0 = time.perf_counter()
        sf.fit(df)
        row["statsforecast_s"] = time.perf_counter() - t0
    except ImportError:  # an optional peer: pip install statsforecast
        row["statsforecast_s"] = None
    rows.append(row)

    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None, "versions": versions(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    lines = [f"# ARIMA benchmark, {info['date'][:10]}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores. Versions: " +
             ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + ". Times are the "
             "best of several runs after a warm-up, except the two long statsmodels loops (one "
             "run each).", "",
             "| case | tinyrnn s | statsmodels s | speed-up | statsforecast s | check |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        check = (f"llf {r['tinyrnn_llf']:.5f} vs {r['statsmodels_llf']:.5f}" if "tinyrnn_llf" in r
                 else f"MSE {r['tinyrnn_mse']:.3f} vs {r['statsmodels_mse']:.3f}"
                 if "tinyrnn_mse" in r else
                 f"llf >= statsmodels - 1e-3 on {100 * r['share_llf_ok']:.1f}% "
                 f"(worst gap {r['worst_llf_gap']:.2e})")
        sf = r.get("statsforecast_s")
        lines.append(f"| {r['case']} | {r['tinyrnn_s']:.4f} | {r['statsmodels_s']:.4f} | "
                     f"{r['statsmodels_s'] / r['tinyrnn_s']:.1f}x | "
                     f"{'-' if sf is None else f'{sf:.3f}'} | {check} |")
    md = "\n".join(lines) + "\n"
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"arima-{machine_slug(info)}-{info['date'][:10]}"
    (args.out / f"{stem}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    (args.out / f"{stem}.md").write_text(md)
    print(f"wrote {args.out / stem}.json, .md")


if __name__ == "__main__":
    sys.exit(main())

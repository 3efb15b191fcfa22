#!/usr/bin/env python3
"""ARIMA benchmark: tinyrnn against statsmodels (and statsforecast when installed), one run.

Cases: one ARIMA(5,1,0) fit on shampoo, the chapter's walk-forward (13 refits), a batch of
random walks (default 1000 series of n=100, order (5,1,0)), seasonal fits (the airline
model on log AirPassengers; a seasonal AR with a regressor), fit_many's cost per series
at 300, 1000 and 3000 series, 10,000 series in one call with the peak memory (measured in
a fresh process), and fit_many on a local Dask cluster. Prints tables with ratios and
writes ``benchmarks/results/arima-<machine>-<date>.{json,md}``.

    python benchmarks/arima_bench.py [--series 1000] [--quick]
"""
import os

# Time compiled code: compile in this process, never run uncompiled meanwhile (tinyrnn/jit.py).
os.environ.setdefault("TINYRNN_JIT", "foreground")

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from tinyrnn.bench import RESULTS, cpu_model, machine_slug, versions

from tinyrnn.arima import ARIMA, fit_many, load_airpassengers, load_shampoo, walk_forward


def timed(fn, repeat=1):
    fn()  # warm-up (compilation, caches)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def statsmodels_fit(y, order, **kw):
    from statsmodels.tsa.arima.model import ARIMA as SMARIMA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SMARIMA(y, order=order, **kw).fit()


PEAK_SCRIPT = """
import resource, sys, time
import numpy as np
from tinyrnn.arima import fit_many
n_series = int(sys.argv[1])
Y = np.cumsum(np.random.default_rng(0).standard_normal((n_series, 100)), axis=1)
fit_many(Y[:70], (5, 1, 0))  # compiled code loaded
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
res = fit_many(Y, (5, 1, 0))
t = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(t, base / 1024, peak / 1024, int(res.refitted.sum()), int(res.converged.sum()))
"""


def peak_memory_run(n_series):
    """fit_many on n_series random walks in a fresh process: (seconds, RSS before and at
    peak in MiB, refitted, converged)."""
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(n_series)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), int(out[3]), int(out[4])


SEASONAL_CASES = [
    ("airline (0,1,1)x(0,1,1,12), log AirPassengers",
     dict(order=(0, 1, 1), seasonal_order=(0, 1, 1, 12))),
    ("(2,1,1)x(1,1,0,12), log AirPassengers",
     dict(order=(2, 1, 1), seasonal_order=(1, 1, 0, 12))),
    ("(1,0,0)x(1,0,1,12) + exog + const, log AirPassengers",
     dict(order=(1, 0, 0), seasonal_order=(1, 0, 1, 12), exog=True))]


def seasonal_kwargs(kw):
    kw = dict(kw)
    if kw.pop("exog", False):
        kw["exog"] = np.column_stack([np.sin(np.arange(144) / 5.0)])
    return kw


def random_walks(n_series):
    return np.cumsum(np.random.default_rng(0).standard_normal((n_series, 100)), axis=1)


def statsmodels_worker(n_series):
    """statsmodels' side of every comparison, in its own process (so that neither library's
    threads or caches touch the other's timings): a JSON line on stdout."""
    y = load_shampoo()
    out = {}
    out["one_fit_s"], r = timed(lambda: statsmodels_fit(y, (5, 1, 0)), repeat=3)
    out["one_fit_llf"] = r.llf
    out["walk_forward_s"], out["walk_forward_mse"] = timed(lambda: statsmodels_walk_forward(y),
                                                          repeat=1)
    Y = random_walks(n_series)
    t0 = time.perf_counter()
    fits = [statsmodels_fit(s, (5, 1, 0)) for s in Y]
    out["many_s"] = time.perf_counter() - t0
    out["many_llf"] = [f.llf for f in fits]
    out["many_unconverged"] = int(sum(not f.mle_retvals.get("converged", True) for f in fits))
    ap = np.log(load_airpassengers())
    out["seasonal"] = []
    for label, kw in SEASONAL_CASES:
        kw = seasonal_kwargs(kw)
        order = kw.pop("order")
        t, r = timed(lambda: statsmodels_fit(ap, order, **kw), repeat=1)
        out["seasonal"].append({"case": label, "s": t, "llf": r.llf,
                                "converged": bool(r.mle_retvals.get("converged", True))})
    print(json.dumps(out))


def statsmodels_walk_forward(y, order=(5, 1, 0), train_frac=0.66):
    size = int(len(y) * train_frac)
    preds = [statsmodels_fit(y[:t], order).forecast()[0] for t in range(size, len(y))]
    return float(np.mean((y[size:] - np.array(preds)) ** 2))


SWEEP_ORDERS = [(1, 0, 0), (0, 0, 2), (1, 1, 1), (2, 0, 1), (2, 1, 2), (0, 1, 1), (3, 1, 0)]


def sweep(out, slug, date):
    """Fitted llf against statsmodels on 7 real series x 7 orders (none of them tuned
    for): how often tinyrnn holds (llf >= statsmodels' - 1e-3), finds more, and where
    statsmodels itself did not converge; and loglike at statsmodels' estimates."""
    import statsmodels.api as sm
    macro = sm.datasets.macrodata.load_pandas().data
    data = {"log AirPassengers": np.log(load_airpassengers()),
            "nile": sm.datasets.nile.load_pandas().data["volume"].to_numpy(float),
            "sunspots": sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float),
            "infl": macro["infl"].to_numpy(float),
            "log realgdp": np.log(macro["realgdp"].to_numpy(float)),
            "unemp": macro["unemp"].to_numpy(float), "log m1": np.log(macro["m1"].to_numpy(float))}
    lines = [f"# ARIMA against statsmodels on 7 series x 7 orders, {date}", "",
             "| series | order | llf tinyrnn | llf statsmodels | gap | statsmodels converged | "
             "loglike at its params, rel. diff |", "|---|---|---:|---:|---:|---|---:|"]
    held = better = conv = 0
    worst, parity = np.inf, 0.0
    for name, y in data.items():
        for order in SWEEP_ORDERS:
            s = statsmodels_fit(y, order)
            ok = bool(s.mle_retvals.get("converged", True))
            r = ARIMA(y, order=order).fit()
            gap = r.llf - s.llf
            rel = abs(ARIMA(y, order=order).loglike(s.params) - s.llf) / abs(s.llf)
            held += gap >= -1e-3
            better += gap > 1e-3
            conv += ok
            parity = max(parity, rel)
            if ok:
                worst = min(worst, gap)
            lines.append(f"| {name} | {order} | {r.llf:.4f} | {s.llf:.4f} | {gap:+.2e} | "
                         f"{'yes' if ok else 'no'} | {rel:.1e} |")
    n = len(data) * len(SWEEP_ORDERS)
    lines[1:1] = ["", f"Held (llf >= statsmodels - 1e-3) on {held}/{n}; higher by more than "
                  f"1e-3 on {better}; statsmodels converged on {conv}/{n}; worst gap where it "
                  f"converged {worst:+.2e}; loglike at statsmodels' estimates equals its llf to "
                  f"a relative {parity:.1e} at worst."]
    path = out / f"arima-sweep-{slug}-{date}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:3]))
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 series instead of 1000")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--sweep", action="store_true",
                        help="only the 7 series x 7 orders comparison with statsmodels")
    parser.add_argument("--statsmodels-worker", action="store_true",
                        help=argparse.SUPPRESS)  # the statsmodels side, in its own process
    args = parser.parse_args(argv)
    if args.statsmodels_worker:
        return statsmodels_worker(100 if args.quick else args.series)
    if args.sweep:
        info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None}
        args.out.mkdir(parents=True, exist_ok=True)
        return sweep(args.out, machine_slug(info),
                     dt.datetime.now(dt.timezone.utc).date().isoformat())
    n_series = 100 if args.quick else args.series
    worker = [sys.executable, __file__, "--statsmodels-worker", "--series", str(n_series)]
    sm_side = json.loads(subprocess.run(worker + (["--quick"] if args.quick else []),
                                        check=True, capture_output=True,
                                        text=True).stdout.strip().splitlines()[-1])
    y = load_shampoo()
    rows = []

    t_ours, ours = timed(lambda: ARIMA(y, order=(5, 1, 0)).fit(), repeat=5)
    rows.append({"case": "one fit, shampoo ARIMA(5,1,0)", "tinyrnn_s": t_ours,
                 "statsmodels_s": sm_side["one_fit_s"], "tinyrnn_llf": ours.llf,
                 "statsmodels_llf": sm_side["one_fit_llf"]})

    t_ours, wf = timed(lambda: walk_forward(y, (5, 1, 0)), repeat=5)
    rows.append({"case": "walk-forward, shampoo (13 refits)", "tinyrnn_s": t_ours,
                 "statsmodels_s": sm_side["walk_forward_s"], "tinyrnn_mse": wf.mse,
                 "statsmodels_mse": sm_side["walk_forward_mse"]})

    Y = random_walks(n_series)
    t_ours, many = timed(lambda: fit_many(Y, (5, 1, 0)), repeat=3)
    sm_llf = np.array(sm_side["many_llf"])
    ok = float(np.mean(many.llf >= sm_llf - 1e-3))
    row = {"case": f"{n_series} random walks, n=100, ARIMA(5,1,0)", "tinyrnn_s": t_ours,
           "statsmodels_s": sm_side["many_s"], "share_llf_ok": ok,
           "worst_llf_gap": float(np.min(many.llf - sm_llf)),
           "statsmodels_unconverged": sm_side["many_unconverged"]}
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
    except ImportError:  # an optional peer: pip install 'tinyrnn[arima-bench]'
        row["statsforecast_s"] = None
    rows.append(row)

    # Seasonal fits (statsmodels' in its own process, above).
    ap = np.log(load_airpassengers())
    seasonal_rows = []
    for (label, kw), sm_row in zip(SEASONAL_CASES, sm_side["seasonal"]):
        kw = seasonal_kwargs(kw)
        order = kw.pop("order")
        t_ours, r_ours = timed(lambda: ARIMA(ap, order=order, **kw).fit(), repeat=3)
        seasonal_rows.append({"case": label, "tinyrnn_s": t_ours, "statsmodels_s": sm_row["s"],
                              "tinyrnn_llf": r_ours.llf, "statsmodels_llf": sm_row["llf"],
                              "statsmodels_converged": sm_row["converged"]})

    # Cost per series against the number of series (best of two, same process).
    scale_rows = []
    sizes = (300, 1000) if args.quick else (300, 1000, 3000)
    big = np.cumsum(np.random.default_rng(1).standard_normal((max(sizes), 100)), axis=1)
    for n in sizes:
        t, res = timed(lambda: fit_many(big[:n], (5, 1, 0)), repeat=2)
        scale_rows.append({"series": n, "seconds": t, "ms_per_series": 1e3 * t / n,
                           "refitted": int(res.refitted.sum())})
    n_big = 2000 if args.quick else 10000
    t_big, rss0, rss1, refit_big, conv_big = peak_memory_run(n_big)
    scale_rows.append({"series": n_big, "seconds": t_big, "ms_per_series": 1e3 * t_big / n_big,
                       "refitted": refit_big, "converged": conv_big, "rss_before_mib": rss0,
                       "rss_peak_mib": rss1, "fresh_process": True})

    dask_row = None
    try:
        import distributed
        n_d = 1000 if args.quick else 3000
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            fit_many(big[:200], (5, 1, 0), scheduler=client)  # workers compile / load
            t0 = time.perf_counter()
            on_dask = fit_many(big[:n_d], (5, 1, 0), scheduler=client)
            t_d = time.perf_counter() - t0
            local = fit_many(big[:n_d], (5, 1, 0))
        dask_row = {"series": n_d, "workers": 2, "seconds": t_d,
                    "max_llf_diff_vs_local": float(np.max(np.abs(on_dask.llf - local.llf)))}
    except ImportError:
        pass

    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None, "versions": versions(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    lines = [f"# ARIMA benchmark, {info['date'][:10]}", "",
             f"Machine: {info['cpu']}, {info['cores']} cores. Versions: " +
             ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + ". Times are the "
             "best of several runs after a warm-up, except statsmodels' walk-forward, batch "
             "and seasonal fits (one run each); statsmodels runs in its own process.", "",
             "| case | tinyrnn s | statsmodels s | speed-up | statsforecast s | check |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        check = (f"llf {r['tinyrnn_llf']:.5f} vs {r['statsmodels_llf']:.5f}" if "tinyrnn_llf" in r
                 else f"MSE {r['tinyrnn_mse']:.3f} vs {r['statsmodels_mse']:.3f}"
                 if "tinyrnn_mse" in r else
                 f"llf >= statsmodels - 1e-3 on {100 * r['share_llf_ok']:.1f}% "
                 f"(worst gap {r['worst_llf_gap']:.2e}; statsmodels unconverged on "
                 f"{r['statsmodels_unconverged']})")
        sf = r.get("statsforecast_s")
        lines.append(f"| {r['case']} | {r['tinyrnn_s']:.4f} | {r['statsmodels_s']:.4f} | "
                     f"{r['statsmodels_s'] / r['tinyrnn_s']:.1f}x | "
                     f"{'-' if sf is None else f'{sf:.3f}'} | {check} |")
    lines += ["", "Seasonal fits (one fit each):", "",
              "| model | tinyrnn s | statsmodels s | speed-up | llf tinyrnn | llf statsmodels "
              "| statsmodels converged |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in seasonal_rows:
        lines.append(f"| {r['case']} | {r['tinyrnn_s']:.4f} | {r['statsmodels_s']:.4f} | "
                     f"{r['statsmodels_s'] / r['tinyrnn_s']:.1f}x | {r['tinyrnn_llf']:.4f} | "
                     f"{r['statsmodels_llf']:.4f} | "
                     f"{'yes' if r['statsmodels_converged'] else 'no'} |")
    lines += ["", "fit_many, ARIMA(5,1,0) on random walks of n=100: cost per series by batch "
              "size (the last row in a fresh process, with its peak resident memory):", "",
              "| series | seconds | ms per series | refitted alone | peak RSS MiB |",
              "|---:|---:|---:|---:|---:|"]
    for r in scale_rows:
        mem = f"{r['rss_peak_mib']:.0f} (before: {r['rss_before_mib']:.0f})" \
            if "rss_peak_mib" in r else "-"
        lines.append(f"| {r['series']} | {r['seconds']:.3f} | {r['ms_per_series']:.3f} | "
                     f"{r['refitted']} | {mem} |")
    if dask_row:
        lines += ["", f"fit_many with a local Dask cluster ({dask_row['workers']} worker "
                  f"processes, one thread each; {dask_row['series']} series, one chunk per "
                  f"worker): {dask_row['seconds']:.3f} s; largest llf difference from the "
                  f"local run {dask_row['max_llf_diff_vs_local']:.1e}."]
    md = "\n".join(lines) + "\n"
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"arima-{'quick-' if args.quick else ''}{machine_slug(info)}-{info['date'][:10]}"
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"machine": info, "rows": rows, "seasonal": seasonal_rows, "scale": scale_rows,
         "dask": dask_row}, indent=1))
    (args.out / f"{stem}.md").write_text(md)
    print(f"wrote {args.out / stem}.json, .md")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""auto_arima benchmark: tinyrnn against pmdarima and statsforecast, in one run.

Each implementation runs in a process of its own (after warm-up calls on six short
series, d = 0, 1, 2, so that Numba compilation and cache loading are not timed). Cases:

* ``set40``: 40 series of 100-300 points, non-seasonal: 8 real (nile, lynx, sunspots,
  log AirPassengers, wineind, woolyrnq, heartrate, austres) and 32 simulated ARIMA
  series of random orders (d = 0, 1, 2). tinyrnn ``auto_arima`` per series and
  ``auto_arima_many`` on all 40, pmdarima ``auto_arima`` per series, statsforecast
  ``AutoARIMA`` per series (its defaults, except the AIC, as the others).
* ``many200``: 200 simulated series (n = 100): tinyrnn ``auto_arima_many`` against
  statsforecast's ``AutoARIMA`` over the same 200 series (one job).
* ``seasonal``: log AirPassengers (m = 12), wineind (m = 12), austres (m = 4).

Compared: d (and D) chosen, the AIC of the chosen model (tinyrnn's and pmdarima's likelihoods
are both statsmodels' exact state-space one), seconds. Writes
``benchmarks/results/auto-arima-<machine>-<date>.{json,md}``.

    python benchmarks/auto_arima_bench.py [--quick]
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from tinyrnn.bench import RESULTS, cpu_model, machine_slug, versions


# ------------------------------------------------------------------------------ data
def simulate(rng, n, d):
    """An ARIMA(p, d, q) series with random stationary, invertible coefficients."""
    p, q = rng.integers(0, 3), rng.integers(0, 3)
    ar = rng.uniform(-0.5, 0.5, p)
    ma = rng.uniform(-0.5, 0.5, q)
    e = rng.standard_normal(n + 50)
    x = np.zeros(n + 50)
    for t in range(n + 50):
        x[t] = e[t] + sum(ar[i] * x[t - 1 - i] for i in range(p) if t - 1 - i >= 0) + \
            sum(ma[j] * e[t - 1 - j] for j in range(q) if t - 1 - j >= 0)
    x = x[50:] + (rng.uniform(-2, 2) if d == 0 else 0.0)
    for _ in range(d):
        x = np.cumsum(x)
    return x


def set40():
    import pmdarima as pm
    import statsmodels.api as sm
    real = {"nile": sm.datasets.nile.load_pandas().data["volume"].to_numpy(float),
            "lynx": pm.datasets.load_lynx().astype(float),
            "sunspots": sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"]
            .to_numpy(float)[-300:],
            "log_air": np.log(pm.datasets.load_airpassengers()),
            "wineind": pm.datasets.load_wineind().astype(float),
            "woolyrnq": pm.datasets.load_woolyrnq().astype(float),
            "heartrate": pm.datasets.load_heartrate().astype(float),
            "austres": pm.datasets.load_austres().astype(float)}
    rng = np.random.default_rng(2026)
    for i in range(32):
        real[f"sim{i:02d}_d{i % 3}"] = simulate(rng, int(rng.integers(100, 301)), i % 3)
    return real


def many200():
    rng = np.random.default_rng(200)
    return {f"s{i:03d}": simulate(rng, 100, int(i % 2)) for i in range(200)}


def seasonal():
    import pmdarima as pm
    return {"log_air": (np.log(pm.datasets.load_airpassengers()), 12),
            "wineind": (pm.datasets.load_wineind().astype(float), 12),
            "austres": (pm.datasets.load_austres().astype(float), 4)}


# ------------------------------------------------------------------------------ workers
def warm_up_series():
    """Short series, two each of d = 0, 1 and 2, one with an MA term: every implementation
    runs on them untimed first (tinyrnn's kernels for each differencing order, alone and
    batched, are compiled or loaded from Numba's cache then)."""
    e = np.random.default_rng(0).standard_normal((2, 101))
    ma = e[:, 1:] + 0.6 * e[:, :-1]
    return [ma[0] + 5.0, e[1, 1:] + 5.0, np.cumsum(ma[0]), np.cumsum(e[1]),
            np.cumsum(np.cumsum(ma[0])), np.cumsum(np.cumsum(e[1]))]


def work_tinyrnn(quick):
    from tinyrnn.arima import auto_arima, auto_arima_many
    for y in warm_up_series():
        auto_arima(y)
    auto_arima_many(warm_up_series())
    out = {"set40": {}, "seasonal": {}}
    data = set40()
    for name, y in data.items():
        t0 = time.perf_counter()
        r = auto_arima(y)
        out["set40"][name] = dict(s=time.perf_counter() - t0, order=list(r.order),
                                  trend=r.trend, aic=r.aic, fits=r.auto.n_fits)
    t0 = time.perf_counter()
    rs = auto_arima_many(list(data.values()))
    out["set40_many_s"] = time.perf_counter() - t0
    out["set40_many"] = {n: dict(order=list(r.order), aic=r.aic) for n, r in zip(data, rs)}
    Y = np.array(list(many200().values()))
    t0 = time.perf_counter()
    rs = auto_arima_many(Y[:40] if quick else Y)
    out["many200_s"] = time.perf_counter() - t0
    out["many200"] = [dict(order=list(r.order), aic=r.aic) for r in rs]
    for name, (y, m) in seasonal().items():
        t0 = time.perf_counter()
        r = auto_arima(y, seasonal=True, m=m)
        out["seasonal"][name] = dict(s=time.perf_counter() - t0, order=list(r.order),
                                     seasonal_order=list(r.seasonal_order), trend=r.trend,
                                     aic=r.aic, fits=r.auto.n_fits)
    return out


def work_pmdarima(quick):
    import pmdarima as pm
    warnings.simplefilter("ignore")
    kw = dict(suppress_warnings=True, error_action="ignore")
    for y in warm_up_series():
        pm.auto_arima(y, seasonal=False, **kw)
    out = {"set40": {}, "seasonal": {}}
    for name, y in set40().items():
        t0 = time.perf_counter()
        r = pm.auto_arima(y, seasonal=False, **kw)
        out["set40"][name] = dict(s=time.perf_counter() - t0, order=list(r.order),
                                  intercept=bool(r.with_intercept), aic=float(r.aic()))
    for name, (y, m) in seasonal().items():
        if quick and m == 12:
            continue
        t0 = time.perf_counter()
        r = pm.auto_arima(y, seasonal=True, m=m, **kw)
        out["seasonal"][name] = dict(s=time.perf_counter() - t0, order=list(r.order),
                                     seasonal_order=list(r.seasonal_order),
                                     intercept=bool(r.with_intercept), aic=float(r.aic()))
    return out


def work_statsforecast(quick):
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA

    def frame(series):
        return pd.concat([pd.DataFrame({"unique_id": i, "ds": np.arange(len(y)), "y": y})
                          for i, y in enumerate(series)])

    def run(series, m=1):
        sf = StatsForecast(models=[AutoARIMA(season_length=m, ic="aic")], freq=1, n_jobs=1)
        return sf.fit(frame(series))

    run(warm_up_series())  # warm-up (Numba)
    out = {"set40": {}, "seasonal": {}}
    for name, y in set40().items():
        t0 = time.perf_counter()
        run([y])
        out["set40"][name] = dict(s=time.perf_counter() - t0)
    Y = list(many200().values())
    t0 = time.perf_counter()
    run(Y[:40] if quick else Y)
    out["many200_s"] = time.perf_counter() - t0
    for name, (y, m) in seasonal().items():
        t0 = time.perf_counter()
        run([y], m)
        out["seasonal"][name] = dict(s=time.perf_counter() - t0)
    return out


WORKERS = {"tinyrnn": work_tinyrnn, "pmdarima": work_pmdarima,
           "statsforecast": work_statsforecast}


def in_process(name, quick):
    """Run one implementation's worker in a fresh process; its figures (None if missing)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    cmd = [sys.executable, __file__, "--worker", name, "--to", path] + (["--quick"] if quick
                                                                         else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(Path(path).read_text())


# ------------------------------------------------------------------------------ report
def report(res, info):
    tr, pm, sf = res["tinyrnn"], res["pmdarima"], res.get("statsforecast")
    from tinyrnn.arima import ndiffs
    lines = [f"# auto_arima: tinyrnn against pmdarima and statsforecast ({info['date']})", "",
             f"Machine: {info['cpu']}, {info['cores']} cores (shared). Versions: " +
             ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + ". Each "
             "implementation in its own process, after warm-up calls; one run, so the "
             "ratios are what to read (timings +-30% between runs).", ""]
    names = list(tr["set40"])
    same_d, aic_ok, diffs = 0, 0, []
    for n in names:
        a, b = tr["set40"][n], pm["set40"][n]
        if a["order"][1] == b["order"][1]:
            same_d += 1
            if a["aic"] <= b["aic"] + 1:
                aic_ok += 1
        if a["order"] != b["order"] or (a["trend"] != "n") != b["intercept"]:
            diffs.append(n)
    t_tr = sum(tr["set40"][n]["s"] for n in names)
    t_pm = sum(pm["set40"][n]["s"] for n in names)
    t_sf = sum(sf["set40"][n]["s"] for n in names) if sf else None
    lines += ["## 40 non-seasonal series (8 real, 32 simulated; n = 89-300)", "",
              "| | tinyrnn auto_arima | tinyrnn auto_arima_many | pmdarima | statsforecast |",
              "|---|---|---|---|---|",
              f"| seconds, all 40 | {t_tr:.2f} | {tr['set40_many_s']:.2f} | {t_pm:.2f} | "
              f"{t_sf:.2f} |" if sf else f"| seconds | {t_tr:.2f} | "
              f"{tr['set40_many_s']:.2f} | {t_pm:.2f} | - |",
              f"| ms per series | {1e3 * t_tr / 40:.0f} | {1e3 * tr['set40_many_s'] / 40:.0f}"
              f" | {1e3 * t_pm / 40:.0f} | " + (f"{1e3 * t_sf / 40:.0f} |" if sf else "- |"),
              f"| pmdarima / tinyrnn | {t_pm / t_tr:.1f}x | {t_pm / tr['set40_many_s']:.1f}x"
              " | 1 | " + (f"{t_pm / t_sf:.1f}x |" if sf else "- |"), "",
              f"Same d as pmdarima: **{same_d}/40**. Where d agrees, tinyrnn's AIC <= "
              f"pmdarima's + 1: **{aic_ok}/{same_d}**.", "",
              "Series where the selected model differs from pmdarima's:", "",
              "| series | n | tinyrnn | AIC | pmdarima | AIC | AIC difference |",
              "|---|---|---|---|---|---|---|"]
    data = set40()
    for n in diffs:
        a, b = tr["set40"][n], pm["set40"][n]
        lines.append(f"| {n} | {len(data[n])} | {tuple(a['order'])} trend={a['trend']} | "
                     f"{a['aic']:.3f} | {tuple(b['order'])}"
                     f"{' intercept' if b['intercept'] else ''} | {b['aic']:.3f} | "
                     f"{a['aic'] - b['aic']:+.3f} |")
    many_same = sum(tr["set40_many"][n]["order"] == tr["set40"][n]["order"] for n in names)
    lines += ["", f"auto_arima_many chose the same orders as auto_arima on {many_same}/40 "
              "(the searches advance together: each step's candidates of one specification "
              "are stepped together, each by its own L-BFGS-B run).", ""]
    if sf:
        lines += ["## 200 series (n = 100), one call", "",
                  "| tinyrnn auto_arima_many s | statsforecast AutoARIMA s | speed-up |",
                  "|---|---|---|",
                  f"| {tr['many200_s']:.2f} | {sf['many200_s']:.2f} | "
                  f"{sf['many200_s'] / tr['many200_s']:.1f}x |", ""]
    lines += ["## Seasonal", "",
              "| series | m | tinyrnn model | AIC | s | pmdarima model | AIC | s | speed-up "
              "| statsforecast s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for n, a in tr["seasonal"].items():
        b = pm["seasonal"].get(n)
        m = a["seasonal_order"][3] or "-"
        mod = f"{tuple(a['order'])}{tuple(a['seasonal_order'])} {a['trend']}"
        if b:
            pmod = f"{tuple(b['order'])}{tuple(b['seasonal_order'])}" + \
                (" intercept" if b["intercept"] else "")
            lines.append(f"| {n} | {m} | {mod} | {a['aic']:.3f} | {a['s']:.2f} | {pmod} | "
                         f"{b['aic']:.3f} | {b['s']:.2f} | {b['s'] / a['s']:.1f}x | " +
                         (f"{sf['seasonal'][n]['s']:.2f} |" if sf else "- |"))
    return "\n".join(lines) + "\n", dict(same_d=same_d, aic_ok=aic_ok, differs=diffs,
                                         kpss_d_tinyrnn=[ndiffs(data[n]) for n in names])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer series (a smoke run)")
    ap.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--to", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--report", help="rewrite the table of a results JSON (no new run)")
    args = ap.parse_args(argv)
    if args.worker:
        Path(args.to).write_text(json.dumps(WORKERS[args.worker](args.quick)))
        return
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        Path(args.report).with_suffix(".md").write_text(report(saved["results"],
                                                               saved["info"])[0])
        return
    res = {}
    for name in WORKERS:
        print(f"running {name} ...", flush=True)
        res[name] = in_process(name, args.quick)
    if res["tinyrnn"] is None or res["pmdarima"] is None:
        raise SystemExit("tinyrnn and pmdarima must both run (pip install 'tinyrnn[arima-bench]')")
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None, "versions": versions(),
            "date": dt.date.today().isoformat()}
    for peer in ("pmdarima", "statsforecast"):
        try:
            info["versions"][peer] = __import__(peer).__version__
        except ImportError:
            pass
    text, summary = report(res, info)
    print(text)
    if not args.quick:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"auto-arima-{machine_slug(info)}-{info['date']}"
        (out / f"{stem}.md").write_text(text)
        (out / f"{stem}.json").write_text(json.dumps(dict(info=info, results=res,
                                                          summary=summary), indent=1))
        print(f"wrote {out / stem}.{{md,json}}")


if __name__ == "__main__":
    main()

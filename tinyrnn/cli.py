"""The ``tinyrnn`` command (also ``python -m tinyrnn``).

    tinyrnn sentiment [--data DIR_OR_CSV] [--model rnn|cell] [--epochs N] [--layers L]
                      [--hidden H] [--json OUT]
    tinyrnn arima CSV [--column C] --order P D Q [--walk-forward] [--steps N] [--plot PNG]
                      [--json OUT]
    tinyrnn forecast [--series NAME ... | --csv FILE --column C --order P D Q] [--plot PNG]
    tinyrnn gradcheck
    tinyrnn bench [--quick] [--suite cpu|gpu|all]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np


def _write_json(path, figures):
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
        print(f"wrote {path}")


def _read_column(path, column):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        if column is None and fields:
            column = fields[-1]
        if column not in fields:
            raise SystemExit(f"error: {path} has no column {column!r} (columns: {fields})")
        try:
            return np.array([float(row[column]) for row in reader]), column
        except ValueError as e:
            raise SystemExit(f"error: column {column!r} of {path} is not numeric: {e}")


# --------------------------------------------------------------------------- commands

def cmd_sentiment(args):
    from .workflows.sentiment import SentimentConfig, train_sentiment
    cfg = SentimentConfig(data=args.data, model=args.model, epochs=args.epochs,
                          layers=args.layers, hidden=args.hidden, lr=args.lr, seed=args.seed,
                          batch_size=args.batch_size, checkpoint=args.checkpoint,
                          text_column=args.text_column, label_column=args.label_column)
    figures = train_sentiment(cfg)
    print(f"test_accuracy: {figures['test_accuracy']:.4f}")
    _write_json(args.json, figures)


def cmd_arima(args):
    from .arima import ARIMA, walk_forward
    y, column = _read_column(args.csv, args.column)
    order = tuple(args.order)
    seasonal = tuple(args.seasonal_order) if args.seasonal_order else None
    model_kw = dict(order=order, seasonal_order=seasonal, trend=args.trend)
    if args.walk_forward:
        res = walk_forward(y, train_frac=args.train_frac, **model_kw)
        for t, (p, e) in enumerate(zip(res.predictions, res.expected)):
            print(f"predicted={p:.6f}, expected={e:.6f}")
        print(f"Test MSE: {res.mse:.3f}")
        print(f"Test RMSE: {res.rmse:.3f}")
        if args.plot:
            res.plot(args.plot, title=f"{column}: ARIMA{order} walk-forward")
            print(f"wrote {args.plot}")
        figures = {"mse": res.mse, "rmse": res.rmse, "order": list(order),
                   "train_size": res.train_size, "predictions": res.predictions.tolist(),
                   "expected": res.expected.tolist()}
    else:
        res = ARIMA(y, **model_kw).fit(method=args.method)
        print(res.summary())
        fc = res.get_forecast(args.steps)
        ci = fc.conf_int(0.05)
        print(f"\n{'step':>4} {'forecast':>12} {'lower 95%':>12} {'upper 95%':>12}")
        for h in range(args.steps):
            print(f"{h + 1:>4} {fc.predicted_mean[h]:>12.4f} {ci[h, 0]:>12.4f} {ci[h, 1]:>12.4f}")
        figures = {"params": dict(zip(res.param_names, res.params.tolist())), "llf": res.llf,
                   "aic": res.aic, "bic": res.bic, "forecast": fc.predicted_mean.tolist(),
                   "conf_int": ci.tolist()}
    _write_json(args.json, figures)


def cmd_forecast(args):
    from .workflows.forecast import builtin_series, compare, format_table
    if args.csv:
        if args.order is None:
            raise SystemExit("error: --csv needs --order P D Q")
        y, column = _read_column(args.csv, args.column)
        series = {column: (y, tuple(args.order))}
    else:
        available = builtin_series()
        names = args.series or list(available)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise SystemExit(f"error: unknown series {unknown}; choose from {list(available)}")
        series = {n: available[n] for n in names}
    rows = compare(series, window=args.window, train_frac=args.train_frac, epochs=args.epochs,
                   hidden=args.hidden, seed=args.seed, plot=args.plot)
    print(format_table(rows))
    if args.plot:
        print(f"wrote {args.plot}")
    _write_json(args.json, rows)


def cmd_gradcheck(args):
    from .selfcheck import run_gradchecks
    sys.exit(0 if run_gradchecks(examples=args.examples) else 1)


def cmd_bench(args):
    from .bench import main as bench_main
    argv = ["--suite", args.suite] + (["--quick"] if args.quick else []) + \
        (["--out", args.out] if args.out else [])
    sys.exit(bench_main(argv))


# --------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyrnn", description="Recurrent networks and ARIMA in NumPy/Numba/CuPy.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sentiment", help="train and test a review sentiment classifier")
    p.add_argument("--data", help="aclImdb-layout folder or CSV file (default: a synthetic "
                   "corpus of 1500 training and 600 test reviews)")
    p.add_argument("--model", choices=["rnn", "cell"], default="rnn",
                   help="multi-layer RNN (default) or the RNNCell encoder")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", help="keep the best weights in this .npz file")
    p.add_argument("--text-column", default="review", help="CSV text column")
    p.add_argument("--label-column", default="sentiment", help="CSV label column")
    p.add_argument("--json", help="write the figures (test_accuracy, history) here")
    p.set_defaults(func=cmd_sentiment)

    p = sub.add_parser("arima", help="fit ARIMA to a CSV column, or run a walk-forward")
    p.add_argument("csv", help="CSV file with a header")
    p.add_argument("--column", help="the series' column (default: the last one)")
    p.add_argument("--order", type=int, nargs=3, metavar=("P", "D", "Q"), required=True)
    p.add_argument("--seasonal-order", type=int, nargs=4, metavar=("P", "D", "Q", "S"),
                   help="seasonal order, e.g. 0 1 1 12 for the airline model")
    p.add_argument("--trend", choices=["n", "c", "t", "ct"],
                   help="deterministic trend (default: 'c' without differencing, else 'n')")
    p.add_argument("--method", choices=["mle", "css", "css-mle"], default="mle")
    p.add_argument("--walk-forward", action="store_true",
                   help="refit at every test step and forecast one step (the chapter's loop)")
    p.add_argument("--train-frac", type=float, default=0.66)
    p.add_argument("--steps", type=int, default=5, help="forecast horizon without walk-forward")
    p.add_argument("--plot", help="save a plot of the walk-forward here (PNG)")
    p.add_argument("--json", help="write the figures (mse, rmse or params, forecast) here")
    p.set_defaults(func=cmd_arima)

    p = sub.add_parser("forecast", help="RNN forecaster against ARIMA on the same series")
    p.add_argument("--series", nargs="+", help="built-in series: shampoo, nile, sunspots "
                   "(default: all)")
    p.add_argument("--csv", help="use a column of this CSV instead")
    p.add_argument("--column")
    p.add_argument("--order", type=int, nargs=3, metavar=("P", "D", "Q"))
    p.add_argument("--window", type=int, default=6)
    p.add_argument("--train-frac", type=float, default=0.66)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", help="save the forecasts plot here (PNG)")
    p.add_argument("--json", help="write the table here")
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("gradcheck", help="gradient checks of every kernel available here")
    p.add_argument("--examples", type=int, default=40, help="random configurations per kernel")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("bench", help="the CPU-vs-GPU benchmark on synthetic data")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--suite", choices=["cpu", "gpu", "all"], default="all")
    p.add_argument("--out", help="folder for the result files")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()

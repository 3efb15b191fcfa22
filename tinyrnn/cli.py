"""The ``tinyrnn`` command (also ``python -m tinyrnn``).

    tinyrnn sentiment [--data DIR_OR_CSV] [--model rnn|cell] [--cell rnn|gru|lstm]
                      [--epochs N] [--layers L] [--hidden H] [--json OUT]
    tinyrnn memory [--length T] [--cells rnn gru lstm] [--steps N] [--json OUT] [--plot PNG]
    tinyrnn arima CSV [--column C] --order P D Q [--walk-forward] [--steps N] [--plot PNG]
                      [--json OUT]
    tinyrnn arima CSV --auto [--seasonal --m 12] [--criterion aic] [--json OUT]
    tinyrnn forecast [--series NAME ... | --csv FILE --column C --order P D Q] [--plot PNG]
    tinyrnn gradcheck [--examples N] [--kernels numpy numba cuda]
    tinyrnn warmup
    tinyrnn bench [--quick] [--suite cpu|gpu|all]
    tinyrnn --version

Every ``--help`` shows the defaults. Progress goes to stderr (a tqdm bar on a terminal
when tqdm is installed, a line per stage otherwise); results go to stdout.
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
    cfg = SentimentConfig(data=args.data, model=args.model, cell=args.cell, epochs=args.epochs,
                          layers=args.layers, hidden=args.hidden, lr=args.lr, seed=args.seed,
                          batch_size=args.batch_size, checkpoint=args.checkpoint,
                          text_column=args.text_column, label_column=args.label_column)
    figures = train_sentiment(cfg)
    print(f"test_accuracy: {figures['test_accuracy']:.4f}")
    _write_json(args.json, figures)


def cmd_memory(args):
    from .workflows.memory import MemoryConfig, format_table, run_memory
    cfg = MemoryConfig(length=args.length, cells=tuple(args.cells), steps=args.steps,
                       batch_size=args.batch_size, hidden=args.hidden, lr=args.lr,
                       eval_every=args.eval_every, test_size=args.test_size,
                       stop_at=args.stop_at, budget_seconds=args.budget_seconds,
                       seed=args.seed)
    figures = run_memory(cfg, plot=args.plot)
    print(format_table(figures))
    if args.plot:
        print(f"wrote {args.plot}")
    _write_json(args.json, figures)


def cmd_arima(args):
    from .arima import ARIMA, walk_forward
    y, column = _read_column(args.csv, args.column)
    if args.auto:
        return _arima_auto(args, y)
    if args.order is None:
        raise SystemExit("error: arima needs --order P D Q, or --auto to select the orders")
    order = tuple(args.order)
    seasonal = tuple(args.seasonal_order) if args.seasonal_order else None
    model_kw = dict(order=order, seasonal_order=seasonal, trend=args.trend)
    if args.walk_forward:
        res = walk_forward(y, train_frac=args.train_frac, show_progress=True, **model_kw)
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
        fc, ci = _print_forecast(res, args.steps)
        figures = {"params": dict(zip(res.param_names, res.params.tolist())), "llf": res.llf,
                   "aic": res.aic, "bic": res.bic, "forecast": fc.predicted_mean.tolist(),
                   "conf_int": ci.tolist()}
    _write_json(args.json, figures)


def _print_forecast(res, steps):
    """Print the forecast table (mean and 95% interval per step); the forecast and interval."""
    fc = res.get_forecast(steps)
    ci = fc.conf_int(0.05)
    print(f"\n{'step':>4} {'forecast':>12} {'lower 95%':>12} {'upper 95%':>12}")
    for h in range(steps):
        print(f"{h + 1:>4} {fc.predicted_mean[h]:>12.4f} {ci[h, 0]:>12.4f} {ci[h, 1]:>12.4f}")
    return fc, ci


def _arima_auto(args, y):
    """``--auto``: select the orders as pmdarima's auto_arima, then report the fit."""
    from .arima import auto_arima
    if args.order is not None or args.seasonal_order or args.walk_forward or args.trend:
        raise SystemExit("error: --auto selects the orders and trend itself: drop --order, "
                         "--seasonal-order, --trend and --walk-forward")
    if args.seasonal and args.m < 2:
        raise SystemExit(f"error: --seasonal needs --m, the seasonal period (>= 2), got "
                         f"{args.m}")
    res = auto_arima(y, seasonal=args.seasonal, m=args.m if args.seasonal else 1,
                     information_criterion=args.criterion)
    a = res.auto
    print(f"selected {res.spec.describe()} trend={res.trend!r} (d={a.d} by KPSS"
          + (f", D={a.D} by OCSB" if args.seasonal else "")
          + f"; {a.n_fits} models fitted; {a.information_criterion}="
          f"{min(f.ic for f in a.fitted):.3f})\n")
    print(res.summary())
    fc, ci = _print_forecast(res, args.steps)
    figures = {"order": list(res.order), "seasonal_order": list(res.seasonal_order),
               "trend": res.trend, "params": dict(zip(res.param_names, res.params.tolist())),
               "llf": res.llf, "aic": res.aic, "bic": res.bic, "n_fits": a.n_fits,
               "forecast": fc.predicted_mean.tolist(), "conf_int": ci.tolist()}
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
                   hidden=args.hidden, seed=args.seed, plot=args.plot, show_progress=True)
    print(format_table(rows))
    if args.plot:
        print(f"wrote {args.plot}")
    _write_json(args.json, rows)


def cmd_gradcheck(args):
    from .selfcheck import run_gradchecks
    sys.exit(0 if run_gradchecks(examples=args.examples, kernels=args.kernels) else 1)


def cmd_warmup(args):
    from .jit import warmup
    print("compiling every tinyrnn kernel (or loading it from Numba's cache):")
    print(f"done in {warmup():.1f} s")


def cmd_bench(args):
    from .bench import main as bench_main
    argv = ["--suite", args.suite] + (["--quick"] if args.quick else []) + \
        (["--out", args.out] if args.out else [])
    sys.exit(bench_main(argv))


# --------------------------------------------------------------------------- parser

def _shows_default(action) -> bool:
    default = action.default
    return bool(action.option_strings) and not (
        default is None or default is False or default is argparse.SUPPRESS)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default in ``--help``, except where there is nothing to show (None,
    an unset flag) or the help text already states it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not _shows_default(action) or "default" in text.lower():
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose sub-commands' parsers (created as this class) all show
    their defaults, including options added without a help text."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        # argparse prints no help line, and so no default, for an option without help.
        if action.help is None and _shows_default(action):
            action.help = "(default: %(default)s)"
        return action


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = _Parser(
        prog="tinyrnn", description="Recurrent networks and ARIMA in NumPy/Numba/CuPy.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("sentiment", help="train and test a review sentiment classifier")
    p.add_argument("--data", help="aclImdb-layout folder or CSV file (default: a synthetic "
                   "corpus of 1500 training and 600 test reviews)")
    p.add_argument("--model", choices=["rnn", "cell"], default="rnn",
                   help="the multi-layer RNN, or the RNNCell encoder")
    p.add_argument("--cell", choices=["rnn", "gru", "lstm"], default="rnn",
                   help="recurrent cell of the default classifier: tanh RNN, GRU or LSTM")
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--layers", type=int, default=2, help="stacked RNN layers")
    p.add_argument("--hidden", type=int, default=128, help="hidden units per layer")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, default=32, help="reviews per batch")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, data and shuffling")
    p.add_argument("--checkpoint", help="keep the best weights in this .npz file")
    p.add_argument("--text-column", default="review", help="CSV text column")
    p.add_argument("--label-column", default="sentiment", help="CSV label column")
    p.add_argument("--json", help="write the figures (test_accuracy, history) here")
    p.set_defaults(func=cmd_sentiment)

    p = sub.add_parser("memory", help="the adding problem: tanh RNN, GRU and LSTM on the "
                       "same budget, and the gradient norm against distance")
    p.add_argument("--length", type=int, default=100, help="sequence length T")
    p.add_argument("--cells", nargs="+", choices=["rnn", "gru", "lstm"],
                   default=["rnn", "gru", "lstm"])
    p.add_argument("--steps", type=int, default=2000, help="training steps per cell")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per step")
    p.add_argument("--hidden", type=int, default=64, help="hidden units")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--eval-every", type=int, default=50, help="steps between test MSEs")
    p.add_argument("--test-size", type=int, default=1000, help="held-out sequences")
    p.add_argument("--stop-at", type=float, help="stop a cell once its test MSE is this low")
    p.add_argument("--budget-seconds", type=float, help="wall-clock bound per cell")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and data")
    p.add_argument("--json", help="write the figures (curves, gradient norms) here")
    p.add_argument("--plot", help="save the two-panel figure here (PNG)")
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("arima", help="fit ARIMA to a CSV column, or run a walk-forward")
    p.add_argument("csv", help="CSV file with a header")
    p.add_argument("--column", help="the series' column (default: the last one)")
    p.add_argument("--order", type=int, nargs=3, metavar=("P", "D", "Q"),
                   help="the orders (or --auto to select them)")
    p.add_argument("--auto", action="store_true",
                   help="select the orders as pmdarima's auto_arima (KPSS for d, OCSB for "
                   "D, stepwise search on the AIC)")
    p.add_argument("--seasonal", action="store_true", help="with --auto: search seasonal "
                   "orders of period --m")
    p.add_argument("--m", type=int, default=1, help="with --auto --seasonal: the period")
    p.add_argument("--criterion", choices=["aic", "aicc", "bic", "hqic"], default="aic",
                   help="with --auto: the information criterion")
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
    p.add_argument("--column", help="the CSV's series column (default: the last one)")
    p.add_argument("--order", type=int, nargs=3, metavar=("P", "D", "Q"),
                   help="ARIMA order for --csv")
    p.add_argument("--window", type=int, default=6, help="RNN input window (time steps)")
    p.add_argument("--train-frac", type=float, default=0.66,
                   help="fraction of each series used for training")
    p.add_argument("--epochs", type=int, default=300, help="RNN training epochs")
    p.add_argument("--hidden", type=int, default=32, help="RNN hidden units")
    p.add_argument("--seed", type=int, default=0, help="seed for the RNN weights")
    p.add_argument("--plot", help="save the forecasts plot here (PNG)")
    p.add_argument("--json", help="write the table here")
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser("gradcheck", help="gradient checks of every kernel available here")
    p.add_argument("--examples", type=int, default=40,
                   help="random configurations per kernel and cell")
    p.add_argument("--kernels", nargs="+", choices=["numpy", "numba", "cuda"],
                   help="only these kernels (default: every kernel available here)")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("warmup", help="compile every kernel now (Numba caches them on disk), "
                                      "so that no later first call waits for the compiler")
    p.set_defaults(func=cmd_warmup)

    p = sub.add_parser("bench", help="the CPU-vs-GPU benchmark on synthetic data")
    p.add_argument("--quick", action="store_true", help="fewer, smaller shapes")
    p.add_argument("--suite", choices=["cpu", "gpu", "all"], default="all",
                   help="which devices to time")
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

#!/usr/bin/env python3
"""What surrounds the time-loop kernels: one forward+backward through the public API, minus
the two kernels it runs, at a long thin shape where the kernels themselves are cheap.

For each cell, in a process of its own (Numba kernel, float32, default (1000, 1, 1, 32)):

* ``api``: ``m.zero_grad(); o, h = m(tr.tensor(x, requires_grad=True));
  (o.sum() + h.sum()).backward()`` (the LSTM's h is h_n);
* ``kernels``: the cell's time-loop kernels alone, forward then backward, called directly on
  arrays of the same shapes (``tinyrnn.kernels.numba_<cell>``, unchecked entry points): the
  ones the layer calls, so ``forward_projected`` where the kernel projects the inputs itself;
* ``products``: the GEMMs an op of this shape must do around its loop (input projection with
  its bias, unless the kernel does it; dX, dW_ih, dW_hh and the bias sums), NumPy alone, for
  scale;
* ``around = api - kernels``, per round, then the median over rounds.

The three are timed in alternating rounds in the same process, so a drift in machine speed
(large on shared VMs) hits all of them alike.

    python benchmarks/overhead.py    # writes benchmarks/results/overhead-<machine>-<date>.*
"""
import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time

import numpy as np

from tinyrnn.bench import RESULTS, cpu_model, machine_slug, versions

CELLS = ("rnn", "gru", "lstm")


def _cases(cell, T, B, I, H):
    import tinyrnn as tr
    from tinyrnn import nn
    from tinyrnn.backend import resolve_kernel
    from tinyrnn.kernels.cells import cell as get_cell

    tr.use_kernel("numba")
    tr.manual_seed(0)
    m = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](I, H)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)

    def api():
        m.zero_grad()
        o, h = m(tr.tensor(x, requires_grad=True))
        h = h[0] if isinstance(h, tuple) else h
        (o.sum() + h.sum()).backward()

    spec = get_cell(cell)
    GH = spec.gates * H
    kernel = resolve_kernel(cell, False)
    w_ih, w_hh = m.weight_ih_l0.data, m.weight_hh_l0.data
    bias = m.bias_ih_l0.data + m.bias_hh_l0.data
    xw = (x.reshape(T * B, I) @ w_ih.T + bias).reshape(T, B, GH)
    state0 = np.zeros((spec.states, B, H), np.float32)
    options = {"b_hn": m.bias_hh_l0.data[2 * H:].copy()} if cell == "gru" else {}
    ys, _ = kernel.forward(xw, w_hh, state0, None, **options)
    g_ys = np.ones_like(ys)
    projects = kernel.projects(B, I, H)

    def kernels():
        if projects:
            ys, saved = kernel.forward_projected(x, w_ih, bias, w_hh, state0, None, **options)
        else:
            ys, saved = kernel.forward(xw, w_hh, state0, None, **options)
        kernel.backward(g_ys, ys, saved, state0, w_hh, None, None, **options)

    x2, h2 = x.reshape(T * B, I), ys[0].reshape(T * B, H)
    d_a = rng.standard_normal((T * B, GH)).astype(np.float32)
    ones = np.ones(T * B, np.float32)

    def products():
        if not projects:
            a = np.dot(x2, w_ih.T)
            a += bias
        np.dot(d_a, w_ih)                     # dX
        np.dot(d_a.T, x2)                     # dW_ih
        np.dot(d_a[B:].T, h2[:-B])            # dW_hh
        ones @ d_a                            # the bias sums

    return {"api": api, "kernels": kernels, "products": products}


def worker(cell, shape, rounds, calls):
    cases = _cases(cell, *shape)
    for f in cases.values():               # compile, load, warm the caches
        for _ in range(calls):
            f()
    per_round = {name: [] for name in cases}
    for _ in range(rounds):
        for name, f in cases.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            per_round[name].append((time.perf_counter() - t0) / calls * 1e3)
    around = [a - k for a, k in zip(per_round["api"], per_round["kernels"])]
    out = {name: float(np.median(v)) for name, v in per_round.items()}
    out["around"] = float(np.median(around))
    out["per_round_ms"] = per_round
    print(json.dumps(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", type=int, nargs=4, default=(1000, 1, 1, 32),
                   metavar=("T", "B", "I", "H"))
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=100, help="calls per round and case")
    p.add_argument("--out", help="result path without extension (default: "
                   "benchmarks/results/overhead-<machine>-<date>)")
    p.add_argument("--worker", choices=CELLS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args.worker, tuple(args.shape), args.rounds, args.calls)

    results = {}
    for cell in CELLS:
        cmd = [sys.executable, __file__, "--worker", cell, "--rounds", str(args.rounds),
               "--calls", str(args.calls), "--shape", *map(str, args.shape)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[cell] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[cell]
        print(f"{cell:5s} api {r['api']:.3f} ms  kernels {r['kernels']:.3f} ms  "
              f"around {r['around']:.3f} ms  (products alone {r['products']:.3f} ms)",
              flush=True)

    info = {"date": dt.date.today().isoformat(), "cpu": cpu_model(), "shape": list(args.shape),
            "cores": os.cpu_count(), "rounds": args.rounds, "calls": args.calls,
            "versions": versions()}
    stem = args.out or str(RESULTS / f"overhead-{machine_slug(info)}-{info['date']}")
    with open(stem + ".json", "w") as f:
        json.dump({**info, "results": results}, f, indent=1)
    T, B, I, H = args.shape
    lines = [f"# Around the kernels, ({T}, {B}, {I}, {H}) float32, Numba kernel",
             "", f"{info['date']}, {info['cpu']}; median over {args.rounds} alternating "
             f"rounds of {args.calls} calls; `benchmarks/overhead.py`.", "",
             "| cell | API fwd+bwd (ms) | kernels alone (ms) | around (ms) | "
             "products alone (ms) |", "|---|---:|---:|---:|---:|"]
    for cell, r in results.items():
        lines.append(f"| {cell} | {r['api']:.3f} | {r['kernels']:.3f} | {r['around']:.3f} | "
                     f"{r['products']:.3f} |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {stem}.md and .json")


if __name__ == "__main__":
    main()

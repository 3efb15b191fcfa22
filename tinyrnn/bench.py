"""The CPU-vs-GPU RNN benchmark on synthetic data (the project's main job).

Times one recurrent layer (Elman RNN; on the CPU also GRU and LSTM), forward and
forward+backward, float32, for every tinyrnn kernel available here and every installed peer,
and, on the CPU, the GEMMs the fused op must do timed alone (the BLAS floor); prints a table
and writes
``<out>/<machine>-<date>.{json,md,png}`` (``benchmarks/results`` from a clone). Ratios
between rows of one run are the figures to quote: the machines are shared and noisy.

    python benchmarks/run.py            # from a clone: everything available here
    python benchmarks/run.py --quick    # a short subset (under two minutes on 2 cores)
    tinyrnn bench [--quick]             # the same, installed
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import tinyrnn as tr

# From a clone the results land in benchmarks/results; installed, under the current folder.
_CLONE_RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
RESULTS = _CLONE_RESULTS if _CLONE_RESULTS.parent.is_dir() else Path("benchmark-results")

# (T, B, I, H): long thin sequences where per-step overhead rules, up to GEMM-bound sizes.
CPU_SHAPES = [(1000, 1, 1, 32), (672, 1, 32, 32), (96, 1, 64, 64), (100, 32, 64, 128),
              (50, 16, 1760, 1760)]
GPU_SHAPES = [(672, 1, 32, 32), (512, 4, 512, 512), (512, 4, 1024, 1024),
              (50, 16, 1760, 1760), (50, 64, 2048, 2048)]
QUICK_CPU = CPU_SHAPES[:4]
QUICK_GPU = GPU_SHAPES[:2]
# The gated cells on the CPU: the per-step-bound shapes up to a GEMM-bound one.
GATED_CPU_SHAPES = [(1000, 1, 1, 32), (672, 1, 32, 32), (100, 32, 64, 128), (50, 16, 1024, 1024)]
QUICK_GATED_CPU = GATED_CPU_SHAPES[:3]
# The gated cells on the GPU: the shapes of their targets against cuDNN (issue 13).
GATED_GPU_SHAPES = [(672, 1, 32, 32), (512, 4, 512, 512), (50, 16, 1024, 1024)]
QUICK_GATED_GPU = GATED_GPU_SHAPES[:1]
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


# ----------------------------------------------------------------------------- machine

def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_info() -> dict | None:
    try:
        import cupy
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        props = cupy.cuda.runtime.getDeviceProperties(0)
        return {"name": props["name"].decode(), "driver": cupy.cuda.runtime.driverGetVersion(),
                "cuda_runtime": cupy.cuda.runtime.runtimeGetVersion(),
                "sm": f"{props['major']}{props['minor']}",
                "multiprocessors": props["multiProcessorCount"]}
    except Exception:
        return None


def versions() -> dict:
    out = {"python": platform.python_version(), "numpy": np.__version__,
           "tinyrnn": tr.__version__}
    for name in ("numba", "scipy", "torch", "cupy"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            pass
    return out


def machine_slug(info: dict) -> str:
    base = info["gpu"]["name"] if info.get("gpu") else f"{info['cpu']}-{info['cores']}c"
    base = re.sub(r"\(R\)|\(TM\)|CPU|@.*|NVIDIA", "", base)
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")


# ----------------------------------------------------------------------------- timing

def median_ms(fn, repeat: int, min_time: float = 0.2) -> float:
    """Median wall time of ``fn`` over at least ``repeat`` runs (and ``min_time`` seconds)."""
    fn()  # warm-up: compilation, allocation, caches
    samples, start = [], time.perf_counter()
    while len(samples) < repeat or (time.perf_counter() - start < min_time and len(samples) < 200):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(samples)


def rnn_gflop(T, B, I, H, passes, cell="rnn"):
    """Forward: two GEMM-shaped products per step, 2*B*G*H*(I+H) flops (G gate blocks);
    backward: twice that."""
    fwd = 2.0 * T * B * GATES[cell] * H * (I + H)
    return (fwd if passes == "fwd" else 3 * fwd) / 1e9


def sgemm_gflops(on_gpu=False) -> float:
    """The machine's float32 GEMM rate, measured now (the ceiling for large shapes)."""
    n = 2048 if on_gpu else 1024
    if on_gpu:
        import cupy as xp
    else:
        xp = np
    a = xp.asarray(np.random.default_rng(0).standard_normal((n, n)), dtype=np.float32)

    def run():
        a @ a
        if on_gpu:
            xp.cuda.Device().synchronize()

    return 2 * n ** 3 / (median_ms(run, 5) / 1e3) / 1e9


# ----------------------------------------------------------------------------- contenders

_TR_LAYERS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def tinyrnn_case(kernel, cell, T, B, I, H, device="cpu"):
    rng = np.random.default_rng(0)
    tr.manual_seed(0)
    layer = getattr(tr.nn, _TR_LAYERS[cell])(I, H).to(device)
    x = tr.tensor(rng.standard_normal((T, B, I)).astype(np.float32)).to(device)
    x.requires_grad = True
    sync = _cuda_sync if device == "cuda" else (lambda: None)

    def fwd():
        with tr.use_kernel(kernel), tr.no_grad():
            layer(x)
        sync()

    def fwd_bwd():
        with tr.use_kernel(kernel):
            out, _ = layer(x)
            out.sum().backward()
        sync()

    return fwd, fwd_bwd


def blas_floor_case(cell, T, B, I, H):
    """The GEMMs the fused op must do, alone (NumPy's BLAS as configured): forward, the
    input projection and one (B, H) x (H, G*H) product per step; backward adds one
    (B, G*H) x (G*H, H) product per step and the three weight/input-gradient GEMMs."""
    rng = np.random.default_rng(0)
    GH = GATES[cell] * H
    x = rng.standard_normal((T * B, I)).astype(np.float32)
    w_ih_t = rng.standard_normal((I, GH)).astype(np.float32)
    w_hh = rng.standard_normal((GH, H)).astype(np.float32)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    h = rng.standard_normal((B, H)).astype(np.float32)
    a = np.empty((B, GH), np.float32)
    d_a = rng.standard_normal((T * B, GH)).astype(np.float32)
    hs = rng.standard_normal((T * B, H)).astype(np.float32)
    dh = np.empty((B, H), np.float32)

    def fwd():
        x @ w_ih_t
        for _ in range(T):
            np.matmul(h, w_hh_t, out=a)

    def fwd_bwd():
        fwd()
        for t in range(T):
            np.matmul(d_a[t * B:(t + 1) * B], w_hh, out=dh)
        d_a @ w_ih_t.T
        d_a.T @ x
        d_a.T @ hs

    return fwd, fwd_bwd


def _cuda_sync():
    import cupy
    cupy.cuda.Device().synchronize()


def torch_case(device, cell, T, B, I, H):
    import torch
    torch.manual_seed(0)
    layer = getattr(torch.nn, _TR_LAYERS[cell])(I, H).to(device)
    x = torch.randn(T, B, I, device=device, requires_grad=True)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def fwd():
        with torch.no_grad():
            layer(x)
        sync()

    def fwd_bwd():
        out, _ = layer(x)
        out.sum().backward()
        sync()

    return fwd, fwd_bwd


def cupy_loop_case(cell, T, B, I, H):
    """The plain GPU baseline: one cuBLAS GEMM and one elementwise kernel per step."""
    import cupy as cp
    if cell != "rnn":
        raise ValueError("the CuPy loop baseline is written for the Elman cell")
    rng = np.random.default_rng(0)
    w_ih = cp.asarray(rng.uniform(-0.1, 0.1, (H, I)), dtype=cp.float32)
    w_hh = cp.asarray(rng.uniform(-0.1, 0.1, (H, H)), dtype=cp.float32)
    x = cp.asarray(rng.standard_normal((T, B, I)), dtype=cp.float32)

    def forward():
        xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, H)
        hs = cp.empty_like(xw)
        h = cp.zeros((B, H), cp.float32)
        for t in range(T):
            h = cp.tanh(xw[t] + h @ w_hh.T)
            hs[t] = h
        return hs

    def fwd():
        forward()
        _cuda_sync()

    def fwd_bwd():
        hs = forward()
        dh = cp.zeros((B, H), cp.float32)
        d_a = cp.empty_like(hs)
        for t in range(T - 1, -1, -1):
            d = (1 + dh) * (1 - hs[t] * hs[t])
            d_a[t] = d
            dh = d @ w_hh
        d2 = d_a.reshape(T * B, H)
        d2.T @ x.reshape(T * B, I)
        d_a[1:].reshape(-1, H).T @ hs[:-1].reshape(-1, H)
        d2 @ w_ih
        _cuda_sync()

    return fwd, fwd_bwd


def contenders(suite):
    """The implementations to time in a suite on this machine (checked without importing
    torch or CuPy here: each one is timed in a worker process of its own)."""
    kernels = tr.available_kernels()
    has_torch = importlib.util.find_spec("torch") is not None
    if suite == "cpu":
        names = [f"tinyrnn-{k}" for k in ("numpy", "numba") if k in kernels]
        return names + (["torch-cpu"] if has_torch else []) + [BLAS_FLOOR]
    names = ["tinyrnn-cuda"] if "cuda" in kernels else []
    names += ["cupy-loop"] if importlib.util.find_spec("cupy") is not None else []
    names += ["torch-cudnn"] if has_torch else []
    # The CPU side of the CPU-vs-GPU plot.
    return names + (["tinyrnn-numba"] if "numba" in kernels else [])


def suite_cases(suite, quick):
    """(cell, shape) pairs of a suite: every cell, the gated ones on fewer shapes."""
    if suite == "gpu":
        gated = QUICK_GATED_GPU if quick else GATED_GPU_SHAPES
        return [("rnn", s) for s in (QUICK_GPU if quick else GPU_SHAPES)] + \
            [(c, s) for c in ("gru", "lstm") for s in gated]
    gated = QUICK_GATED_CPU if quick else GATED_CPU_SHAPES
    return [("rnn", s) for s in (QUICK_CPU if quick else CPU_SHAPES)] + \
        [(c, s) for c in ("gru", "lstm") for s in gated]


BLAS_FLOOR = "blas-floor"  # not a contender: its rows go to the JSON's "blas_floor"
BUILDERS = {
    "tinyrnn-numpy": lambda *s: tinyrnn_case("numpy", *s),
    "tinyrnn-numba": lambda *s: tinyrnn_case("numba", *s),
    "tinyrnn-cuda": lambda *s: tinyrnn_case("cuda", *s, device="cuda"),
    "torch-cpu": lambda *s: torch_case("cpu", *s),
    "torch-cudnn": lambda *s: torch_case("cuda", *s),
    "cupy-loop": lambda *s: cupy_loop_case(*s),
    BLAS_FLOOR: lambda *s: blas_floor_case(*s),
}


# ----------------------------------------------------------------------------- run

def worker(impl, suite, cases, repeat):
    """Time one implementation on every shape; print the rows as JSON (run in a child).

    One process per implementation: thread pools left spinning by one library (OpenBLAS,
    two OpenMP runtimes) otherwise slow down whatever is timed next, by up to 100x here.
    """
    if impl == "torch-cudnn":
        import torch
        if not torch.cuda.is_available():
            print(json.dumps([]))
            return 0
        torch.backends.cudnn.benchmark = True
    if impl.startswith("torch"):
        import torch
        torch.set_num_threads(os.cpu_count())  # the same threads as NumPy/Numba get
    rows = []
    for cell, (T, B, I, H) in cases:
        if impl == "cupy-loop" and cell != "rnn":
            continue  # a baseline for the Elman cell only
        if suite == "gpu" and impl == "tinyrnn-numba" and cell != "rnn":
            continue  # the CPU side of the CPU-vs-GPU plot: the CPU suite times the rest
        fwd, fwd_bwd = BUILDERS[impl](cell, T, B, I, H)
        for passes, fn in (("fwd", fwd), ("fwd+bwd", fwd_bwd)):
            ms = median_ms(fn, repeat)
            rows.append({"suite": suite, "impl": impl, "cell": cell, "pass": passes,
                         "dtype": "float32", "shape": {"T": T, "B": B, "I": I, "H": H},
                         "median_ms": ms,
                         "gflops": rnn_gflop(T, B, I, H, passes, cell) / (ms / 1e3),
                         "us_per_step": 1e3 * ms / T})
            print(f"  {suite:4} {impl:14} {cell:4} {passes:8} T={T:<5} B={B:<3} I={I:<5} "
                  f"H={H:<5} {ms:10.3f} ms", file=sys.stderr, flush=True)
    print(json.dumps(rows))
    return 0


def run_suite(suite, cases, repeat, rows, rounds=1):
    """Time every contender of a suite in ``rounds`` rounds; the number of workers that
    failed.

    Each round runs every contender once, each in a new worker process, in turn. A shared
    machine's speed drifts (here by up to 2x over minutes), and one pass of contenders, each
    timed minutes apart, would fold that drift into their ratios; alternating them, every
    contender sees every phase of the drift. A case's figure is its fastest round's median
    (``round_ms`` keeps every round's)."""
    failed, by_case = 0, {}
    for _ in range(rounds):
        for impl in contenders(suite):
            cmd = [sys.executable, "-m", "tinyrnn.bench", "--worker", impl, "--suite", suite,
                   "--repeat", str(repeat), "--cases", json.dumps(cases)]
            done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"  {impl}: the worker failed (exit {done.returncode}); no rows")
                failed += 1
                continue
            for row in json.loads(done.stdout.strip().splitlines()[-1]):
                key = (row["impl"], row["cell"], row["pass"], _key(row["shape"]))
                by_case.setdefault(key, []).append(row)
    for runs in by_case.values():
        best = dict(min(runs, key=lambda r: r["median_ms"]))
        best["round_ms"] = [r["median_ms"] for r in runs]
        rows.append(best)
    return failed


def _key(shape):
    return tuple(shape.values())


def ratio_table(rows, floor, suite, cell, baseline, sgemm):
    """Markdown for one cell: each impl's time and its speed-up over ``baseline`` measured in
    this run, and on the CPU the BLAS floor with tinyrnn-numba's time over it."""
    sel = [r for r in rows if r["suite"] == suite and r.get("cell", "rnn") == cell]
    shapes = sorted({_key(r["shape"]) for r in sel}, key=lambda s: (s[3], s[0]))
    impls = sorted({r["impl"] for r in sel})
    index = {(r["impl"], r["pass"], _key(r["shape"])): r for r in sel}
    floors = {(r["pass"], _key(r["shape"])): r["median_ms"] for r in floor
              if r["suite"] == suite and r["cell"] == cell}
    floor_cols = " | BLAS floor ms | numba / floor" if floors else ""
    lines = [f"### {suite.upper()} suite, {cell.upper()} (float32; speed-up vs {baseline} in "
             f"the same run; in-run SGEMM {sgemm:.0f} GFLOP/s)", "",
             "| T, B, I, H | pass | " + " | ".join(f"{i} ms" for i in impls) +
             " | " + " | ".join(f"{i} / {baseline}" for i in impls if i != baseline) +
             " | best GFLOP/s (% SGEMM)" + floor_cols + " |",
             "|---|---|" + "---:|" * (2 * len(impls) - (baseline in impls) + 1 +
                                      (2 if floors else 0))]
    for s in shapes:
        for passes in ("fwd", "fwd+bwd"):
            cells = [index.get((i, passes, s)) for i in impls]
            base = index.get((baseline, passes, s))
            times = [f"{c['median_ms']:.3f}" if c else "-" for c in cells]
            ratios = [f"{base['median_ms'] / c['median_ms']:.1f}x" if c and base else "-"
                      for i, c in zip(impls, cells) if i != baseline]
            best = max((c for c in cells if c), key=lambda c: c["gflops"])
            line = (f"| {', '.join(map(str, s))} | {passes} | " + " | ".join(times) + " | " +
                    " | ".join(ratios) +
                    f" | {best['gflops']:.1f} ({100 * best['gflops'] / sgemm:.0f}%)")
            if floors:
                f = floors.get((passes, s))
                numba = index.get(("tinyrnn-numba", passes, s))
                line += f" | {f:.3f}" if f else " | -"
                line += f" | {numba['median_ms'] / f:.2f}" if f and numba else " | -"
            lines.append(line + " |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'tinyrnn[bench]')")
        return False
    groups = sorted({(r["suite"], r.get("cell", "rnn")) for r in rows},
                    key=lambda g: (g[0], list(GATES).index(g[1])))
    fig, axes = plt.subplots(len(groups), 2, figsize=(12, 4 * len(groups)), squeeze=False)
    for row_axes, (suite, cell) in zip(axes, groups):
        for ax, passes in zip(row_axes, ("fwd", "fwd+bwd")):
            sel = [r for r in rows if r["suite"] == suite and r["pass"] == passes and
                   r.get("cell", "rnn") == cell]
            shapes = sorted({tuple(r["shape"].values()) for r in sel}, key=lambda s: (s[3], s[0]))
            impls = sorted({r["impl"] for r in sel})
            width = 0.8 / max(len(impls), 1)
            for k, impl in enumerate(impls):
                ys = [next((r["median_ms"] for r in sel if r["impl"] == impl and
                            tuple(r["shape"].values()) == s), np.nan) for s in shapes]
                ax.bar(np.arange(len(shapes)) + k * width, ys, width, label=impl)
            ax.set_yscale("log")
            ax.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2)
            ax.set_xticklabels(["\n".join(map(str, s)) for s in shapes], fontsize=7)
            ax.set_title(f"{suite} suite, {cell.upper()}, {passes} (T, B, I, H); lower is better")
            ax.set_ylabel("median ms")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv=None):
    # Time compiled code: compile here, never run uncompiled meanwhile (tinyrnn/jit.py).
    os.environ.setdefault("TINYRNN_JIT", "foreground")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short subset of shapes")
    parser.add_argument("--suite", choices=["cpu", "gpu", "all"], default="all",
                        help="which suite (default: every suite this machine can run)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per case")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds of all contenders in turn (default: 3 for the full CPU "
                             "suite, else 1); a case's figure is its fastest round's")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the result files")
    parser.add_argument("--tag", default="", help="suffix for the result file names")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.suite,
                      [(c, tuple(s)) for c, s in json.loads(args.cases)], args.repeat)

    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpu_info(),
            "platform": platform.platform(), "versions": versions(),
            "kernels": tr.available_kernels(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    suites = ["cpu", "gpu"] if args.suite == "all" else [args.suite]
    if "gpu" in suites and info["gpu"] is None:
        print("no CUDA device (or no CuPy): the GPU suite is skipped")
        suites.remove("gpu")
    repeat = args.repeat or (3 if args.quick else 7)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    rounds = {s: args.rounds or (3 if s == "cpu" and not args.quick else 1) for s in suites}
    if importlib.util.find_spec("torch") is None:
        print("torch is not installed: no torch peers (pip install torch)")

    rows, sgemm, failed = [], {}, 0
    for suite in suites:
        sgemm[suite] = sgemm_gflops(on_gpu=suite == "gpu")
        print(f"{suite} suite; in-run SGEMM: {sgemm[suite]:.1f} GFLOP/s", flush=True)
        failed += run_suite(suite, suite_cases(suite, args.quick), repeat, rows,
                            rounds[suite])
    floor = [r for r in rows if r["impl"] == BLAS_FLOOR]
    rows = [r for r in rows if r["impl"] != BLAS_FLOOR]

    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{machine_slug(info)}-{info['date'][:10]}" + ("-quick" if args.quick else "") + \
        (f"-{args.tag}" if args.tag else "")
    (args.out / f"{stem}.json").write_text(json.dumps(
        {"machine": info, "sgemm_gflops": sgemm, "quick": args.quick, "rounds": rounds,
         "rows": rows,
         "blas_floor": floor}, indent=1))
    tables = [ratio_table(rows, floor, s, cell, "torch-cpu" if s == "cpu" else "torch-cudnn",
                          sgemm[s])
              for s in suites for cell in GATES
              if any(r["suite"] == s and r["cell"] == cell for r in rows)]
    gpu = f", GPU {info['gpu']['name']}" if info["gpu"] else ""
    md = (f"# Recurrent-layer benchmark, {info['date'][:10]}\n\nMachine: {info['cpu']}, {info['cores']} "
          f"cores{gpu}. Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
          + f". {'Quick subset. ' if args.quick else ''}Median of >= {repeat} runs"
          + "".join(f"; {s.upper()} suite: the fastest of {n} rounds, contenders alternated"
                    for s, n in rounds.items() if n > 1) + ".\n\n"
          + "\n\n".join(tables) + "\n")
    (args.out / f"{stem}.md").write_text(md)
    plotted = plot(rows, args.out / f"{stem}.png")
    print("\n" + md)
    print(f"wrote {args.out / stem}.json, .md" + (", .png" if plotted else ""))
    return 1 if failed else 0  # the results are written either way


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The GPU smoke test (stage `smoke` of gpu_check.sh; well under 30 s, CuPy's compile included).

One small forward and backward per launch plan of the CUDA kernel (one block; a cooperative
grid of several blocks; several rounds per block; the cuBLAS fallback), float32 and float64,
against the NumPy reference kernel. Each result is written to <out>/smoke.json as soon as it
is known; the first failure stops the run with the failing plan named (exit 1). Then the
fallback's loop captured as a CUDA graph: if only that fails, exit 3 (gpu_check.sh turns
graphs off for the later stages and goes on).

    python benchmarks/gpu_smoke.py [--out DIR]
"""
import os

# Time compiled code: compile in this process, never run uncompiled meanwhile (tinyrnn/jit.py).
os.environ.setdefault("TINYRNN_JIT", "foreground")

import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

# (name, T, B, H, path, what the persistent plan must look like)
PLANS = [
    ("single-block", 6, 2, 32, "persistent", lambda p: p.grid == 1),
    ("multi-block", 6, 4, 512, "persistent", lambda p: p.grid > 1),
    ("several-rounds", 4, 300, 512, "persistent",
     lambda p: p.grid > 1 and 300 * p.rows > p.block),
    ("cublas-fallback", 6, 4, 256, "cublas", None),
]
GRAPH_PLANS = [("cublas-graph", 6, 4, 256, "graph", None)]


def check(name, T, B, H, path, dtype, rng):
    import cupy as cp
    from tinyrnn.kernels import cuda_kernel as ck
    from tinyrnn.kernels.numpy_rnn import elman_reference
    xw = rng.standard_normal((T, B, H)).astype(dtype)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    g = rng.standard_normal((T, B, H)).astype(dtype)
    g_hn = rng.standard_normal((B, H)).astype(dtype)
    lengths = np.maximum(1, T - np.arange(B) % T).astype(np.int64)
    d = [cp.asarray(a) for a in (xw, w, h0, g, g_hn, lengths)]
    hs = ck.run_forward(d[0], d[1], d[2], "tanh", d[5], path=path)
    d_xw, d_h0 = ck.run_backward(d[3], hs, d[2], d[1], "tanh", 3, d[5], d[4], path=path)
    if path == "graph":  # a second call through the same captured graph
        hs = ck.run_forward(d[0], d[1], d[2], "tanh", d[5], path=path)
    cp.cuda.Device().synchronize()
    hs_ref, r_xw, r_h0 = elman_reference(xw, w, h0, g, "tanh", 3, lengths, g_hn)

    def rel(a, b):
        return float(np.abs(cp.asnumpy(a) - b).max() / max(np.abs(b).max(), 1e-30))

    return {"hs": rel(hs, hs_ref), "d_xw": rel(d_xw, r_xw), "d_h0": rel(d_h0, r_h0)}


def run_case(ck, name, T, B, H, path, expected, dtype, rng):
    t0 = time.perf_counter()
    row = {"plan": name, "path": path, "dtype": np.dtype(dtype).name, "T": T, "B": B, "H": H}
    try:
        p = ck.plan(B, H, dtype) if path == "persistent" else None
        row["launch"] = None if p is None else dataclasses.asdict(p)
        if expected is not None and (p is None or not expected(p)):
            raise AssertionError(f"the device planned {p} for this case")
        row["rel_err"] = err = check(name, T, B, H, path, dtype, rng)
        tol = 1e-10 if dtype == np.float64 else 1e-5
        row["ok"] = all(v <= tol for v in err.values())
    except Exception:
        row["ok"], row["error"] = False, traceback.format_exc()
        print(row["error"], file=sys.stderr)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    print(f"{name:16} {row['dtype']:8} {'ok' if row['ok'] else 'FAILED'} "
          f"{row.get('rel_err', '')} {row['seconds']} s", flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []

    def save():
        (args.out / "smoke.json").write_text(json.dumps(results, indent=1))

    start = time.perf_counter()
    from tinyrnn.kernels import cuda_kernel as ck
    try:
        ck._module()  # NVRTC compile first, timed on its own
    except Exception:
        traceback.print_exc()
        print("SMOKE FAILED: no CuPy/device, or rnn_time_loop.cu does not compile", flush=True)
        return 1
    print(f"compiled rnn_time_loop.cu in {time.perf_counter() - start:.1f} s", flush=True)
    rng = np.random.default_rng(0)
    code = 0
    for cases, fail_code in ((PLANS, 1), (GRAPH_PLANS, 3)):
        for name, T, B, H, path, expected in cases:
            for dtype in (np.float32, np.float64):
                row = run_case(ck, name, T, B, H, path, expected, dtype, rng)
                results.append(row)
                save()
                if not row["ok"]:
                    print(f"SMOKE FAILED: plan {name} ({row['dtype']}, T={T} B={B} H={H})",
                          flush=True)
                    if fail_code == 1:
                        return 1
                    code = fail_code
                    break
    if code == 0:
        print(f"smoke ok: {len(results)} cases in {time.perf_counter() - start:.1f} s")
    # Facts for the benchmark: the plan and the timed paths of its shapes (not a check).
    try:
        from tinyrnn.bench import GPU_SHAPES
        choices = []
        for _, B, _, H in GPU_SHAPES:
            p = ck.plan(B, H, np.float32)
            choices.append({"B": B, "H": H, "launch": None if p is None else dataclasses.asdict(p),
                            "ms_16_steps": ck.time_paths(B, H, np.dtype(np.float32))})
            print(f"B={B} H={H}: {p} {choices[-1]['ms_16_steps']}", flush=True)
        (args.out / "plans.json").write_text(json.dumps(choices, indent=1))
    except Exception:
        traceback.print_exc()
    return code


if __name__ == "__main__":
    sys.exit(main())

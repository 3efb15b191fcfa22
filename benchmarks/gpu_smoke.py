#!/usr/bin/env python3
"""The GPU smoke test (stage `smoke` of gpu_check.sh; well under 30 s, CuPy's compile included).

One small forward and backward per launch plan of the CUDA kernel (one block; a cooperative
grid of several blocks; several rounds per block; the cuBLAS fallback), float32 and float64,
against the NumPy reference kernel. Each result is written to <out>/smoke.json as soon as it
is known; the first failure stops the run with the failing plan named (exit 1).

    python benchmarks/gpu_smoke.py [--out DIR]
"""
import argparse
import dataclasses
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

# (name, T, B, H, persistent, what the plan must look like)
PLANS = [
    ("single-block", 6, 2, 32, True, lambda p: p.grid == 1),
    ("multi-block", 6, 4, 512, True, lambda p: p.grid > 1),
    ("several-rounds", 4, 300, 512, True, lambda p: p.grid > 1 and 300 * p.rows > p.block),
    ("cublas-fallback", 6, 4, 256, False, lambda p: True),
]


def check(name, T, B, H, persistent, dtype, rng):
    import cupy as cp
    from tinyrnn.kernels import cuda_kernel as ck
    from tinyrnn.kernels import numpy_kernel as ref
    xw = rng.standard_normal((T, B, H)).astype(dtype)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dtype)
    h0 = rng.standard_normal((B, H)).astype(dtype)
    g = rng.standard_normal((T, B, H)).astype(dtype)
    g_hn = rng.standard_normal((B, H)).astype(dtype)
    lengths = np.maximum(1, T - np.arange(B) % T).astype(np.int64)
    d = [cp.asarray(a) for a in (xw, w, h0, g, g_hn, lengths)]
    hs = ck.forward(d[0], d[1], d[2], "tanh", d[5], persistent=persistent)
    d_xw, d_h0 = ck.backward(d[3], hs, d[2], d[1], "tanh", 3, d[5], d[4], persistent=persistent)
    cp.cuda.Device().synchronize()
    hs_ref = ref.forward(xw, w, h0, "tanh", lengths)
    r_xw, r_h0 = ref.backward(g, hs_ref, h0, w, "tanh", 3, lengths, g_hn)

    def rel(a, b):
        return float(np.abs(cp.asnumpy(a) - b).max() / max(np.abs(b).max(), 1e-30))

    return {"hs": rel(hs, hs_ref), "d_xw": rel(d_xw, r_xw), "d_h0": rel(d_h0, r_h0)}


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
    for name, T, B, H, persistent, expected in PLANS:
        for dtype in (np.float32, np.float64):
            t0 = time.perf_counter()
            row = {"plan": name, "dtype": np.dtype(dtype).name, "T": T, "B": B, "H": H}
            try:
                p = ck.plan(B, H, dtype) if persistent else None
                row["launch"] = None if p is None else dataclasses.asdict(p)
                if persistent and (p is None or not expected(p)):
                    raise AssertionError(f"the device planned {p} for this case")
                row["rel_err"] = err = check(name, T, B, H, persistent, dtype, rng)
                tol = 1e-10 if dtype == np.float64 else 1e-5
                row["ok"] = all(v <= tol for v in err.values())
            except Exception:
                row["ok"], row["error"] = False, traceback.format_exc()
            row["seconds"] = round(time.perf_counter() - t0, 3)
            results.append(row)
            save()
            print(f"{name:16} {row['dtype']:8} {'ok' if row['ok'] else 'FAILED'} "
                  f"{row.get('rel_err', '')} {row['seconds']} s", flush=True)
            if not row["ok"]:
                print(row.get("error", ""), file=sys.stderr)
                print(f"SMOKE FAILED: plan {name} ({row['dtype']}, T={T} B={B} H={H})",
                      flush=True)
                return 1
    print(f"smoke ok: {len(results)} cases in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

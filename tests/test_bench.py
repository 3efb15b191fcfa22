"""The benchmark's machinery (not its timings): rows with the documented fields for every
cell, the BLAS-floor rows kept apart, and a table per cell."""
import json
import subprocess
import sys

from tinyrnn import bench


def _worker_rows(impl, cases):
    done = subprocess.run([sys.executable, "-m", "tinyrnn.bench", "--worker", impl, "--suite",
                           "cpu", "--repeat", "1", "--cases", json.dumps(cases)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_worker_rows_and_tables_for_every_cell():
    cases = [[cell, [3, 2, 2, 4]] for cell in ("rnn", "gru", "lstm")]
    rows = _worker_rows("tinyrnn-numpy", cases) + _worker_rows("tinyrnn-numba", cases)
    floor = _worker_rows(bench.BLAS_FLOOR, cases)
    assert {(r["cell"], r["pass"]) for r in rows} == {
        (c, p) for c in ("rnn", "gru", "lstm") for p in ("fwd", "fwd+bwd")}
    for r in rows + floor:
        assert {"suite", "impl", "cell", "pass", "dtype", "shape", "median_ms",
                "gflops"} <= set(r)
        assert r["shape"] == {"T": 3, "B": 2, "I": 2, "H": 4} and r["median_ms"] > 0
    # A gated cell does G times the Elman cell's work per step.
    g = {(r["impl"], r["cell"], r["pass"]): r["gflops"] * r["median_ms"] for r in rows}
    assert abs(g["tinyrnn-numpy", "lstm", "fwd"] / g["tinyrnn-numpy", "rnn", "fwd"] - 4) < 1e-9
    table = bench.ratio_table(rows, floor, "cpu", "gru", "tinyrnn-numpy", 100.0)
    assert "GRU" in table and "BLAS floor ms" in table and table.count("\n| 3, 2, 2, 4 |") == 2


def test_suite_cases_cover_the_gated_cells():
    cpu = bench.suite_cases("cpu", quick=False)
    assert {c for c, _ in cpu} == {"rnn", "gru", "lstm"}
    assert ("gru", (50, 16, 1024, 1024)) in cpu and ("lstm", (100, 32, 64, 128)) in cpu
    gpu = bench.suite_cases("gpu", quick=False)
    assert {c for c, _ in bench.suite_cases("gpu", quick=True)} == {"rnn", "gru", "lstm"}
    for cell in ("gru", "lstm"):  # the shapes of the targets against cuDNN
        assert {(cell, s) for s in [(672, 1, 32, 32), (512, 4, 512, 512),
                                    (50, 16, 1024, 1024)]} <= set(gpu)


def test_rounds_alternate_contenders_and_keep_the_fastest(monkeypatch):
    monkeypatch.setattr(bench, "contenders", lambda suite: ["tinyrnn-numpy", bench.BLAS_FLOOR])
    rows = []
    failed = bench.run_suite("cpu", [["rnn", [3, 2, 2, 4]]], 1, rows, rounds=2)
    assert failed == 0
    assert {(r["impl"], r["pass"]) for r in rows} == {
        (i, p) for i in ("tinyrnn-numpy", bench.BLAS_FLOOR) for p in ("fwd", "fwd+bwd")}
    for r in rows:  # one row per case: the fastest of its two rounds
        assert len(r["round_ms"]) == 2 and r["median_ms"] == min(r["round_ms"])

"""The chapter's vanishing-gradient lesson as an experiment: the adding problem.

The task (Hochreiter & Schmidhuber 1997, in the form of Arjovsky, Shah & Bengio 2016): a
sequence of T steps, each x_t = (v_t, m_t) with v_t ~ U[0, 1] and a marker m_t in {0, 1}
that is 1 at exactly two steps, i in the first half and j in the second half::

    i ~ U{0 .. T/2 - 1},   j ~ U{T/2 .. T - 1},   y = v_i + v_j.

Why this form: the first marked value is always at least T/2 steps before the loss, so
every sequence needs memory over half its length (in the 1997 form the markers can both sit
near the start or the end); and predicting the constant E[y] = 1 gives exactly
MSE = Var(v_i + v_j) = 2 * 1/12 = 1/6 ≈ 0.167, the level a network that remembers nothing
stalls at.

The model is the same for every cell: one recurrent layer (tanh ``RNN``, ``GRU`` or
``LSTM``) over the T steps, its last state h_T, and ``Linear(H, 1)``:
y_hat = w^T h_T + b, trained on the mean squared error with Adam and gradient clipping, the
three cells with the same steps, batch size, hidden size and learning rate on the same
batches.

The lesson is read off the gradient of the loss with respect to each hidden state at
initialisation. With per-sequence loss l = (y_hat - y)^2 and h_t = f(x_t, h_{t-1}),

    dl/dh_t = (dh_{t+1}/dh_t)^T dl/dh_{t+1},   dl/dh_T = 2 (y_hat - y) w,

so dl/dh_t is a product of T - t Jacobians. For the tanh RNN,
dh_{t+1}/dh_t = diag(1 - h_{t+1}^2) W_hh, and since tanh' <= 1,
||dl/dh_t|| <= ||W_hh||_2^(T-t) ||dl/dh_T||: below 1 per step at the usual initialisation,
so the gradient from the loss vanishes geometrically with the distance T - t, and the first
marked value, >= T/2 steps back, is out of reach. The GRU's path h' = (1 - z) * n + z * h
and the LSTM's c' = f * c + i * g contain the gates z and f themselves: with z (f) near 1
the Jacobian is near the identity at any distance. At PyTorch's initialisation the gates
sit near 1/2, so all three cells start out vanishing at about the same rate (measured,
H = 64, T = 100: a factor of about 0.62 (tanh RNN), 0.63 (GRU), 0.65 (LSTM) per step); what
differs is that the gated cells can *learn* to open that path, and the tanh RNN has no such
knob but W_hh itself, which must then keep every step's activations out of tanh's
saturation. The figure shows the norms at initialisation and, dotted, after training.
"""
from __future__ import annotations

import copy
import os
import platform
import time
from dataclasses import asdict, dataclass

import numpy as np

import tinyrnn as tr
import tinyrnn.nn.functional as F
from tinyrnn import nn

from .progress import progress

LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
CELLS = {"rnn": nn.RNNCell, "gru": nn.GRUCell, "lstm": nn.LSTMCell}
NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}
BASELINE_MSE = 1.0 / 6.0  # Var(v_i + v_j) for v ~ U[0, 1]: the constant prediction 1


def adding_problem(n: int, length: int, rng: np.random.Generator, dtype=np.float32):
    """``n`` adding-problem sequences of ``length`` steps: (x (T, n, 2), y (n, 1)).

    x[..., 0] holds the values v_t ~ U[0, 1], x[..., 1] the two markers (one in each half);
    y = v_i + v_j."""
    if length < 2:
        raise ValueError(f"length must be >= 2 (one marker in each half), got {length}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    half = length // 2
    values = rng.random((length, n))
    markers = np.zeros((length, n))
    cols = np.arange(n)
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, length, size=n)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    target = values[first, cols] + values[second, cols]
    return np.stack([values, markers], axis=-1).astype(dtype), target[:, None].astype(dtype)


class AddingModel(nn.Module):
    """One recurrent layer -> its last state h_T -> Linear(H, 1); input (T, B, 2)."""

    def __init__(self, cell: str, hidden_size: int):
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"cell must be one of {sorted(LAYERS)}, got {cell!r}")
        self.cell = cell
        self.rnn = LAYERS[cell](2, hidden_size)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        _, finals = self.rnn(x)
        h_n = finals[0] if isinstance(finals, tuple) else finals  # LSTM: (h_n, c_n)
        return self.fc(h_n[-1])


def step_cell(model: AddingModel):
    """The layer's single-step cell (RNNCell, GRUCell, LSTMCell) holding the very same
    parameter objects, so that running it step by step is the same network."""
    layer = model.rnn
    cell = CELLS[model.cell](layer.input_size, layer.hidden_size)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, name, getattr(layer, f"{name}_l0"))
    return cell


def state_gradients(model: AddingModel, x: np.ndarray, y: np.ndarray) -> dict:
    """dl_b/dh_t for every sequence b and step t = 1..T: {"h": (T, B, H)} (the LSTM also
    {"c": (T, B, H)}, the gradient with respect to its cell state).

    The state is what one step hands the next: h_t (and for the LSTM the pair (h_t, c_t),
    each an independent input of step t + 1, as in ``hx=(h, c)``). So the LSTM's dl/dh_t
    holds c_t fixed, and dl/dc_t holds h_t fixed: it is the gradient carried along the
    cell-state path c' = f * c + i * g alone (zero at t = T, where the loss reads h_T).

    How: the fused layer only exposes the outputs, and the gradient that reaches ``out[t]``
    is the direct path only (here zero: the loss reads h_T alone). The total derivative
    dl/dh_t is the adjoint of the node h_t in the unrolled graph, so the network is run step
    by step with its cell and a zero "probe" e_t (a leaf) is added to each state,
    h_t <- h_t + e_t: the forward values do not change, and since dh_t/de_t = I,
    dl/de_t = dl/dh_t, all of them from one backward pass. The loss is the *sum* of the
    per-sequence losses, so row b of dl/de_t is dl_b/dh_t^(b) (the sequences do not
    interact), not scaled by 1/B.
    """
    cell = step_cell(model)
    xt = tr.tensor(np.asarray(x, dtype=model.fc.weight.dtype))
    T, B, _ = xt.shape
    H = model.rnn.hidden_size
    zeros = lambda: tr.tensor(np.zeros((B, H), dtype=xt.dtype), requires_grad=True)  # noqa
    lstm = model.cell == "lstm"
    h = tr.tensor(np.zeros((B, H), dtype=xt.dtype))
    c = tr.tensor(np.zeros((B, H), dtype=xt.dtype)) if lstm else None
    probes_h, probes_c = [], []
    for t in range(T):
        if lstm:
            h, c = cell(xt[t], (h, c))
            probes_c.append(zeros())
            c = c + probes_c[-1]
        else:
            h = cell(xt[t], h)
        probes_h.append(zeros())
        h = h + probes_h[-1]
    loss = F.mse_loss(model.fc(h), tr.tensor(np.asarray(y, dtype=xt.dtype)), reduction="sum")
    loss.backward()
    model.zero_grad()  # the parameters got gradients too; they are not wanted here
    # A probe the loss does not reach (c_T: the loss reads h_T only) gets no gradient.
    grad = lambda e: np.zeros((B, H)) if e.grad is None else np.asarray(e.grad)  # noqa: E731
    grads = {"h": np.stack([grad(e) for e in probes_h])}
    if lstm:
        grads["c"] = np.stack([grad(e) for e in probes_c])
    return grads


def gradient_norms(model: AddingModel, x: np.ndarray, y: np.ndarray) -> dict:
    """||dl_b/dh_t|| averaged over the batch, indexed by the distance T - t from the loss
    (0 .. T-1), computed in float64 on a copy (so that the tanh RNN's geometric decay is not
    cut off by float32's range). The LSTM also gets the same for its cell state c_t."""
    model64 = copy.deepcopy(model).double()
    grads = state_gradients(model64, np.asarray(x, np.float64), np.asarray(y, np.float64))
    # [::-1]: step t = T (index T-1) is distance 0.
    return {k: np.linalg.norm(g, axis=2).mean(axis=1)[::-1].tolist() for k, g in grads.items()}


@dataclass
class MemoryConfig:
    length: int = 100                 # T
    cells: tuple = ("rnn", "gru", "lstm")
    steps: int = 2000                 # training steps per cell (the same for every cell)
    batch_size: int = 64
    hidden: int = 64
    lr: float = 1e-2
    clip: float = 1.0                 # gradient-norm clipping: tanh recurrences spike
    eval_every: int = 50
    test_size: int = 1000             # held-out sequences, the same for every cell
    grad_batch: int = 100             # sequences averaged in the gradient-norm panel
    target_mse: float = 0.01          # reported: first step/time each cell reaches it
    stop_at: float | None = None      # optional: stop a cell at this test MSE
    budget_seconds: float | None = None  # optional wall-clock bound per cell
    seed: int = 0
    progress: bool = True


def evaluate(model, x, y, chunk: int = 500) -> float:
    """Test MSE without a graph, in chunks to bound memory."""
    total = 0.0
    with tr.no_grad():
        for s in range(0, x.shape[1], chunk):
            pred = model(tr.tensor(x[:, s:s + chunk])).data
            total += float(np.sum((np.asarray(pred) - y[s:s + chunk]) ** 2))
    return total / x.shape[1]


def train_cell(cell: str, cfg: MemoryConfig, test, log=print) -> dict:
    """Train one cell on the adding problem; returns its curve and summary figures."""
    tr.manual_seed(cfg.seed)  # the same seed for every cell's initialisation
    model = AddingModel(cell, cfg.hidden)
    # The gradient-norm panel is measured before the first update: "at initialisation".
    gx, gy = adding_problem(cfg.grad_batch, cfg.length,
                            np.random.default_rng([cfg.seed, 2]), np.float64)
    norms = gradient_norms(model, gx, gy)
    # Every cell sees the same stream of training batches.
    rng = np.random.default_rng([cfg.seed, 0])
    optimizer = tr.optim.Adam(model.parameters(), lr=cfg.lr)
    x_test, y_test = test
    curve = [{"step": 0, "seconds": 0.0, "test_mse": evaluate(model, x_test, y_test)}]
    reached = None
    start = time.perf_counter()
    steps = progress(range(1, cfg.steps + 1), NAMES[cell], cfg.progress)
    for step in steps:
        x, y = adding_problem(cfg.batch_size, cfg.length, rng)
        optimizer.zero_grad()
        loss = F.mse_loss(model(tr.tensor(x)), tr.tensor(y))
        loss.backward()
        tr.optim.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        elapsed = time.perf_counter() - start
        over = cfg.budget_seconds is not None and elapsed >= cfg.budget_seconds
        if step % cfg.eval_every == 0 or step == cfg.steps or over:
            mse = evaluate(model, x_test, y_test)
            curve.append({"step": step, "seconds": round(elapsed, 3), "test_mse": mse})
            if hasattr(steps, "set_postfix"):
                steps.set_postfix(test_mse=f"{mse:.4f}")
            if step % (10 * cfg.eval_every) == 0:  # a line now and then for logs
                log(f"{NAMES[cell]}: step {step}, {elapsed:.0f} s, test MSE {mse:.4f}")
            if reached is None and mse <= cfg.target_mse:
                reached = curve[-1]
                log(f"{NAMES[cell]}: test MSE {mse:.4f} <= {cfg.target_mse} at step {step} "
                    f"({elapsed:.0f} s)")
            if over or (cfg.stop_at is not None and mse <= cfg.stop_at):
                break
    seconds = time.perf_counter() - start
    trained = gradient_norms(model, gx, gy)  # the same sequences, after training
    final = curve[-1]
    log(f"{NAMES[cell]}: {final['step']} steps in {seconds:.0f} s, final test MSE "
        f"{final['test_mse']:.4f}, best {min(p['test_mse'] for p in curve):.4f}")
    return {"cell": cell, "name": NAMES[cell], "steps": final["step"],
            "seconds": round(seconds, 3), "final_test_mse": final["test_mse"],
            "best_test_mse": min(p["test_mse"] for p in curve),
            "reached_target_step": reached and reached["step"],
            "reached_target_seconds": reached and reached["seconds"],
            "curve": curve, "grad_norm_h": norms["h"], "grad_norm_c": norms.get("c"),
            "grad_norm_h_trained": trained["h"], "grad_norm_c_trained": trained.get("c")}


def run_memory(cfg: MemoryConfig, plot: str | None = None, log=print) -> dict:
    """Train every cell of ``cfg.cells`` on the same budget; returns the figures (and writes
    the two-panel PNG to ``plot``)."""
    for name in ("length", "steps", "batch_size", "hidden", "eval_every", "test_size",
                 "grad_batch"):
        if getattr(cfg, name) < (2 if name == "length" else 1):
            raise ValueError(f"{name} must be >= {2 if name == 'length' else 1}, "
                             f"got {getattr(cfg, name)}")
    unknown = [c for c in cfg.cells if c not in LAYERS]
    if unknown or not cfg.cells:
        raise ValueError(f"cells must be among {sorted(LAYERS)}, got {list(cfg.cells)}")
    test = adding_problem(cfg.test_size, cfg.length, np.random.default_rng([cfg.seed, 1]))
    baseline = float(np.mean((test[1] - 1.0) ** 2))
    log(f"adding problem, T = {cfg.length}: predicting 1 gives test MSE {baseline:.4f} "
        f"(expected 1/6 = {BASELINE_MSE:.4f})")
    load_before, started = _load(), time.perf_counter()
    results = [train_cell(cell, cfg, test, log) for cell in cfg.cells]
    figures = {"task": "adding problem (one marker in each half; y = v_i + v_j)",
               "baseline_test_mse": baseline, "cells": results,
               "total_seconds": round(time.perf_counter() - started, 1),
               "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(),
                           "load_before": load_before, "load_after": _load()},
               "config": {k: (list(v) if isinstance(v, tuple) else v)
                          for k, v in asdict(cfg).items() if k != "progress"}}
    if plot:
        plot_memory(figures, plot)
    return figures


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine()


def _load():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # not on every platform
        return None


def plot_memory(figures: dict, path: str):
    """(a) test MSE against training step per cell; (b) ||dl/dh_t|| at initialisation
    against the distance T - t from the loss."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from e
    cfg = figures["config"]
    colors = {"rnn": "tab:red", "gru": "tab:blue", "lstm": "tab:green"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    for r in figures["cells"]:
        steps = [p["step"] for p in r["curve"]]
        ax1.plot(steps, [p["test_mse"] for p in r["curve"]], color=colors[r["cell"]],
                 label=f"{r['name']} (final {r['final_test_mse']:.4f})")
    ax1.axhline(BASELINE_MSE, color="gray", ls="--", lw=1, label="predict 1 (1/6)")
    ax1.axhline(cfg["target_mse"], color="gray", ls=":", lw=1,
                label=f"target {cfg['target_mse']}")
    ax1.set_yscale("log")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("test MSE")
    ax1.set_title(f"(a) adding problem, T = {cfg['length']}: batch {cfg['batch_size']}, "
                  f"H = {cfg['hidden']}, Adam lr {cfg['lr']}", fontsize=10)
    ax1.legend(fontsize=8)
    for r in figures["cells"]:
        d = np.arange(len(r["grad_norm_h"]))
        ax2.plot(d, r["grad_norm_h"], color=colors[r["cell"]], label=f"{r['name']}: h_t")
        if r.get("grad_norm_c"):
            # From distance 1: at distance 0 the loss does not read c_T (the norm is 0).
            ax2.plot(d[1:], r["grad_norm_c"][1:], color=colors[r["cell"]], ls="--",
                     label=f"{r['name']}: cell state c_t")
    for r in figures["cells"]:  # thin, for comparison: the same after training
        d = np.arange(len(r["grad_norm_h_trained"]))
        ax2.plot(d, r["grad_norm_h_trained"], color=colors[r["cell"]], ls=":", lw=1,
                 label=f"{r['name']}: h_t after training")
    ax2.set_yscale("log")
    ax2.set_xlabel("distance from the loss, T - t (steps)")
    ax2.set_ylabel("mean ||dl/dh_t||")
    ax2.set_title("(b) gradient reaching each state: at initialisation (solid), "
                  "after training (dotted)", fontsize=10)
    ax2.legend(fontsize=7, ncol=2)
    for ax in (ax1, ax2):
        ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_table(figures: dict) -> str:
    target = figures["config"]["target_mse"]
    lines = [f"| cell | final test MSE | best test MSE | steps | seconds | reached {target} at |",
             "|---|---:|---:|---:|---:|---|"]
    for r in figures["cells"]:
        at = (f"step {r['reached_target_step']} ({r['reached_target_seconds']:.0f} s)"
              if r["reached_target_step"] else "not reached")
        lines.append(f"| {r['name']} | {r['final_test_mse']:.4f} | {r['best_test_mse']:.4f} | "
                     f"{r['steps']} | {r['seconds']:.0f} | {at} |")
    return "\n".join(lines)

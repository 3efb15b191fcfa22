"""``tinyrnn gradcheck``: the gradient checks of every cell on every kernel on this machine.

For each kernel and cell (RNN, GRU, LSTM): central-difference checks (float64) of whole
layers on random configurations (layers, directions, batch_first, relu, lengths), and the
kernel against the cell's NumPy reference kernel in float64 (1e-10) and float32 (1e-5) with
truncation and lengths.
"""
from __future__ import annotations

import time

import numpy as np

import tinyrnn as tr


CELL_NAMES = ("rnn", "gru", "lstm")
_LAYERS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


def _layer_config(rng):
    return dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)), I=int(rng.integers(1, 4)),
                H=int(rng.integers(1, 4)), layers=int(rng.integers(1, 3)),
                bidirectional=bool(rng.integers(2)), batch_first=bool(rng.integers(2)),
                nonlinearity=str(rng.choice(["tanh", "relu"])), lengths=bool(rng.integers(2)))


def _gradcheck_once(rng, cell, kernel, device):
    c = _layer_config(rng)
    tr.manual_seed(int(rng.integers(2**31)))
    extra = {"nonlinearity": c["nonlinearity"]} if cell == "rnn" else {}
    layer = getattr(tr.nn, _LAYERS[cell])(c["I"], c["H"], num_layers=c["layers"],
                                          batch_first=c["batch_first"],
                                          bidirectional=c["bidirectional"], **extra).double()
    if c["nonlinearity"] == "relu" and cell == "rnn":
        for p in layer.parameters():
            p.data *= 0.8
    layer.to(device)
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x = tr.tensor(rng.standard_normal(shape), requires_grad=True).to(device)
    lengths = None
    if c["lengths"]:
        lengths = rng.integers(1, c["T"] + 1, size=c["B"])
        lengths[0] = c["T"]

    def fn(x, *params):
        out, finals = layer(x, lengths=lengths)
        return (out,) + (finals if isinstance(finals, tuple) else (finals,))

    with tr.use_kernel(kernel):
        tr.gradcheck(fn, [x, *layer.parameters()])
    return c


def _parity_once(rng, cell, backend, dtype, xp):
    """The kernel against the NumPy reference on one random case."""
    from tinyrnn.kernels.cells import CELLS, kernel
    spec = CELLS[cell]
    T, B, H = (int(v) for v in rng.integers(1, 8, size=3))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    xw = rng.standard_normal((T, B, spec.gates * H)).astype(dtype)
    w = (rng.standard_normal((spec.gates * H, H)) / np.sqrt(H)).astype(dtype)
    state0 = rng.standard_normal((spec.states, B, H)).astype(dtype)
    g_ys = rng.standard_normal((spec.states, T, B, H)).astype(dtype)
    options = {"rnn": {"nonlinearity": str(rng.choice(["tanh", "relu"]))},
               "gru": {"b_hn": rng.standard_normal(H).astype(dtype)}, "lstm": {}}[cell]
    lengths = rng.integers(1, T + 1, size=B)
    truncate = int(rng.integers(1, T + 2))
    ref = kernel(cell, "numpy")
    ys_ref, saved_ref = ref.forward(xw, w, state0, lengths, **options)
    grads_ref = ref.backward(g_ys, ys_ref, saved_ref, state0, w, truncate, lengths, **options)
    dev = lambda a: None if a is None else xp.asarray(a)  # noqa: E731
    ours = kernel(cell, backend)
    dev_options = {k: dev(v) if k == "b_hn" else v for k, v in options.items()}
    ys, saved = ours.forward(dev(xw), dev(w), dev(state0), dev(lengths), **dev_options)
    grads = ours.backward(dev(g_ys), ys, saved, dev(state0), dev(w), truncate, dev(lengths),
                          **dev_options)
    for name, a, b in zip(("ys", "d_xw", "d_hw", "d_state0"), (ys, *grads),
                          (ys_ref, *grads_ref)):
        a = a.get() if hasattr(a, "get") else a
        err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
        if not err <= tol:
            raise AssertionError(f"the {backend} {cell} kernel's {name} differs from the "
                                 f"reference by {err:.2e} (tolerance {tol:.0e}) at T={T}, "
                                 f"B={B}, H={H}")


def run_gradchecks(examples: int = 12, seed: int = 0, log=print, kernels=None) -> bool:
    """Run the checks for every cell on every kernel here (or on ``kernels``); one line per
    (kernel, cell); True when everything passed."""
    from tinyrnn.kernels.cells import has_kernel
    ok = True
    available = tr.available_kernels()
    missing = sorted(set(kernels or ()) - set(available))
    if missing:
        raise ValueError(f"kernels {missing} are not available here (available: {available})")
    for name in kernels or available:
        device = "cuda" if name == "cuda" else "cpu"
        xp = np
        if device == "cuda":
            import cupy as xp
        for cell in CELL_NAMES:
            if not has_kernel(cell, name):
                log(f"{name:6} {cell:5} -  no {name} kernel for this cell yet (the NumPy "
                    f"reference runs instead)")
                continue
            rng = np.random.default_rng(seed)
            t0 = time.perf_counter()
            try:
                for _ in range(examples):
                    _gradcheck_once(rng, cell, name, device)
                    for dtype in (np.float64, np.float32):
                        _parity_once(rng, cell, name, dtype, xp)
                log(f"{name:6} {cell:5} ok: {examples} layer gradchecks (float64) and "
                    f"{2 * examples} kernel-vs-reference checks in "
                    f"{time.perf_counter() - t0:.1f} s")
            except AssertionError as e:
                ok = False
                log(f"{name:6} {cell:5} FAILED: {e}")
    return ok

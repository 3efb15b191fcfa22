"""``tinyrnn gradcheck``: the gradient checks of every kernel available on this machine.

For each kernel: central-difference checks (float64) of the whole RNN on random
configurations (layers, directions, batch_first, relu, lengths), and the kernel against
the NumPy reference kernel in float64 (1e-10) and float32 (1e-5) with truncation and
lengths.
"""
from __future__ import annotations

import time

import numpy as np

import tinyrnn as tr


def _rnn_config(rng):
    return dict(T=int(rng.integers(1, 6)), B=int(rng.integers(1, 4)), I=int(rng.integers(1, 4)),
                H=int(rng.integers(1, 4)), layers=int(rng.integers(1, 3)),
                bidirectional=bool(rng.integers(2)), batch_first=bool(rng.integers(2)),
                nonlinearity=str(rng.choice(["tanh", "relu"])), lengths=bool(rng.integers(2)))


def _gradcheck_once(rng, kernel, device):
    c = _rnn_config(rng)
    tr.manual_seed(int(rng.integers(2**31)))
    rnn = tr.nn.RNN(c["I"], c["H"], num_layers=c["layers"], nonlinearity=c["nonlinearity"],
                    batch_first=c["batch_first"], bidirectional=c["bidirectional"]).double()
    if c["nonlinearity"] == "relu":
        for p in rnn.parameters():
            p.data *= 0.8
    rnn.to(device)
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x = tr.tensor(rng.standard_normal(shape), requires_grad=True).to(device)
    lengths = None
    if c["lengths"]:
        lengths = rng.integers(1, c["T"] + 1, size=c["B"])
        lengths[0] = c["T"]
    with tr.use_kernel(kernel):
        tr.gradcheck(lambda x, *p: rnn(x, lengths=lengths), [x, *rnn.parameters()])
    return c


def _parity_once(rng, kernel_module, reference, dtype, xp):
    T, B, H = (int(v) for v in rng.integers(1, 8, size=3))
    tol = 1e-10 if dtype == np.float64 else 1e-5
    arrays = [rng.standard_normal(s).astype(dtype) for s in
              [(T, B, H), (H, H), (B, H), (T, B, H), (B, H)]]
    arrays[1] /= np.sqrt(H)
    xw, w, h0, g, g_hn = arrays
    lengths = rng.integers(1, T + 1, size=B)
    truncate = int(rng.integers(1, T + 2))
    nl = str(rng.choice(["tanh", "relu"]))
    hs_ref = reference.forward(xw, w, h0, nl, lengths)
    grads_ref = reference.backward(g, hs_ref, h0, w, nl, truncate, lengths, g_hn)
    dev = [xp.asarray(a) for a in (xw, w, h0, g, g_hn)]
    hs = kernel_module.forward(dev[0], dev[1], dev[2], nl, xp.asarray(lengths))
    grads = kernel_module.backward(dev[3], hs, dev[2], dev[1], nl, truncate,
                                   xp.asarray(lengths), dev[4])
    for ours, ref in zip((hs, *grads), (hs_ref, *grads_ref)):
        ours = ours.get() if hasattr(ours, "get") else ours
        err = np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30)
        if not err <= tol:
            raise AssertionError(f"{kernel_module.__name__} differs from the reference by "
                                 f"{err:.2e} (tolerance {tol:.0e}) at T={T}, B={B}, H={H}")


def run_gradchecks(examples: int = 12, seed: int = 0, log=print) -> bool:
    """Run the checks; print one line per kernel; True when everything passed."""
    from tinyrnn.kernels import numpy_kernel
    ok = True
    for name in tr.available_kernels():
        device = "cuda" if name == "cuda" else "cpu"
        module = __import__(f"tinyrnn.kernels.{name}_kernel", fromlist=["forward"])
        xp = np
        if device == "cuda":
            import cupy as xp
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        try:
            for _ in range(examples):
                _gradcheck_once(rng, name, device)
                for dtype in (np.float64, np.float32):
                    _parity_once(rng, module, numpy_kernel, dtype, xp)
            log(f"{name:6} ok: {examples} RNN gradchecks (float64) and {2 * examples} "
                f"kernel-vs-reference checks in {time.perf_counter() - t0:.1f} s")
        except AssertionError as e:
            ok = False
            log(f"{name:6} FAILED: {e}")
    return ok

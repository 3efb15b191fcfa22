"""The adding-problem workflow (``tinyrnn memory``): data, the gradient-norm probe, the CLI."""
import json

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.cli import main
from tinyrnn.workflows.memory import BASELINE_MSE, AddingModel, MemoryConfig, adding_problem, \
    format_table, gradient_norms, run_memory, state_gradients


def test_adding_problem_markers_targets_and_the_constant_baseline():
    rng = np.random.default_rng(0)
    T, n = 100, 20000
    x, y = adding_problem(n, T, rng)
    assert x.shape == (T, n, 2) and y.shape == (n, 1) and x.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0 and values.max() <= 1
    assert set(np.unique(markers)) == {0.0, 1.0}
    # Exactly two markers, one in each half.
    assert np.all(markers.sum(axis=0) == 2)
    assert np.all(markers[:T // 2].sum(axis=0) == 1) and np.all(markers[T // 2:].sum(axis=0) == 1)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=0), rtol=1e-6)
    # Predicting the constant 1 (= E[y]) gives Var(v_i + v_j) = 1/6.
    mse = float(np.mean((y - 1.0) ** 2))
    assert mse == pytest.approx(BASELINE_MSE, abs=0.005) and mse == pytest.approx(0.167, abs=0.005)
    # Deterministic from the Generator's seed; odd lengths keep one marker in each half.
    x2, y2 = adding_problem(n, T, np.random.default_rng(0))
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    x3, _ = adding_problem(50, 7, rng)
    assert np.all(x3[:3, :, 1].sum(axis=0) == 1) and np.all(x3[3:, :, 1].sum(axis=0) == 1)
    with pytest.raises(ValueError):
        adding_problem(5, 1, rng)


def _loss_from_state(model, x, y, t, delta):
    """The summed loss with h_t (t = 1..T) moved by ``delta``, through the fused layer:
    the layer run to step t, then from the moved state to step T (independent of the
    cell-by-cell probe under test)."""
    T = x.shape[0]
    lstm = model.cell == "lstm"
    _, finals = model.rnn(tr.tensor(x[:t]))
    h, c = (finals[0].data, finals[1].data) if lstm else (finals.data, None)
    h = h + delta[None]
    if t < T:
        hx = (tr.tensor(h), tr.tensor(c)) if lstm else tr.tensor(h)
        _, finals = model.rnn(tr.tensor(x[t:]), hx)
        h = (finals[0] if lstm else finals).data
    pred = model.fc(tr.tensor(h[0])).data
    return float(np.sum((pred - y) ** 2))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_state_gradients_match_central_differences(cell):
    rng = np.random.default_rng(1)
    T, B, H = 6, 2, 3
    tr.manual_seed(3)
    model = AddingModel(cell, H).double()
    x, y = adding_problem(B, T, rng, np.float64)
    grads = state_gradients(model, x, y)["h"]
    assert grads.shape == (T, B, H)
    eps = 1e-6
    with tr.use_kernel("numpy"):  # the reference kernel: no JIT compilation for this case
        _check_against_differences(model, x, y, grads, eps)
    assert all(p.grad is None for p in model.parameters())


def _check_against_differences(model, x, y, grads, eps):
    T, B, H = grads.shape
    for t in range(1, T + 1):
        numeric = np.zeros((B, H))
        for b in range(B):
            for k in range(H):
                d = np.zeros((B, H))
                d[b, k] = eps
                numeric[b, k] = (_loss_from_state(model, x, y, t, d)
                                 - _loss_from_state(model, x, y, t, -d)) / (2 * eps)
        np.testing.assert_allclose(grads[t - 1], numeric, rtol=1e-6, atol=1e-9)


def test_gradient_norms_decay_and_what_the_gates_change():
    """At initialisation every cell's ||dl/dh_t|| decays geometrically with the distance;
    for the tanh RNN it can never decay slower than ||W_hh||_2 per step allows (tanh' <= 1),
    while a GRU whose update gate is open (z -> 1) and an LSTM whose forget gate is open
    (f -> 1) carry the gradient over any distance."""
    rng = np.random.default_rng(0)
    T = 60
    x, y = adding_problem(32, T, rng)
    norms = {}
    for cell in ("rnn", "gru", "lstm"):
        tr.manual_seed(0)
        model = AddingModel(cell, 32)
        norms[cell] = gradient_norms(model, x, y)
        assert len(norms[cell]["h"]) == T and ("c" in norms[cell]) == (cell == "lstm")
        assert model.rnn.weight_hh_l0.dtype == np.float32  # computed on a float64 copy
        assert norms[cell]["h"][T - 1] < 1e-6 * norms[cell]["h"][0]  # vanishing at init
    # tanh RNN: ||dl/dh_t|| <= ||W_hh||_2^(T-t) ||dl/dh_T|| (sequence by sequence, so also
    # on the batch mean).
    tr.manual_seed(0)
    rnn = AddingModel("rnn", 32)
    sigma = np.linalg.norm(rnn.rnn.weight_hh_l0.data.astype(np.float64), 2)
    d = np.arange(T)
    assert np.all(np.array(norms["rnn"]["h"]) <= sigma ** d * norms["rnn"]["h"][0] * (1 + 1e-9))
    # Gates held open: the GRU's h' = (1 - z) n + z h with z ~ 1 is an identity path.
    tr.manual_seed(0)
    gru = AddingModel("gru", 32)
    gru.rnn.bias_hh_l0.data[32:64] += 30.0
    h = gradient_norms(gru, x, y)["h"]
    assert min(h) > 0.9 * h[0]
    # ... and the LSTM's c' = f c + i g with f ~ 1 keeps the cell-state gradient.
    tr.manual_seed(0)
    lstm = AddingModel("lstm", 32)
    lstm.rnn.bias_hh_l0.data[32:64] += 30.0
    c = gradient_norms(lstm, x, y)["c"]
    assert min(c[1:]) > 0.5 * c[1]


def test_run_memory_figures_and_table(tmp_path):
    cfg = MemoryConfig(length=8, steps=6, batch_size=8, hidden=4, eval_every=3, test_size=50,
                       grad_batch=4, cells=("gru", "rnn"), progress=False)
    logged = []
    # The NumPy reference kernel: what is tested is the workflow, not a JIT compilation.
    with tr.use_kernel("numpy"):
        figures = run_memory(cfg, plot=str(tmp_path / "m.png"), log=logged.append)
        again = run_memory(cfg, log=lambda *a: None)
    assert [r["cell"] for r in figures["cells"]] == ["gru", "rnn"]
    for r, s in zip(figures["cells"], again["cells"]):  # deterministic with the seed
        assert [p["step"] for p in r["curve"]] == [0, 3, 6]
        assert [p["test_mse"] for p in r["curve"]] == [p["test_mse"] for p in s["curve"]]
        assert len(r["grad_norm_h"]) == 8
    assert "| GRU |" in format_table(figures) and (tmp_path / "m.png").stat().st_size > 0
    with pytest.raises(ValueError):
        run_memory(MemoryConfig(cells=("transformer",)))


def test_cli_memory_writes_json_and_png(tmp_path, capsys):
    out, png = tmp_path / "memory.json", tmp_path / "memory.png"
    with tr.use_kernel("numpy"):
        main(["memory", "--length", "10", "--steps", "4", "--batch-size", "8", "--hidden", "4",
              "--eval-every", "2", "--test-size", "40", "--cells", "rnn", "lstm", "--seed", "1",
              "--json", str(out), "--plot", str(png)])
    printed = capsys.readouterr().out
    assert "| tanh RNN |" in printed and "| LSTM |" in printed
    figures = json.loads(out.read_text())
    assert [r["cell"] for r in figures["cells"]] == ["rnn", "lstm"]
    assert figures["config"]["length"] == 10 and figures["cells"][1]["grad_norm_c"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        main(["memory", "--cells", "cnn"])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_cli_sentiment_cell_option(tmp_path, cell):
    from tinyrnn.data import make_synthetic_imdb
    root = make_synthetic_imdb(tmp_path / "c", n_train=40, n_test=20, seed=2, min_len=8,
                               max_len=16)
    out = tmp_path / "s.json"
    main(["sentiment", "--data", root, "--epochs", "1", "--hidden", "8", "--cell", cell,
          "--json", str(out)])
    figures = json.loads(out.read_text())
    assert 0 <= figures["test_accuracy"] <= 1 and figures["config"]["cell"] == cell

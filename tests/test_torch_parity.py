"""Parity with torch.nn.RNN, GRU and LSTM (and their cells): outputs, final states and every
gradient from the same float64 state dict, with packed sequences and truncation."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr

from .helpers import STATES, cell_of, make_layer, random_lengths, run

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")

CELL_NAMES = ["rnn", "gru", "lstm"]
TORCH = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}

configs = st.fixed_dictionaries({
    "cell": st.sampled_from(CELL_NAMES),
    "T": st.integers(1, 7), "B": st.integers(1, 4), "I": st.integers(1, 5),
    "H": st.integers(1, 5), "layers": st.integers(1, 3), "bidirectional": st.booleans(),
    "batch_first": st.booleans(), "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "bias": st.booleans(), "use_hx": st.booleans(), "use_lengths": st.booleans(),
    "seed": st.integers(0, 2**31 - 1),
})


def torch_twin(layer):
    cell = cell_of(layer)
    kwargs = {"nonlinearity": layer.nonlinearity} if cell == "rnn" else {}
    twin = getattr(torch.nn, TORCH[cell])(
        layer.input_size, layer.hidden_size, num_layers=layer.num_layers, bias=layer.bias,
        batch_first=layer.batch_first, bidirectional=layer.bidirectional, **kwargs).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    return twin


def torch_forward(twin, x, states, lengths, batch_first):
    """Returns (out, [h_n] or [h_n, c_n]) like helpers.run."""
    hx = None if states is None else (tuple(states) if len(states) == 2 else states[0])
    if lengths is None:
        out, finals = twin(x, hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, finals = twin(packed, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0])
    return out, list(finals) if isinstance(finals, tuple) else [finals]


def assert_rel(a, b, what):
    scale = max(np.abs(b).max(), 1e-12)
    assert np.abs(a - b).max() <= 1e-8 * scale, f"{what}: max diff {np.abs(a - b).max()}"


def assert_same_run(layer, twin, ours, theirs, states, t_states, x, tx):
    """Outputs, final states and the gradients of input, initial states and parameters."""
    (out, finals), (t_out, t_finals) = ours, theirs
    assert_rel(out.data, t_out.detach().numpy(), "output")
    for k, (f, tf) in enumerate(zip(finals, t_finals)):
        assert_rel(f.data, tf.detach().numpy(), f"final state {k}")
    assert_rel(x.grad, tx.grad.numpy(), "d input")
    for k, (s, ts) in enumerate(zip(states or [], t_states or [])):
        assert_rel(s.grad, ts.grad.numpy(), f"d initial state {k}")
    for name, p in layer.named_parameters():
        assert_rel(p.grad, getattr(twin, name).grad.numpy(), f"d {name}")


def weighted_loss(arrays, weights, wrap):
    return sum((a * wrap(w)).sum() for a, w in zip(arrays, weights))


@given(c=configs)
def test_outputs_and_all_gradients_match_torch(c):
    rng = np.random.default_rng(c["seed"])
    layer = make_layer(rng, c["cell"], c["I"], c["H"], c["layers"], c["bidirectional"],
                       c["nonlinearity"], c["batch_first"], c["bias"])
    twin = torch_twin(layer)
    D = 2 if c["bidirectional"] else 1
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x_np = rng.standard_normal(shape)
    s_np = [rng.standard_normal((c["layers"] * D, c["B"], c["H"]))
            for _ in range(STATES[c["cell"]])] if c["use_hx"] else None
    lengths = random_lengths(rng, c["T"], c["B"]) if c["use_lengths"] else None

    x = tr.tensor(x_np, requires_grad=True)
    states = [tr.tensor(s, requires_grad=True) for s in s_np] if s_np else None
    out, finals = run(layer, x, states, lengths=lengths)
    weights = [rng.standard_normal(a.shape) for a in [out] + finals]
    weighted_loss([out] + finals, weights, tr.tensor).backward()

    tx = torch.tensor(x_np, requires_grad=True)
    t_states = [torch.tensor(s, requires_grad=True) for s in s_np] if s_np else None
    t_out, t_finals = torch_forward(twin, tx, t_states, lengths, c["batch_first"])
    weighted_loss([t_out] + t_finals, weights, torch.from_numpy).backward()
    assert_same_run(layer, twin, (out, finals), (t_out, t_finals), states, t_states, x, tx)


@given(cell=st.sampled_from(CELL_NAMES), T=st.integers(2, 12), k=st.integers(1, 6),
       layers=st.integers(1, 3), batch_first=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_truncate_matches_torch_chunked_loop(cell, T, k, layers, batch_first, seed):
    rng = np.random.default_rng(seed)
    layer = make_layer(rng, cell, 3, 4, layers, False, batch_first=batch_first)
    twin = torch_twin(layer)
    B = 2
    x_np = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    s_np = [rng.standard_normal((layers, B, 4)) for _ in range(STATES[cell])]
    x = tr.tensor(x_np, requires_grad=True)
    states = [tr.tensor(s, requires_grad=True) for s in s_np]
    out, finals = run(layer, x, states, truncate=k)
    w = rng.standard_normal(out.shape)
    weighted_loss([out] + finals, [w] + [np.ones(f.shape) for f in finals], tr.tensor).backward()

    tx = torch.tensor(x_np, requires_grad=True)
    t_states = [torch.tensor(s, requires_grad=True) for s in s_np]
    time_axis = 1 if batch_first else 0
    outs, carried = [], t_states
    for start in range(0, T, k):
        chunk = tx.narrow(time_axis, start, min(k, T - start))
        o, carried = torch_forward(twin, chunk,
                                   [s.detach() for s in carried] if start > 0 else carried,
                                   None, batch_first)
        outs.append(o)
    t_out = torch.cat(outs, dim=time_axis)
    weighted_loss([t_out] + carried, [w] + [np.ones(f.shape) for f in finals],
                  torch.from_numpy).backward()
    assert_same_run(layer, twin, (out, finals), (t_out, carried), states, t_states, x, tx)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_cells_match_torch(cell):
    rng = np.random.default_rng(0)
    tr.manual_seed(0)
    ours = {"rnn": tr.nn.RNNCell, "gru": tr.nn.GRUCell, "lstm": tr.nn.LSTMCell}[cell](3, 5)
    ours = ours.double()
    twin = getattr(torch.nn, TORCH[cell] + "Cell")(3, 5).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((4, 3))
    s_np = [rng.standard_normal((4, 5)) for _ in range(STATES[cell])]

    def call(module, x, states):
        out = module(x, tuple(states) if cell == "lstm" else states[0])
        return list(out) if isinstance(out, tuple) else [out]

    xs, hs = tr.tensor(x, requires_grad=True), [tr.tensor(a, requires_grad=True) for a in s_np]
    tx, ths = torch.tensor(x, requires_grad=True), [torch.tensor(a, requires_grad=True)
                                                    for a in s_np]
    out, t_out = call(ours, xs, hs), call(twin, tx, ths)
    weights = [rng.standard_normal(o.shape) for o in out]
    weighted_loss(out, weights, tr.tensor).backward()
    weighted_loss(t_out, weights, torch.from_numpy).backward()
    for a, b in zip(out, t_out):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xs.grad, tx.grad.numpy(), rtol=1e-10)
    for a, b in zip(hs, ths):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(twin, name).grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_initialisation_has_torch_names_shapes_and_bounds(cell):
    layer = make_layer(np.random.default_rng(0), cell, 3, 16, 2, True, dtype=np.float32)
    twin = getattr(torch.nn, TORCH[cell])(3, 16, num_layers=2, bidirectional=True)
    ours = layer.state_dict()
    theirs = twin.state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        assert ours[k].shape == tuple(theirs[k].shape) and ours[k].dtype == np.float32
        assert np.abs(ours[k]).max() <= 1 / 4 + 1e-7


def test_cross_entropy_and_optimizers_match_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4)) * 10
    target = rng.integers(0, 4, 5)
    x = tr.tensor(logits, requires_grad=True)
    loss = tr.nn.functional.cross_entropy(x, target)
    loss.backward()
    tx = torch.tensor(logits, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.from_numpy(target))
    tl.backward()
    np.testing.assert_allclose(loss.item(), tl.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10)

    for ours_cls, theirs_cls, kw in [
        (tr.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
        (tr.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
        (tr.optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ]:
        p0 = rng.standard_normal(6)
        p, tp = tr.nn.Parameter(p0.copy()), torch.tensor(p0.copy(), requires_grad=True)
        opt, topt = ours_cls([p], **kw), theirs_cls([tp], **kw)
        for step in range(5):
            g = rng.standard_normal(6)
            p.grad, tp.grad = g.copy(), torch.from_numpy(g.copy())
            opt.step()
            topt.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, err_msg=str(kw))


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_parity_holds_for_every_cpu_kernel(kernel, cell):
    rng = np.random.default_rng(7)
    layer = make_layer(rng, cell, 3, 5, 2, True)
    twin = torch_twin(layer)
    x_np = rng.standard_normal((6, 4, 3))
    lengths = np.array([6, 2, 5, 1])
    x = tr.tensor(x_np, requires_grad=True)
    with tr.use_kernel(kernel):
        out, finals = run(layer, x, lengths=lengths)
        (out.sum() + sum((f * f).sum() for f in finals)).backward()
    tx = torch.tensor(x_np, requires_grad=True)
    t_out, t_finals = torch_forward(twin, tx, None, lengths, False)
    (t_out.sum() + sum((f * f).sum() for f in t_finals)).backward()
    assert_same_run(layer, twin, (out, finals), (t_out, t_finals), None, None, x, tx)

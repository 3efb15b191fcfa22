"""Parity with torch.nn.RNN: outputs, h_n and every gradient from the same float64 state dict."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr

from .helpers import make_rnn, random_lengths

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")

configs = st.fixed_dictionaries({
    "T": st.integers(1, 7), "B": st.integers(1, 4), "I": st.integers(1, 5),
    "H": st.integers(1, 5), "layers": st.integers(1, 3), "bidirectional": st.booleans(),
    "batch_first": st.booleans(), "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "bias": st.booleans(), "use_hx": st.booleans(), "use_lengths": st.booleans(),
    "seed": st.integers(0, 2**31 - 1),
})


def torch_twin(rnn):
    twin = torch.nn.RNN(rnn.input_size, rnn.hidden_size, num_layers=rnn.num_layers,
                        nonlinearity=rnn.nonlinearity, bias=rnn.bias,
                        batch_first=rnn.batch_first, bidirectional=rnn.bidirectional).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in rnn.state_dict().items()})
    return twin


def torch_forward(twin, x, hx, lengths, batch_first):
    if lengths is None:
        return twin(x, hx)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.as_tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    out, h_n = twin(packed, hx)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=batch_first,
                                                    total_length=x.shape[1 if batch_first else 0])
    return out, h_n


def assert_rel(a, b, what):
    scale = max(np.abs(b).max(), 1e-12)
    assert np.abs(a - b).max() <= 1e-8 * scale, f"{what}: max diff {np.abs(a - b).max()}"


@given(c=configs)
def test_outputs_and_all_gradients_match_torch(c):
    rng = np.random.default_rng(c["seed"])
    rnn = make_rnn(rng, c["I"], c["H"], c["layers"], c["bidirectional"], c["nonlinearity"],
                   c["batch_first"], c["bias"])
    twin = torch_twin(rnn)
    D = 2 if c["bidirectional"] else 1
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x_np = rng.standard_normal(shape)
    h_np = rng.standard_normal((c["layers"] * D, c["B"], c["H"])) if c["use_hx"] else None
    lengths = random_lengths(rng, c["T"], c["B"]) if c["use_lengths"] else None

    x = tr.tensor(x_np, requires_grad=True)
    hx = tr.tensor(h_np, requires_grad=True) if c["use_hx"] else None
    out, h_n = rnn(x, hx, lengths=lengths)
    w_out, w_h = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)
    ((out * tr.tensor(w_out)).sum() + (h_n * tr.tensor(w_h)).sum()).backward()

    tx = torch.tensor(x_np, requires_grad=True)
    thx = torch.tensor(h_np, requires_grad=True) if c["use_hx"] else None
    t_out, t_h = torch_forward(twin, tx, thx, lengths, c["batch_first"])
    ((t_out * torch.from_numpy(w_out)).sum() + (t_h * torch.from_numpy(w_h)).sum()).backward()

    assert_rel(out.data, t_out.detach().numpy(), "output")
    assert_rel(h_n.data, t_h.detach().numpy(), "h_n")
    assert_rel(x.grad, tx.grad.numpy(), "d input")
    if c["use_hx"]:
        assert_rel(hx.grad, thx.grad.numpy(), "d hx")
    for name, p in rnn.named_parameters():
        assert_rel(p.grad, getattr(twin, name).grad.numpy(), f"d {name}")


@given(T=st.integers(2, 12), k=st.integers(1, 6), layers=st.integers(1, 3),
       batch_first=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_truncate_matches_torch_chunked_loop(T, k, layers, batch_first, seed):
    rng = np.random.default_rng(seed)
    rnn = make_rnn(rng, 3, 4, layers, False, batch_first=batch_first)
    twin = torch_twin(rnn)
    B = 2
    x_np = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    h_np = rng.standard_normal((layers, B, 4))
    x, hx = tr.tensor(x_np, requires_grad=True), tr.tensor(h_np, requires_grad=True)
    out, h_n = rnn(x, hx, truncate=k)
    w = rng.standard_normal(out.shape)
    ((out * tr.tensor(w)).sum() + h_n.sum()).backward()

    tx, thx = torch.tensor(x_np, requires_grad=True), torch.tensor(h_np, requires_grad=True)
    time_axis = 1 if batch_first else 0
    outs, h = [], thx
    for start in range(0, T, k):
        chunk = tx.narrow(time_axis, start, min(k, T - start))
        o, h = twin(chunk, h.detach() if start > 0 else h)
        outs.append(o)
    t_out = torch.cat(outs, dim=time_axis)
    ((t_out * torch.from_numpy(w)).sum() + h.sum()).backward()

    assert_rel(out.data, t_out.detach().numpy(), "output")
    assert_rel(x.grad, tx.grad.numpy(), "d input")
    assert_rel(hx.grad, thx.grad.numpy(), "d hx")
    for name, p in rnn.named_parameters():
        assert_rel(p.grad, getattr(twin, name).grad.numpy(), f"d {name}")


def test_rnncell_matches_torch():
    rng = np.random.default_rng(0)
    tr.manual_seed(0)
    cell = tr.nn.RNNCell(3, 5).double()
    twin = torch.nn.RNNCell(3, 5).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    x, h = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    ours = cell(tr.tensor(x), tr.tensor(h)).data
    theirs = twin(torch.from_numpy(x), torch.from_numpy(h)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_initialisation_has_torch_names_shapes_and_bounds():
    rnn = tr.nn.RNN(3, 16, num_layers=2, bidirectional=True)
    twin = torch.nn.RNN(3, 16, num_layers=2, bidirectional=True)
    ours = rnn.state_dict()
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


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_parity_holds_for_every_cpu_kernel(kernel):
    rng = np.random.default_rng(7)
    rnn = make_rnn(rng, 3, 5, 2, True)
    twin = torch_twin(rnn)
    x_np = rng.standard_normal((6, 4, 3))
    lengths = np.array([6, 2, 5, 1])
    x = tr.tensor(x_np, requires_grad=True)
    with tr.use_kernel(kernel):
        out, h_n = rnn(x, lengths=lengths)
        (out.sum() + (h_n * h_n).sum()).backward()
    tx = torch.tensor(x_np, requires_grad=True)
    t_out, t_h = torch_forward(twin, tx, None, lengths, False)
    (t_out.sum() + (t_h * t_h).sum()).backward()
    assert_rel(out.data, t_out.detach().numpy(), "output")
    assert_rel(h_n.data, t_h.detach().numpy(), "h_n")
    assert_rel(x.grad, tx.grad.numpy(), "d input")
    for name, p in rnn.named_parameters():
        assert_rel(p.grad, getattr(twin, name).grad.numpy(), f"d {name}")

"""The fused recurrent op's gradients, for every cell: central differences, and agreement
with an independent derivation (the same network unrolled with its cell through the autodiff
engine)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr

from .helpers import STATES, make_layer, random_lengths, run, unrolled

configs = st.fixed_dictionaries({
    "cell": st.sampled_from(["rnn", "gru", "lstm"]),
    "T": st.integers(1, 5), "B": st.integers(1, 3), "I": st.integers(1, 3),
    "H": st.integers(1, 3), "layers": st.integers(1, 2), "bidirectional": st.booleans(),
    "batch_first": st.booleans(), "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "bias": st.booleans(), "truncate": st.one_of(st.none(), st.integers(1, 4)),
    "use_lengths": st.booleans(), "seed": st.integers(0, 2**31 - 1),
})


def _setup(c):
    rng = np.random.default_rng(c["seed"])
    layer = make_layer(rng, c["cell"], c["I"], c["H"], c["layers"], c["bidirectional"],
                       c["nonlinearity"], c["batch_first"], c["bias"])
    D = 2 if c["bidirectional"] else 1
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x = tr.tensor(rng.standard_normal(shape), requires_grad=True)
    states = [tr.tensor(0.5 * rng.standard_normal((c["layers"] * D, c["B"], c["H"])),
                        requires_grad=True) for _ in range(STATES[c["cell"]])]
    lengths = random_lengths(rng, c["T"], c["B"]) if c["use_lengths"] else None
    return layer, x, states, lengths


@given(c=configs)
def test_gradcheck_of_input_initial_states_and_every_parameter(c):
    layer, x, states, lengths = _setup(c)
    params = layer.parameters()
    # Truncated BPTT is deliberately not the true gradient (it is checked against the
    # chunked run below); here truncate is None or k >= T, which must be exact.
    truncate = None if c["truncate"] is None else c["T"] + c["truncate"] - 1
    n = len(states)

    def fn(x, *rest):
        out, finals = run(layer, x, list(rest[:n]), lengths=lengths, truncate=truncate)
        return [out] + finals

    assert tr.gradcheck(fn, [x, *states, *params])


@given(c=configs, loss_on=st.sampled_from(["all", "output", "finals"]))
def test_fused_bptt_equals_unrolled_cells(c, loss_on):
    layer, x, states, lengths = _setup(c)
    rng = np.random.default_rng(c["seed"] + 1)
    out, finals = run(layer, x, states, lengths=lengths, truncate=c["truncate"])
    weights = [rng.standard_normal(a.shape) for a in [out] + finals]
    # The loss on the outputs only, on the final states only, or on both: each output of
    # the fused op may or may not receive a gradient.
    used = {"all": slice(None), "output": slice(0, 1), "finals": slice(1, None)}[loss_on]

    def loss(arrays):
        return sum((a * tr.tensor(w)).sum() for a, w in zip(arrays[used], weights[used]))

    loss([out] + finals).backward()
    leaves = [x, *states, *layer.parameters()]
    fused = [t.grad for t in leaves]
    for t in leaves:
        t.grad = None
    xs = x.transpose(1, 0, 2) if c["batch_first"] else x
    ref_out, ref_finals = unrolled(layer, xs, states, lengths, c["truncate"])
    if c["batch_first"]:
        ref_out = ref_out.transpose(1, 0, 2)
    for a, b in zip([out] + finals, [ref_out] + ref_finals):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12)
    loss([ref_out] + ref_finals).backward()
    names = ["x"] + [f"state{k}" for k in range(len(states))] + \
        [n for n, _ in layer.named_parameters()]
    for name, a, b in zip(names, fused, [t.grad for t in leaves]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=name)


def chunked_run(layer, x, states, k):
    """Chunks [0,k), [k,2k), ... one after another, the carried states detached at each start."""
    outs = []
    for start in range(0, x.shape[0], k):
        out, finals = run(layer, x[start:start + k], states)
        outs.append(out)
        states = [f.detach() for f in finals] if start + k < x.shape[0] else finals
    return tr.concat(outs, axis=0), states


@given(cell=st.sampled_from(["rnn", "gru", "lstm"]), T=st.integers(2, 9), k=st.integers(1, 10),
       layers=st.integers(1, 3), nonlinearity=st.sampled_from(["tanh", "relu"]),
       seed=st.integers(0, 2**31 - 1))
def test_truncate_equals_chunked_loop_with_detached_state(cell, T, k, layers, nonlinearity,
                                                          seed):
    rng = np.random.default_rng(seed)
    layer = make_layer(rng, cell, 2, 3, layers, False, nonlinearity)
    x_np = rng.standard_normal((T, 2, 2))
    s_np = [rng.standard_normal((layers, 2, 3)) for _ in range(STATES[cell])]
    w = rng.standard_normal((T, 2, 3))
    w_final = [rng.standard_normal((layers, 2, 3)) for _ in s_np]

    def grads(run_fn):
        x = tr.tensor(x_np, requires_grad=True)
        states = [tr.tensor(s, requires_grad=True) for s in s_np]
        layer.zero_grad()
        out, finals = run_fn(x, states)
        loss = (out * tr.tensor(w)).sum()
        for f, wf in zip(finals, w_final):
            loss = loss + (f * tr.tensor(wf)).sum()
        loss.backward()
        return [out.data, x.grad] + [s.grad for s in states] + \
            [p.grad for p in layer.parameters()]

    truncated = grads(lambda x, s: run(layer, x, s, truncate=k))
    chunked = grads(lambda x, s: chunked_run(layer, x, s, k))
    for a, b in zip(truncated, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if k >= T:
        full = grads(lambda x, s: run(layer, x, s))
        for a, b in zip(truncated, full):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


CELL_NAMES = ["rnn", "gru", "lstm"]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_truncation_really_cuts_the_gradient(cell):
    rng = np.random.default_rng(0)
    layer = make_layer(rng, cell, 2, 3, 1, False)
    x = tr.tensor(rng.standard_normal((6, 1, 2)), requires_grad=True)
    states = [tr.tensor(rng.standard_normal((1, 1, 3)), requires_grad=True)
              for _ in range(STATES[cell])]
    out, _ = run(layer, x, states, truncate=3)
    out[5].sum().backward()  # the last output depends on steps 3..5 only
    assert np.all(x.grad[:3] == 0) and np.any(x.grad[3:] != 0)
    for s in states:
        assert np.all(s.grad == 0)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_lengths_zero_padded_outputs_and_final_states(cell):
    rng = np.random.default_rng(1)
    layer = make_layer(rng, cell, 2, 4, 2, True)
    x = tr.tensor(rng.standard_normal((5, 3, 2)))
    lengths = np.array([2, 5, 3])
    out, finals = run(layer, x, lengths=lengths)
    for b, n in enumerate(lengths):
        assert np.all(out.data[n:, b] == 0)
        solo, solo_finals = run(layer, tr.tensor(x.data[:n, b:b + 1]))
        np.testing.assert_allclose(out.data[:n, b], solo.data[:, 0], rtol=1e-12)
        for f, f_solo in zip(finals, solo_finals):
            np.testing.assert_allclose(f.data[:, b], f_solo.data[:, 0], rtol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_unbatched_input_matches_batch_of_one(cell):
    rng = np.random.default_rng(2)
    layer = make_layer(rng, cell, 3, 4, 2, True)
    x = rng.standard_normal((6, 3))
    states = [rng.standard_normal((4, 4)) for _ in range(STATES[cell])]
    out, finals = run(layer, tr.tensor(x), [tr.tensor(s) for s in states])
    out_b, finals_b = run(layer, tr.tensor(x[:, None]), [tr.tensor(s[:, None]) for s in states])
    assert out.shape == (6, 8)
    np.testing.assert_allclose(out.data, out_b.data[:, 0])
    for f, f_b in zip(finals, finals_b):
        assert f.shape == (4, 4)
        np.testing.assert_allclose(f.data, f_b.data[:, 0])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_dropout_between_layers_only_in_training(cell):
    rng = np.random.default_rng(3)
    layer = make_layer(rng, cell, 2, 8, 2, False)
    layer.dropout = 0.5
    x = tr.tensor(rng.standard_normal((4, 3, 2)))
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    np.testing.assert_array_equal(a.data, b.data)
    layer.train()
    c, _ = layer(x)
    assert not np.allclose(a.data, c.data)
    single = make_layer(rng, cell, 2, 8, 1, False)  # no layer to drop after
    single.dropout = 0.5
    single.train()
    np.testing.assert_array_equal(single(x)[0].data, single.eval()(x)[0].data)

"""The fused RNN's gradients: central differences, and agreement with an independent
derivation (the same network unrolled with RNNCell through the autodiff engine)."""
import numpy as np
from hypothesis import given, strategies as st

import tinyrnn as tr

from .helpers import make_rnn, random_lengths, unrolled_rnn

configs = st.fixed_dictionaries({
    "T": st.integers(1, 5), "B": st.integers(1, 3), "I": st.integers(1, 3),
    "H": st.integers(1, 3), "layers": st.integers(1, 2), "bidirectional": st.booleans(),
    "batch_first": st.booleans(), "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "bias": st.booleans(), "truncate": st.one_of(st.none(), st.integers(1, 4)),
    "use_lengths": st.booleans(), "seed": st.integers(0, 2**31 - 1),
})


def _setup(c):
    rng = np.random.default_rng(c["seed"])
    rnn = make_rnn(rng, c["I"], c["H"], c["layers"], c["bidirectional"], c["nonlinearity"],
                   c["batch_first"], c["bias"])
    D = 2 if c["bidirectional"] else 1
    shape = (c["B"], c["T"], c["I"]) if c["batch_first"] else (c["T"], c["B"], c["I"])
    x = tr.tensor(rng.standard_normal(shape), requires_grad=True)
    hx = tr.tensor(0.5 * rng.standard_normal((c["layers"] * D, c["B"], c["H"])),
                   requires_grad=True)
    lengths = random_lengths(rng, c["T"], c["B"]) if c["use_lengths"] else None
    return rnn, x, hx, lengths


@given(c=configs)
def test_rnn_passes_gradcheck_for_input_hx_and_every_parameter(c):
    rnn, x, hx, lengths = _setup(c)
    params = rnn.parameters()
    # Truncated BPTT is deliberately not the true gradient (it is checked against the
    # chunked run below); here truncate is None or k >= T, which must be exact.
    truncate = None if c["truncate"] is None else c["T"] + c["truncate"] - 1

    def fn(x, hx, *ps):
        return rnn(x, hx, lengths=lengths, truncate=truncate)

    assert tr.gradcheck(fn, [x, hx, *params])


@given(c=configs)
def test_fused_bptt_equals_unrolled_rnncell(c):
    rnn, x, hx, lengths = _setup(c)
    rng = np.random.default_rng(c["seed"] + 1)
    out, h_n = rnn(x, hx, lengths=lengths, truncate=c["truncate"])
    w_out, w_h = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape)
    ((out * tr.tensor(w_out)).sum() + (h_n * tr.tensor(w_h)).sum()).backward()
    fused = [x.grad, hx.grad] + [p.grad for p in rnn.parameters()]

    for t in [x, hx, *rnn.parameters()]:
        t.grad = None
    xs = x.transpose(1, 0, 2) if c["batch_first"] else x
    ref_out, ref_h = unrolled_rnn(rnn, xs, hx, lengths, c["truncate"])
    if c["batch_first"]:
        ref_out = ref_out.transpose(1, 0, 2)
    np.testing.assert_allclose(out.data, ref_out.data, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_n.data, ref_h.data, rtol=1e-10, atol=1e-12)
    ((ref_out * tr.tensor(w_out)).sum() + (ref_h * tr.tensor(w_h)).sum()).backward()
    unrolled = [x.grad, hx.grad] + [p.grad for p in rnn.parameters()]
    for name, a, b in zip(["x", "hx"] + [n for n, _ in rnn.named_parameters()], fused,
                          unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=name)


def chunked_run(rnn, x, hx, k):
    """Chunks [0,k), [k,2k), ... one after another, the carried state detached at each start."""
    outs, h = [], hx
    for start in range(0, x.shape[0], k):
        out, h_n = rnn(x[start:start + k], h)
        outs.append(out)
        h = h_n.detach() if start + k < x.shape[0] else h_n
    return tr.concat(outs, axis=0), h, outs


@given(T=st.integers(2, 9), k=st.integers(1, 10), layers=st.integers(1, 3),
       nonlinearity=st.sampled_from(["tanh", "relu"]), seed=st.integers(0, 2**31 - 1))
def test_truncate_equals_chunked_loop_with_detached_state(T, k, layers, nonlinearity, seed):
    rng = np.random.default_rng(seed)
    rnn = make_rnn(rng, 2, 3, layers, False, nonlinearity)
    x_np, h_np = rng.standard_normal((T, 2, 2)), rng.standard_normal((layers, 2, 3))
    w = rng.standard_normal((T, 2, 3))

    def grads(run):
        x, hx = tr.tensor(x_np, requires_grad=True), tr.tensor(h_np, requires_grad=True)
        rnn.zero_grad()
        out = run(x, hx)
        (out * tr.tensor(w)).sum().backward()
        return [out.data, x.grad, hx.grad] + [p.grad for p in rnn.parameters()]

    truncated = grads(lambda x, hx: rnn(x, hx, truncate=k)[0])
    chunked = grads(lambda x, hx: chunked_run(rnn, x, hx, k)[0])
    for a, b in zip(truncated, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if k >= T:
        full = grads(lambda x, hx: rnn(x, hx)[0])
        for a, b in zip(truncated, full):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_truncation_really_cuts_the_gradient():
    rng = np.random.default_rng(0)
    rnn = make_rnn(rng, 2, 3, 1, False)
    x = tr.tensor(rng.standard_normal((6, 1, 2)), requires_grad=True)
    hx = tr.tensor(rng.standard_normal((1, 1, 3)), requires_grad=True)
    out, _ = rnn(x, hx, truncate=3)
    out[5].sum().backward()  # the last output depends on steps 3..5 only
    assert np.all(x.grad[:3] == 0) and np.any(x.grad[3:] != 0)
    assert np.all(hx.grad == 0)


def test_lengths_zero_padded_outputs_and_final_state():
    rng = np.random.default_rng(1)
    rnn = make_rnn(rng, 2, 4, 2, True)
    x = tr.tensor(rng.standard_normal((5, 3, 2)))
    lengths = np.array([2, 5, 3])
    out, h_n = rnn(x, lengths=lengths)
    for b, n in enumerate(lengths):
        assert np.all(out.data[n:, b] == 0)
        solo, h_solo = rnn(tr.tensor(x.data[:n, b:b + 1]))
        np.testing.assert_allclose(out.data[:n, b], solo.data[:, 0], rtol=1e-12)
        np.testing.assert_allclose(h_n.data[:, b], h_solo.data[:, 0], rtol=1e-12)


def test_unbatched_input_matches_batch_of_one():
    rng = np.random.default_rng(2)
    rnn = make_rnn(rng, 3, 4, 2, True)
    x = rng.standard_normal((6, 3))
    hx = rng.standard_normal((4, 4))
    out, h_n = rnn(tr.tensor(x), tr.tensor(hx))
    out_b, h_b = rnn(tr.tensor(x[:, None]), tr.tensor(hx[:, None]))
    assert out.shape == (6, 8) and h_n.shape == (4, 4)
    np.testing.assert_allclose(out.data, out_b.data[:, 0])
    np.testing.assert_allclose(h_n.data, h_b.data[:, 0])


def test_dropout_between_layers_only_in_training():
    rng = np.random.default_rng(3)
    tr.manual_seed(0)
    rnn = tr.nn.RNN(2, 8, num_layers=2, dropout=0.5).double()
    x = tr.tensor(rng.standard_normal((4, 3, 2)))
    rnn.eval()
    a, _ = rnn(x)
    b, _ = rnn(x)
    np.testing.assert_array_equal(a.data, b.data)
    rnn.train()
    c, _ = rnn(x)
    assert not np.allclose(a.data, c.data)
    single = tr.nn.RNN(2, 8, num_layers=1, dropout=0.5).double()  # no layer to drop after
    single.train()
    np.testing.assert_array_equal(single(x)[0].data, single.eval()(x)[0].data)

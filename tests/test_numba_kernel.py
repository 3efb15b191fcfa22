"""The Numba kernel equals the NumPy reference kernel on every drawn case, and the whole
RNN keeps its gradients and PyTorch parity when it runs on Numba."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr
from tinyrnn.kernels import numba_kernel as nk
from tinyrnn.kernels import numpy_kernel as ref

from .helpers import make_rnn, random_lengths

cases = st.fixed_dictionaries({
    "T": st.integers(1, 9), "B": st.integers(1, 5), "H": st.integers(1, 9),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "truncate": st.one_of(st.none(), st.integers(1, 10)),
    "use_lengths": st.booleans(), "strided": st.booleans(),
    "strategy": st.sampled_from(["fused", "blas"]), "seed": st.integers(0, 2**31 - 1),
})


def _maybe_strided(a, strided):
    """The same values in a non-contiguous array (every other element of a bigger one)."""
    if not strided:
        return a
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def _rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


@given(c=cases)
def test_numba_kernel_equals_numpy_reference(c):
    rng = np.random.default_rng(c["seed"])
    T, B, H, dt = c["T"], c["B"], c["H"], c["dtype"]
    xw = rng.standard_normal((T, B, H)).astype(dt)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(dt)
    h0 = rng.standard_normal((B, H)).astype(dt)
    g = rng.standard_normal((T, B, H)).astype(dt)
    g_hn = rng.standard_normal((B, H)).astype(dt)
    lengths = random_lengths(rng, T, B) if c["use_lengths"] else None
    s = c["strided"]
    original = nk.strategy
    nk.strategy = lambda B, H: c["strategy"]
    try:
        hs = nk.forward(_maybe_strided(xw, s), _maybe_strided(w, s), h0, c["nonlinearity"],
                        lengths)
        d_xw, d_h0 = nk.backward(_maybe_strided(g, s), hs, _maybe_strided(h0, s), w,
                                 c["nonlinearity"], c["truncate"], lengths, g_hn)
    finally:
        nk.strategy = original
    hs_ref = ref.forward(xw, w, h0, c["nonlinearity"], lengths)
    d_xw_ref, d_h0_ref = ref.backward(g, hs_ref, h0, w, c["nonlinearity"], c["truncate"],
                                      lengths, g_hn)
    tol = 1e-10 if dt == np.float64 else 1e-5
    assert hs.dtype == dt and d_xw.dtype == dt and d_h0.dtype == dt
    assert _rel(hs, hs_ref) <= tol
    assert _rel(d_xw, d_xw_ref) <= tol
    assert _rel(d_h0, d_h0_ref) <= tol


def test_reference_g_hn_equals_gradient_folded_into_last_real_output():
    rng = np.random.default_rng(0)
    T, B, H = 6, 3, 4
    xw, w = rng.standard_normal((T, B, H)), rng.standard_normal((H, H)) / 2
    h0, g, g_hn = rng.standard_normal((B, H)), rng.standard_normal((T, B, H)), \
        rng.standard_normal((B, H))
    lengths = np.array([6, 2, 4])
    hs = ref.forward(xw, w, h0, "tanh", lengths)
    folded = g.copy()
    folded[lengths - 1, np.arange(B)] += g_hn
    a = ref.backward(g, hs, h0, w, "tanh", 3, lengths, g_hn)
    b = ref.backward(folded, hs, h0, w, "tanh", 3, lengths, None)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-13)


def test_fast_float32_tanh_is_within_two_ulp():
    from numba import njit

    from tinyrnn.kernels.numba_tanh import tanh

    @njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.size):
            out[i] = tanh(a[i])

    x = np.concatenate([np.linspace(-20, 20, 400_001), 10.0 ** np.linspace(-30, 1.3, 20_000),
                        -(10.0 ** np.linspace(-30, 1.3, 20_000)), [0.0]]).astype(np.float32)
    out = np.empty_like(x)
    apply(x, out)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(out - exact) / ulp) <= 2.0
    nan = np.array([np.nan, np.inf, -np.inf], np.float32)
    res = np.empty_like(nan)
    apply(nan, res)
    assert np.isnan(res[0]) and res[1] == 1 and res[2] == -1


@given(T=st.integers(1, 4), B=st.integers(1, 3), H=st.integers(1, 3),
       layers=st.integers(1, 2), bidirectional=st.booleans(), use_lengths=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_gradcheck_under_numba(T, B, H, layers, bidirectional, use_lengths, seed):
    rng = np.random.default_rng(seed)
    rnn = make_rnn(rng, 2, H, layers, bidirectional)
    x = tr.tensor(rng.standard_normal((T, B, 2)), requires_grad=True)
    lengths = random_lengths(rng, T, B) if use_lengths else None
    with tr.use_kernel("numba"):
        assert tr.gradcheck(lambda x, *p: rnn(x, lengths=lengths), [x, *rnn.parameters()])


def test_auto_picks_numba_on_cpu(monkeypatch):
    calls = []
    original = nk.forward
    monkeypatch.setattr(nk, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    rnn = tr.nn.RNN(2, 3)
    rnn(tr.tensor(np.zeros((4, 1, 2), np.float32)))
    assert calls, "use_kernel('auto') did not run the Numba kernel on CPU arrays"
    assert "numba" in tr.available_kernels()


def test_numba_kernel_validates_before_compiled_code():
    xw, w, h0 = np.zeros((4, 2, 3)), np.zeros((3, 3)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="w_hh must have shape"):
        nk.forward(xw, np.zeros((3, 4)), h0, "tanh", None)
    with pytest.raises(ValueError, match="lengths"):
        nk.forward(xw, w, h0, "tanh", np.array([5, 2]))
    with pytest.raises(TypeError, match="lengths must hold integers"):
        nk.forward(xw, w, h0, "tanh", np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="h0 must have dtype"):
        nk.forward(xw, w, h0.astype(np.float32), "tanh", None)
    with pytest.raises(ValueError, match="truncate"):
        nk.backward(xw, xw, h0, w, "tanh", 0, None, None)
    with pytest.raises(TypeError, match="xw must be float32 or float64"):
        nk.forward(xw.astype(np.int64), w, h0, "tanh", None)

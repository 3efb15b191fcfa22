"""Each cell's Numba kernel equals its NumPy reference kernel on every drawn case (both
strategies, float32 and float64, truncation, lengths), and whole layers keep their gradients
when they run on Numba."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr
from tinyrnn.kernels import numba_common as common
from tinyrnn.kernels.cells import CELLS, kernel

from .helpers import make_layer, random_lengths, run

cases = st.fixed_dictionaries({
    "cell": st.sampled_from(["rnn", "gru", "lstm"]),
    "T": st.integers(1, 9), "B": st.integers(1, 9), "H": st.integers(1, 9),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "nonlinearity": st.sampled_from(["tanh", "relu"]),
    "truncate": st.one_of(st.none(), st.integers(1, 10)),
    "use_lengths": st.booleans(), "strided": st.booleans(), "gru_bias": st.booleans(),
    "strategy": st.sampled_from(["fused", "blas"]),
    "product": st.sampled_from([None, common.ROWS, common.DOTS, common.TILES]),
    "seed": st.integers(0, 2**31 - 1),
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


def random_kernel_case(rng, cell, T, B, H, dtype, nonlinearity="tanh", gru_bias=True):
    """Arguments for a kernel call: (xw, w_hh, state0, g_ys, options)."""
    c = CELLS[cell]
    xw = rng.standard_normal((T, B, c.gates * H)).astype(dtype)
    w = (rng.standard_normal((c.gates * H, H)) / np.sqrt(H)).astype(dtype)
    state0 = rng.standard_normal((c.states, B, H)).astype(dtype)
    g_ys = rng.standard_normal((c.states, T, B, H)).astype(dtype)
    options = {"rnn": {"nonlinearity": nonlinearity},
               "gru": {"b_hn": rng.standard_normal(H).astype(dtype) if gru_bias else None},
               "lstm": {}}[cell]
    return xw, w, state0, g_ys, options


@contextlib.contextmanager
def forced_strategy(name):
    """Force the Numba kernels' strategy ("fused" or "blas") inside the block."""
    original = common.strategy
    common.strategy = lambda *shape: name
    try:
        yield
    finally:
        common.strategy = original


@contextlib.contextmanager
def forced_product(mode):
    """Force the fused steps' product (ROWS, DOTS or TILES; None: the kernels' own choice)."""
    original = common.product_mode
    if mode is not None:
        common.product_mode = lambda *shape: mode
    try:
        yield
    finally:
        common.product_mode = original


@pytest.mark.parametrize("n, K, J", [(1, 12, 4), (3, 27, 9), (2, 8, 13), (5, 64, 16),
                                     (4, 3, 5), (9, 7, 11), (8, 32, 96)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_step_products_agree(n, K, J, dtype):
    """k-major rows, dot products and 4 x 3 tiles (with their leftover rows and outputs)
    all give ``out + left @ right`` on the first n rows and leave the others alone."""
    rng = np.random.default_rng(K * J + n)
    left = rng.standard_normal((n + 2, K)).astype(dtype)  # rows past n stay untouched
    right = rng.standard_normal((K, J)).astype(dtype)
    start = rng.standard_normal((n + 2, J)).astype(dtype)
    expected = start[:n] + left[:n] @ right
    tol = 1e-5 if dtype == np.float32 else 1e-13
    right_t = np.ascontiguousarray(right.T)
    for name, product, weights in [("rows", common.accumulate_rows, right),
                                   ("dots", common.accumulate_dots, right_t),
                                   ("tiles", common.accumulate_tiles, right_t)]:
        out = start.copy()
        product(out, left, weights, n)
        np.testing.assert_allclose(out[:n], expected, rtol=tol, atol=tol, err_msg=name)
        np.testing.assert_array_equal(out[n:], start[n:])


@given(c=cases)
def test_numba_kernels_equal_numpy_reference(c):
    rng = np.random.default_rng(c["seed"])
    T, B, H, dt = c["T"], c["B"], c["H"], c["dtype"]
    xw, w, state0, g_ys, options = random_kernel_case(rng, c["cell"], T, B, H, dt,
                                                      c["nonlinearity"], c["gru_bias"])
    lengths = random_lengths(rng, T, B) if c["use_lengths"] else None
    s = c["strided"]
    ours, ref = kernel(c["cell"], "numba"), kernel(c["cell"], "numpy")
    with forced_strategy(c["strategy"]), forced_product(c["product"]):
        ys, saved = ours.forward(_maybe_strided(xw, s), _maybe_strided(w, s), state0, lengths,
                                 **options)
        grads = ours.backward(_maybe_strided(g_ys, s), ys, saved, _maybe_strided(state0, s), w,
                              c["truncate"], lengths, **options)
    ys_ref, saved_ref = ref.forward(xw, w, state0, lengths, **options)
    grads_ref = ref.backward(g_ys, ys_ref, saved_ref, state0, w, c["truncate"], lengths,
                             **options)
    tol = 1e-10 if dt == np.float64 else 1e-5
    assert _rel(ys, ys_ref) <= tol
    for name, a, b in zip(["d_xw", "d_hw", "d_state0"], grads, grads_ref):
        assert a.dtype == dt and a.shape == b.shape, name
        assert _rel(a, b) <= tol, name


@given(cell=st.sampled_from(["rnn", "gru", "lstm"]), T=st.integers(1, 9),
       B=st.integers(1, 9), I=st.integers(1, 2 * common.PROJECT_MAX_INPUTS),
       H=st.integers(1, 9), dtype=st.sampled_from([np.float64, np.float32]),
       use_lengths=st.booleans(), use_bias=st.booleans(),
       product=st.sampled_from([None, common.ROWS, common.DOTS, common.TILES]),
       seed=st.integers(0, 2**31 - 1))
def test_projected_forward_equals_forward_of_the_projection(cell, T, B, I, H, dtype,
                                                           use_lengths, use_bias, product,
                                                           seed):
    """``forward_projected(x, W_ih, bias, ...)``, which forms ``x_t W_ih^T + bias`` inside
    its loop, gives what ``forward`` gives on that projection computed by one GEMM."""
    rng = np.random.default_rng(seed)
    xw, w, state0, _, options = random_kernel_case(rng, cell, T, B, H, dtype)
    GH = xw.shape[2]
    x = rng.standard_normal((T, B, I)).astype(dtype)
    w_ih = rng.standard_normal((GH, I)).astype(dtype)
    bias = rng.standard_normal(GH).astype(dtype) if use_bias else None
    lengths = random_lengths(rng, T, B) if use_lengths else None
    module = kernel(cell, "numba").module
    with forced_product(product):
        ys, saved = module.forward_projected(x, w_ih, bias, w, state0, lengths, **options)
        xw = x @ w_ih.T + (0 if bias is None else bias)
        ys_ref, saved_ref = module.forward(xw, w, state0, lengths, **options)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert ys.dtype == dtype and _rel(ys, ys_ref) <= tol
    if saved is not None:  # what the backward pass reads: the real steps
        real = np.arange(T)[:, None] < (np.full(B, T) if lengths is None else lengths)
        assert _rel(saved[real], saved_ref[real]) <= tol
    assert module.projects(1, I, H) == (I <= common.PROJECT_MAX_INPUTS)


def _apply(fn_name, x):
    from numba import njit

    from tinyrnn.kernels import numba_math
    fn = getattr(numba_math, fn_name)

    @njit(error_model="numpy")
    def apply(a, out):
        for i in range(a.size):
            out[i] = fn(a[i])

    out = np.empty_like(x)
    apply(x, out)
    return out


SAMPLES = np.concatenate([np.linspace(-30, 30, 400_001), 10.0 ** np.linspace(-30, 1.3, 20_000),
                          -(10.0 ** np.linspace(-30, 1.3, 20_000)), [0.0]]).astype(np.float32)


@pytest.mark.parametrize("fn_name, exact", [
    ("tanh", np.tanh), ("sigmoid", lambda x: 1 / (1 + np.exp(-x)))])
def test_fast_float32_math_is_within_one_and_a_half_ulp(fn_name, exact):
    out = _apply(fn_name, SAMPLES)
    assert out.dtype == np.float32
    ref = exact(SAMPLES.astype(np.float64))
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    err = np.abs(out - ref) / ulp
    if fn_name == "sigmoid":
        # Clamped at |x| = 20: below σ(-20) ≈ 2e-9 the absolute error stays under 3e-9.
        far = SAMPLES < -20
        assert np.max(np.abs(out[far] - ref[far])) < 3e-9
        err = err[~far]
    assert np.max(err) <= 1.5
    special = _apply(fn_name, np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0]) and special[1] == 1
    assert special[2] == -1 if fn_name == "tanh" else 0 <= special[2] < 3e-9


@given(cell=st.sampled_from(["rnn", "gru", "lstm"]), T=st.integers(1, 4), B=st.integers(1, 3),
       H=st.integers(1, 3), layers=st.integers(1, 2), bidirectional=st.booleans(),
       use_lengths=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_gradcheck_under_numba(cell, T, B, H, layers, bidirectional, use_lengths, seed):
    rng = np.random.default_rng(seed)
    layer = make_layer(rng, cell, 2, H, layers, bidirectional)
    x = tr.tensor(rng.standard_normal((T, B, 2)), requires_grad=True)
    lengths = random_lengths(rng, T, B) if use_lengths else None
    def fn(x, *params):
        out, finals = run(layer, x, lengths=lengths)
        return [out] + finals

    with tr.use_kernel("numba"):
        assert tr.gradcheck(fn, [x, *layer.parameters()])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_auto_picks_numba_on_cpu(monkeypatch, cell):
    module = kernel(cell, "numba").module
    calls = []
    for name in ("forward", "forward_projected"):  # (with the input projection inside)
        original = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, _f=original, **k: calls.append(1) or _f(*a, **k))
    layer = make_layer(np.random.default_rng(0), cell, 2, 3, 1, False, dtype=np.float32)
    for B in (1, 5):
        calls.clear()
        layer(tr.tensor(np.zeros((4, B, 2), np.float32)))
        assert calls, "use_kernel('auto') did not run the Numba kernel on CPU arrays"
    assert "numba" in tr.available_kernels()


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_checked_kernels_validate_before_compiled_code(cell):
    k = kernel(cell, "numba")
    G, S = CELLS[cell].gates, CELLS[cell].states
    xw, w, s0 = np.zeros((4, 2, G * 3)), np.zeros((G * 3, 3)), np.zeros((S, 2, 3))
    with pytest.raises(ValueError, match="w_hh must have shape"):
        k.forward(xw, np.zeros((3, 4)), s0)
    with pytest.raises(ValueError, match="state0 must have shape"):
        k.forward(xw, w, np.zeros((S, 3, 3)))
    with pytest.raises(ValueError, match="lengths"):
        k.forward(xw, w, s0, np.array([5, 2]))
    with pytest.raises(TypeError, match="lengths must hold integers"):
        k.forward(xw, w, s0, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="state0 must have dtype"):
        k.forward(xw, w, s0.astype(np.float32))
    with pytest.raises(TypeError, match="xw must be float32 or float64"):
        k.forward(xw.astype(np.int64), w, s0)
    if G > 1:
        with pytest.raises(ValueError, match=f"{G}\\*H"):
            k.forward(np.zeros((4, 2, G * 3 + 1)), w, s0)
    ys, saved = k.forward(xw, w, s0)
    with pytest.raises(ValueError, match="truncate"):
        k.backward(ys, ys, saved, s0, w, 0)
    with pytest.raises(ValueError, match="g_ys must have shape"):
        k.backward(ys[:, :2], ys, saved, s0, w)
    if CELLS[cell].saved:
        with pytest.raises(ValueError, match="saved"):
            k.backward(ys, ys, None, s0, w)
    with pytest.raises(TypeError, match="takes no option"):
        k.forward(xw, w, s0, bias=1)

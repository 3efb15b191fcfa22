"""Central-difference checks of every autodiff op, as hypothesis properties."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinyrnn as tr

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**31 - 1)


def t64(rng, shape, positive=False):
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return tr.tensor(a, requires_grad=True)


@given(shape=shapes, seed=seeds, op=st.sampled_from(["add", "sub", "mul", "div"]),
       broadcast=st.booleans())
def test_binary_ops(shape, seed, op, broadcast):
    rng = np.random.default_rng(seed)
    a = t64(rng, shape)
    b = t64(rng, (1,) * (len(shape) - 1) + shape[-1:] if broadcast else shape,
            positive=op == "div")
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
          "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    assert tr.gradcheck(fn, [a, b])


@given(shape=shapes, seed=seeds,
       op=st.sampled_from(["neg", "pow", "tanh", "sigmoid", "relu", "exp", "log",
                           "rsub", "rdiv"]))
def test_unary_ops(shape, seed, op):
    rng = np.random.default_rng(seed)
    x = t64(rng, shape, positive=op in ("log", "rdiv"))
    fn = {"neg": lambda a: -a, "pow": lambda a: a ** 3, "tanh": lambda a: a.tanh(),
          "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
          "exp": lambda a: a.exp(), "log": lambda a: a.log(), "rsub": lambda a: 2.0 - a,
          "rdiv": lambda a: 3.0 / a}[op]
    assert tr.gradcheck(fn, [x])


@given(m=st.integers(1, 4), k=st.integers(1, 4), n=st.integers(1, 4), seed=seeds,
       kind=st.sampled_from(["mm", "mv", "vm", "batched"]))
def test_matmul(m, k, n, seed, kind):
    rng = np.random.default_rng(seed)
    a_shape = {"mm": (m, k), "mv": (m, k), "vm": (k,), "batched": (2, m, k)}[kind]
    b_shape = {"mm": (k, n), "mv": (k,), "vm": (k, n), "batched": (k, n)}[kind]
    assert tr.gradcheck(lambda a, b: a @ b, [t64(rng, a_shape), t64(rng, b_shape)])


@given(shape=shapes, seed=seeds, keepdims=st.booleans(), data=st.data())
def test_reductions(shape, seed, keepdims, data):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.sampled_from([None] + list(range(-len(shape), len(shape)))))
    x = t64(rng, shape)
    assert tr.gradcheck(lambda a: a.sum(axis=axis, keepdims=keepdims), [x])
    assert tr.gradcheck(lambda a: a.mean(axis=axis, keepdims=keepdims), [x])


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple), seed=seeds)
def test_shape_ops(shape, seed):
    rng = np.random.default_rng(seed)
    x = t64(rng, shape)
    perm = tuple(rng.permutation(len(shape)))
    assert tr.gradcheck(lambda a: a.transpose(perm), [x])
    assert tr.gradcheck(lambda a: a.reshape(-1), [x])
    assert tr.gradcheck(lambda a: a.T, [x])


@given(n=st.integers(2, 6), seed=seeds)
def test_indexing_and_gather(n, seed):
    rng = np.random.default_rng(seed)
    x = t64(rng, (n, 3))
    idx = rng.integers(0, n, size=7)  # repeats must accumulate
    assert tr.gradcheck(lambda a: a[idx], [x])
    assert tr.gradcheck(lambda a: a[1:, ::2], [x])
    assert tr.gradcheck(lambda a: a[idx[:3], np.array([0, 2, 1])], [x])


@given(k=st.integers(1, 3), seed=seeds, axis=st.integers(0, 1))
def test_concat_and_stack(k, seed, axis):
    rng = np.random.default_rng(seed)
    xs = [t64(rng, (2, 3)) for _ in range(k)]
    assert tr.gradcheck(lambda *a: tr.concat(a, axis=axis), xs)
    assert tr.gradcheck(lambda *a: tr.stack(a, axis=axis), xs)


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=2).map(tuple), seed=seeds,
       scale=st.sampled_from([1.0, 30.0]))
def test_softmax_family(shape, seed, scale):
    rng = np.random.default_rng(seed)
    x = tr.tensor(rng.standard_normal(shape) * scale, requires_grad=True)
    assert tr.gradcheck(lambda a: a.softmax(-1), [x])
    assert tr.gradcheck(lambda a: a.log_softmax(-1), [x])
    p = x.softmax(-1).data
    assert np.allclose(p.sum(-1), 1) and np.all(np.isfinite(x.log_softmax(-1).data))


def test_gradients_accumulate_and_no_grad_builds_nothing():
    x = tr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert np.allclose(x.grad, [6, 6])
    with tr.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert not x.detach().requires_grad


def test_shared_subexpression_gets_both_paths():
    x = tr.tensor(np.array([0.3, -0.2]), requires_grad=True)
    y = x.tanh()
    (y * y + y).sum().backward()
    t = np.tanh(x.data)
    assert np.allclose(x.grad, (2 * t + 1) * (1 - t * t))


def _split_and_square(a, b):
    """A two-output op, (a * b, a^2), with its backward written per output."""
    def backward(g_prod, g_square):
        ga = np.zeros_like(a.data) if g_prod is None else g_prod * b.data
        gb = None if g_prod is None else g_prod * a.data
        if g_square is not None:
            ga = ga + 2 * a.data * g_square
        return ga, gb

    return tr.Tensor._op_many([a.data * b.data, a.data ** 2], (a, b), backward)


@given(shape=shapes, seed=seeds, use=st.sampled_from(["both", "first", "second", "twice"]))
def test_op_with_several_outputs(shape, seed, use):
    rng = np.random.default_rng(seed)
    a, b = t64(rng, shape), t64(rng, shape)

    def fn(x, y):
        prod, square = _split_and_square(x, y)
        return {"both": prod * 2.0 + square, "first": prod, "second": square,
                "twice": prod + square + prod * square}[use]

    assert tr.gradcheck(fn, [a, b])
    # Only what was used gets a gradient; the other output's slot stays empty.
    a.grad = b.grad = None
    fn(a, b).sum().backward()
    assert (b.grad is None) == (use == "second")


def test_gradcheck_catches_a_wrong_backward():
    x = tr.tensor(np.array([0.5, 1.5]), requires_grad=True)

    def bad_square(a):
        return tr.Tensor._op(a.data ** 2, (a,), lambda g: (g * a.data,))  # missing the 2

    with pytest.raises(tr.GradcheckError):
        tr.gradcheck(bad_square, [x])


def test_deep_graph_does_not_hit_recursion_limit():
    x = tr.tensor(np.array(0.5), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad, 1.0001 ** 5000)


def test_tensor_basics():
    t = tr.tensor([[1.0, 2.0]])
    assert t.dtype == np.float32 and t.shape == (1, 2) and t.device == "cpu"
    assert isinstance(t.numpy(), np.ndarray)
    assert t.to(np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="numeric"):
        tr.tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="floating"):
        tr.tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(ValueError, match="grad must be given"):
        tr.tensor(np.ones(3), requires_grad=True).backward()

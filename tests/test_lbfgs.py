"""lbfgs.minimize_many: each problem's iterates are scipy's L-BFGS-B's for it alone,
whatever the other problems of the batch are."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from tinyrnn.arima import lbfgs
from tinyrnn.arima.lbfgs import minimize_many


def _problems(seed, N, k):
    """Scaled Rosenbrock functions and ill-conditioned quadratics, mixed."""
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.1, 100.0, N)
    kinds = rng.integers(0, 2, N)
    mats = []
    for _ in range(N):
        Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
        mats.append(Q @ np.diag(np.logspace(0, rng.uniform(0, 6), k)) @ Q.T)

    def one(i, x):
        if kinds[i] == 0:
            return scales[i] * optimize.rosen(x), scales[i] * optimize.rosen_der(x)
        return 0.5 * x @ mats[i] @ x - x.sum(), mats[i] @ x - 1.0

    def evaluate(X, rows):
        out = [one(i, x) for x, i in zip(X, rows)]
        return np.array([o[0] for o in out]), np.array([o[1] for o in out])

    return one, evaluate, rng.uniform(-2, 2, (N, k))


def _alone(one, i, x0, **options):
    return optimize.minimize(lambda x: one(i, x), x0, jac=True, method="L-BFGS-B",
                             options=options)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(1, 6), k=st.integers(2, 5),
       maxiter=st.sampled_from([1, 3, 50, 1000]))
def test_each_problem_is_scipys_run_alone(seed, N, k, maxiter):
    one, evaluate, X0 = _problems(seed, N, k)
    options = dict(maxiter=maxiter, ftol=1e-10, gtol=1e-5)
    res = minimize_many(evaluate, X0, **options)
    for i in range(N):
        ref = _alone(one, i, X0[i], **options)
        np.testing.assert_array_equal(res.x[i], ref.x)
        assert res.fun[i] == ref.fun and res.nit[i] == ref.nit
        assert res.success[i] == ref.success
        np.testing.assert_array_equal(res.jac[i], ref.jac)


def test_an_ill_conditioned_neighbour_changes_nothing():
    one, evaluate, X0 = _problems(1, 1, 4)
    alone = minimize_many(evaluate, X0)
    bad = np.diag(np.logspace(0, 9, 4))

    def both(X, rows):
        out_f, out_g = np.empty(len(rows)), np.empty((len(rows), 4))
        if np.any(rows == 0):
            out_f[rows == 0], out_g[rows == 0] = evaluate(X[rows == 0], rows[rows == 0])
        for j in np.flatnonzero(rows == 1):
            out_f[j], out_g[j] = 0.5 * X[j] @ bad @ X[j] - X[j].sum(), bad @ X[j] - 1.0
        return out_f, out_g

    res = minimize_many(both, np.vstack([X0, np.full(4, 3.0)]))
    np.testing.assert_array_equal(res.x[0], alone.x[0])
    assert res.nit[0] == alone.nit[0] and res.nit[1] > res.nit[0]


def test_infinite_values_step_back_as_scipy():
    # +inf outside the unit ball: the line search backtracks
    def one(x):
        if x @ x >= 1.0:
            return np.inf, np.zeros_like(x)
        return -np.log1p(-x @ x) + x[0], 2 * x / (1 - x @ x) + np.r_[1.0, 0.0]

    def evaluate(X, rows):
        out = [one(x) for x in X]
        return np.array([o[0] for o in out]), np.array([o[1] for o in out])

    x0 = np.array([[0.5, -0.5]])
    res = minimize_many(evaluate, x0)
    ref = optimize.minimize(one, x0[0], jac=True, method="L-BFGS-B")
    np.testing.assert_array_equal(res.x[0], ref.x)


def test_fallback_gives_the_same(monkeypatch):
    one, evaluate, X0 = _problems(7, 3, 3)
    driven = minimize_many(evaluate, X0, maxiter=20)
    monkeypatch.setattr(lbfgs, "driver_ok", lambda: False)
    fallback = minimize_many(evaluate, X0, maxiter=20)
    np.testing.assert_array_equal(driven.x, fallback.x)
    np.testing.assert_array_equal(driven.nit, fallback.nit)


def test_the_driver_is_in_use():
    # otherwise the tests above compare scipy with itself (the fallback), and the
    # candidate fits lose their shared evaluation
    assert lbfgs.driver_ok(), ("SciPy's private setulb interface has changed: "
                               "minimize_many falls back to scipy.optimize.minimize")

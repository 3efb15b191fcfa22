"""auto_arima: pmdarima's choices of d, the AIC of the selection against pmdarima's, the
invariants of the search, auto_arima_many, and bad input."""
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyrnn.arima import (ARIMAResults, auto_arima, auto_arima_many, load_airpassengers,
                           load_shampoo, ndiffs)
from tinyrnn.arima.auto import Candidate

pm = pytest.importorskip("pmdarima")


def _arma(rng, n, ar=(), ma=(), mean=0.0):
    e = rng.standard_normal(n + 30)
    x = np.zeros(n + 30)
    for t in range(n + 30):
        x[t] = e[t] + sum(a * x[t - 1 - i] for i, a in enumerate(ar) if t > i) + \
            sum(b * e[t - 1 - j] for j, b in enumerate(ma) if t > j)
    return x[30:] + mean


def _pmdarima(y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.auto_arima(y, suppress_warnings=True, error_action="ignore", **kw)


rng = np.random.default_rng(3)
NONSEASONAL = {"shampoo": load_shampoo(),
               "nile": sm.datasets.nile.load_pandas().data["volume"].to_numpy(float)[:60],
               "ar2": _arma(rng, 80, ar=(0.6, -0.3), mean=4.0),
               "walk": np.cumsum(rng.standard_normal(80))}


# the project's data sets and a random walk (pmdarima takes seconds per search: kept few)
@pytest.mark.parametrize("name", ["shampoo", "nile", "walk"])
def test_same_d_and_aic_no_worse_than_pmdarima(name):
    y = NONSEASONAL[name]
    ours, theirs = auto_arima(y), _pmdarima(y, seasonal=False)
    assert isinstance(ours, ARIMAResults)
    assert ours.order[1] == theirs.order[1] == ndiffs(y)
    assert ours.aic <= theirs.aic() + 1.0
    assert ours.trend in ("n", "c" if ours.order[1] == 0 else "t")


def test_seasonal_same_d_D_and_aic_as_pmdarima():
    # quarterly austres: pmdarima takes ~1 s here; log AirPassengers with small bounds
    y = pm.datasets.load_austres().astype(float)
    ours, theirs = auto_arima(y, seasonal=True, m=4), _pmdarima(y, seasonal=True, m=4)
    assert (ours.order[1], ours.seasonal_order[1]) == (theirs.order[1],
                                                      theirs.seasonal_order[1])
    assert ours.aic <= theirs.aic() + 1.0
    y = np.log(load_airpassengers())
    kw = dict(seasonal=True, m=12, start_p=1, start_q=1, max_p=1, max_q=1, max_P=1, max_Q=1)
    ours, theirs = auto_arima(y, **kw), _pmdarima(y, **kw)
    assert (ours.order[1], ours.seasonal_order[1]) == (theirs.order[1],
                                                      theirs.seasonal_order[1])
    assert ours.seasonal_order[1] == 1  # the airline data need a seasonal difference
    assert ours.aic <= theirs.aic() + 1.0
    assert ours.seasonal_order[3] == 12 and ours.forecast(12).shape == (12,)


def _criterion(res, name):
    k, n = len(res.params), res.nobs
    return {"aic": res.aic, "bic": res.bic, "hqic": res.hqic,
            "aicc": res.aic + 2 * k * (n / (n - k - 1) - 1)}[name]


@settings(max_examples=6)
@given(seed=st.integers(0, 2 ** 16), n=st.integers(30, 70), max_p=st.integers(0, 3),
       max_q=st.integers(0, 3), max_d=st.integers(0, 2),
       criterion=st.sampled_from(["aic", "aicc", "bic", "hqic"]), kind=st.integers(0, 2))
def test_search_invariants(seed, n, max_p, max_q, max_d, criterion, kind):
    r = np.random.default_rng(seed)
    e = r.standard_normal(n)
    y = [e + 2.0, np.cumsum(e), _arma(r, n, ar=(0.5,), ma=(0.4,))][kind]
    res = auto_arima(y, max_p=max_p, max_q=max_q, max_d=max_d,
                     information_criterion=criterion)
    a = res.auto
    p, d, q = res.order
    # the orders within their bounds (and pmdarima's n / 3 cap), d as the KPSS tests say
    assert p <= min(max_p, n // 3) and q <= min(max_q, n // 3)
    assert d == a.d == ndiffs(y, max_d=max_d)
    for f in a.fitted:
        assert f.candidate.order[1] == d
        assert f.candidate.order[0] <= max_p and f.candidate.order[2] <= max_q
    # the returned model is the best of those fitted (refitted: its criterion no higher)
    finite = [f for f in a.fitted if np.isfinite(f.ic)]
    best = min(finite, key=lambda f: f.ic)
    assert (res.order, res.seasonal_order, res.trend) == \
        (best.candidate.order, best.model.seasonal_order, best.candidate.trend)
    assert _criterion(res, criterion) <= best.ic + 1e-9
    # every model fitted was on the search's path (nothing fitted for nothing)
    assert {f.candidate for f in a.fitted} == set(a.visited)
    assert len(a.fitted) == len(set(f.candidate for f in a.fitted)) <= 100


def test_grid_search_is_the_whole_grid():
    y = NONSEASONAL["ar2"]
    res = auto_arima(y, stepwise=False, max_p=2, max_q=2, max_order=3)
    grid = {(p, q) for p in range(3) for q in range(3) if p + q <= 3}
    assert {(f.candidate.order[0], f.candidate.order[2]) for f in res.auto.fitted} == grid
    assert res.aic <= min(f.ic for f in res.auto.fitted if np.isfinite(f.ic)) + 1e-9
    stepwise = auto_arima(y, max_p=2, max_q=2)
    assert res.aic <= stepwise.aic + 1e-6 or stepwise.trend != res.trend


def test_many_matches_one_at_a_time_and_dask():
    r = np.random.default_rng(11)
    # ten stationary AR series and two random walks: each step's candidates of one
    # specification are fitted together (one batched evaluation per L-BFGS round), each
    # by its own L-BFGS-B run, so every series gets the fits it gets alone
    Y = [_arma(r, n, ar=(0.6,), mean=1.0) for n in [60, 75, 60, 90, 60, 80, 70, 60, 65, 60]]
    Y += [np.cumsum(r.standard_normal(n)) for n in (60, 70)]
    calls = []
    from tinyrnn.arima import auto as auto_module
    real = auto_module.fit_candidates

    def spy(models):
        calls.append(len(models))
        return real(models)

    auto_module.fit_candidates = spy
    try:
        many = auto_arima_many(Y)
    finally:
        auto_module.fit_candidates = real
    assert max(calls) >= 10  # the AR series' candidates went through in groups
    alone = [auto_arima(y) for y in Y]
    assert len(many) == len(Y)
    for a, b in zip(many, alone):
        assert a.order == b.order and a.trend == b.trend
        assert a.aic == pytest.approx(b.aic, abs=1e-6)
        assert [f.ic for f in a.auto.fitted] == pytest.approx([f.ic for f in b.auto.fitted],
                                                              abs=1e-6)
    pytest.importorskip("dask")
    dasked = auto_arima_many(Y[-4:], scheduler="dask", chunksize=2)
    assert [r.order for r in dasked] == [r.order for r in many[-4:]]
    Y2 = np.array([y[:50] for y in Y[-3:]])  # a 2-D array works too
    assert [r.order for r in auto_arima_many(Y2)] == [auto_arima(y).order for y in Y2]


def test_intercept_rule():
    # with d + D = 2 statsmodels allows no trend: no candidate has one
    y = np.cumsum(np.cumsum(np.random.default_rng(5).standard_normal(60)))
    res = auto_arima(y, d=2)
    assert {f.candidate.trend for f in res.auto.fitted} == {"n"}
    # d = 1: the drift is 't'; a fixed trend applies to every candidate
    res = auto_arima(NONSEASONAL["walk"], trend="n")
    assert {f.candidate.trend for f in res.auto.fitted} == {"n"}
    res = auto_arima(NONSEASONAL["walk"])
    assert {f.candidate.trend for f in res.auto.fitted} == {"n", "t"}
    assert Candidate((1, 1, 0), (0, 0, 0, 0), "t").describe() == "ARIMA(1,1,0) trend='t'"


def test_bad_input():
    y = NONSEASONAL["walk"]
    with pytest.raises(ValueError, match="information_criterion"):
        auto_arima(y, information_criterion="mse")
    with pytest.raises(ValueError, match="max_p"):
        auto_arima(y, max_p=-1)
    with pytest.raises(ValueError, match="constant"):
        auto_arima(np.ones(30))
    with pytest.raises(ValueError, match="trend"):
        auto_arima(y, trend="x")
    with pytest.raises(ValueError, match="scheduler"):
        auto_arima_many([y, y], scheduler="spark")
    with pytest.raises(ValueError, match="series 1"):
        auto_arima_many([y, np.ones(30)])


def test_command_line(tmp_path, capsys):
    import json

    from tinyrnn.cli import main
    csv = tmp_path / "y.csv"
    csv.write_text("y\n" + "\n".join(f"{v:.6f}" for v in NONSEASONAL["walk"]))
    main(["arima", str(csv), "--auto", "--steps", "2", "--json", str(tmp_path / "o.json")])
    out = capsys.readouterr().out
    res = auto_arima(NONSEASONAL["walk"])
    assert f"selected {res.spec.describe()}" in out
    figures = json.loads((tmp_path / "o.json").read_text())
    assert figures["order"] == list(res.order) and figures["aic"] == pytest.approx(res.aic)
    with pytest.raises(SystemExit, match="--order P D Q, or --auto"):
        main(["arima", str(csv)])
    with pytest.raises(SystemExit, match="--m"):
        main(["arima", str(csv), "--auto", "--seasonal"])
    with pytest.raises(SystemExit, match="drop --order"):
        main(["arima", str(csv), "--auto", "--order", "1", "1", "0"])


def _inverse_roots(draw_moduli, angles):
    """Real or complex-conjugate inverse roots with the given moduli."""
    out = []
    for r, a in zip(draw_moduli, angles):
        if a < 0.3 or len(out) + 2 > 2 * len(draw_moduli):
            out.append(r * (1 if a < 0.15 else -1))
        else:
            out += [r * np.exp(1j * a), r * np.exp(-1j * a)]
    return np.array(out)


MODULI = st.one_of(st.floats(0.0, 1.2), st.sampled_from([0.99 - 1e-4, 0.99 + 1e-4,
                                                       1.0 - 1e-4, 1.0 + 1e-4]))


@settings(max_examples=200, deadline=None)
@given(ar=st.lists(st.tuples(MODULI, st.floats(0.0, 3.1)), max_size=4),
       ma=st.lists(st.tuples(MODULI, st.floats(0.0, 3.1)), max_size=4),
       seasonal=st.booleans(), sar=st.floats(-1.2, 1.2), radius=st.sampled_from([0.99, 1.0]))
def test_root_test_agrees_with_np_roots(ar, ma, seasonal, sar, radius):
    """roots_within (step-down on the rescaled polynomials) decides as the moduli of
    np.roots do, wherever the largest modulus is not within rounding of the radius (the
    moduli are drawn to land near it often)."""
    from tinyrnn.arima import statespace as ss
    from tinyrnn.arima.auto import roots_within
    lam_ar = _inverse_roots([m for m, _ in ar], [a for _, a in ar])
    lam_ma = _inverse_roots([m for m, _ in ma], [a for _, a in ma])
    phi = -np.atleast_1d(np.real(np.poly(lam_ar)))[1:]
    theta = np.atleast_1d(np.real(np.poly(lam_ma)))[1:]
    P, s = (1, 4) if seasonal and phi.size < 4 and theta.size < 4 else (0, 0)
    dims = np.array([0, phi.size, theta.size, P, 0, s, 0, 0], dtype=np.int64)
    params = np.r_[phi, theta, [sar] * P, 1.0]
    red_phi, red_theta, _, _ = ss.reduced_arma(params, dims)
    moduli = [np.abs(np.roots(np.r_[1.0, -red_phi])).max(initial=0.0),
              np.abs(np.roots(np.r_[1.0, red_theta])).max(initial=0.0)]
    biggest = max(moduli)
    if abs(biggest - radius) < 1e-6:
        return  # within np.roots' own rounding of the boundary: either answer is right
    assert roots_within(params, dims, radius) == (biggest < radius)


def test_root_test_near_the_boundary():
    from tinyrnn.arima.auto import roots_within
    dims = np.array([0, 2, 1, 0, 0, 0, 0, 0], dtype=np.int64)
    for r in (0.99 - 1e-5, 0.99 + 1e-5):  # a complex AR pair of modulus r; a small MA root
        phi = -np.real(np.poly([r * np.exp(0.7j), r * np.exp(-0.7j)]))[1:]
        assert roots_within(np.r_[phi, 0.2, 1.0], dims, 0.99) == (r < 0.99)
        assert roots_within(np.r_[0.1, 0.0, -r, 1.0], dims, 0.99) == (r < 0.99)  # MA root r


def test_candidate_fits_are_the_single_fits_whatever_the_group():
    """fit_candidates steps a group's fits together, each by its own L-BFGS-B run: each
    model's result is exactly scipy's single fit from statsmodels' start (at most 50
    iterations: ``mle_from``), whether it is fitted alone or beside an ill-conditioned neighbour (an
    MA root on the unit circle, an over-differenced random walk)."""
    from tinyrnn.arima import ARIMA
    from tinyrnn.arima.auto import CANDIDATE_MAXITER, fit_candidates
    r = np.random.default_rng(8)
    e = r.standard_normal(151)
    good = [_arma(r, 120, ar=(0.5,), ma=(0.3,), mean=2.0), e[1:] - 0.2 * e[:-1] + 1.0]
    bad = np.diff(np.cumsum(r.standard_normal(121))) + 0.0  # white noise ...
    bad = np.diff(np.r_[0.0, bad]) + 3.0                   # ... over-differenced: MA root -1
    models = [ARIMA(y, order=(1, 0, 1), trend="c") for y in good + [bad]]
    together = fit_candidates(models)
    alone = [fit_candidates([m])[0] for m in models]
    single = [m.mle_from(m.statsmodels_start(), maxiter=CANDIDATE_MAXITER) for m in models]
    for a, b, c in zip(together, alone, single):
        np.testing.assert_array_equal(a.params, b.params)
        np.testing.assert_array_equal(a.params, c.params)  # the same iterates, bit for bit
        assert a.converged == b.converged == c.converged and a.llf == c.llf

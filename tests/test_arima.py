"""ARIMA against statsmodels 0.15 (a test dependency, never skipped)."""
import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings, strategies as st
from statsmodels.tsa.arima.model import ARIMA as SMARIMA
from statsmodels.tsa.arima_process import arma_generate_sample

from tinyrnn.arima import ARIMA, fit_many, load_shampoo, walk_forward
from tinyrnn.arima.css import css_residuals
from tinyrnn.arima.model import Scaling


def _sm_fit(y, order, trend=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SMARIMA(y, order=order, trend=trend).fit()


def _series():
    return {
        "shampoo": load_shampoo(),
        "nile": sm.datasets.nile.load_pandas().data["volume"].to_numpy(float),
        "sunspots": sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float),
        "infl": sm.datasets.macrodata.load_pandas().data["infl"].to_numpy(float),
    }


SERIES = _series()
CASES = [("shampoo", (5, 1, 0)), ("shampoo", (1, 1, 1)), ("nile", (1, 0, 1)),
         ("nile", (0, 1, 1)), ("sunspots", (2, 0, 0)), ("sunspots", (2, 0, 1)),
         ("infl", (1, 0, 2)), ("infl", (2, 1, 1)), ("nile", (0, 0, 2))]


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-{o}" for n, o in CASES])
def case(request):
    name, order = request.param
    y = SERIES[name]
    return y, order, _sm_fit(y, order), ARIMA(y, order=order).fit()


def test_loglike_at_statsmodels_params_equals_statsmodels_llf(case):
    y, order, smr, _ = case
    assert ARIMA(y, order=order).loglike(smr.params) == pytest.approx(smr.llf, rel=1e-6)


def test_fitted_llf_is_at_least_statsmodels(case):
    y, order, smr, ours = case
    assert ours.llf >= smr.llf - 1e-3
    assert ours.param_names == list(smr.model.param_names)
    assert ours.aic == pytest.approx(-2 * ours.llf + 2 * len(ours.params))
    # Same information criteria as statsmodels at the same likelihood.
    assert ours.aic - smr.aic == pytest.approx(-2 * (ours.llf - smr.llf), abs=1e-9)
    assert ours.bic - smr.bic == pytest.approx(-2 * (ours.llf - smr.llf), abs=1e-9)


def test_forecasts_intervals_and_residuals_agree(case):
    y, order, smr, ours = case
    at_sm = ARIMA(y, order=order).filter(smr.params)
    f, g = at_sm.get_forecast(6), smr.get_forecast(6)
    np.testing.assert_allclose(f.predicted_mean, g.predicted_mean, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(f.se_mean, g.se_mean, rtol=1e-7)
    np.testing.assert_allclose(f.conf_int(0.1), g.conf_int(alpha=0.1), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(at_sm.resid, smr.resid, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(at_sm.fittedvalues, smr.fittedvalues, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(at_sm.bse, smr.bse, rtol=1e-3)
    # The fitted model forecasts like statsmodels' fitted model.
    scale = np.abs(g.predicted_mean).max() + g.se_mean.max()
    assert np.abs(ours.forecast(6) - g.predicted_mean).max() <= 1e-2 * scale


def test_shampoo_walk_forward_matches_the_chapter():
    res = walk_forward(load_shampoo(), order=(5, 1, 0), train_frac=0.66)
    assert res.train_size == 23 and len(res.predictions) == 13
    assert res.mse == pytest.approx(7924.748, abs=0.5)
    assert res.rmse == pytest.approx(np.sqrt(res.mse))


def test_full_sample_shampoo_reference_figures():
    res = ARIMA(load_shampoo(), order=(5, 1, 0)).fit()
    assert res.llf == pytest.approx(-198.48467, abs=1e-4)
    assert res.aic == pytest.approx(408.969, abs=1e-3)
    assert res.bic == pytest.approx(418.301, abs=1e-3)
    text = res.summary()
    assert "ARIMA(5, 1, 0)" in text and "ar.L5" in text and "sigma2" in text


arma = st.fixed_dictionaries({
    "p": st.integers(0, 3), "q": st.integers(0, 2), "d": st.integers(0, 1),
    "n": st.integers(30, 120), "seed": st.integers(0, 2**31 - 1),
    "const": st.floats(-5, 5), "trend": st.booleans(),
})


def _draw_polynomial(rng, k, sign):
    """Coefficients of a stationary (sign=+1, AR) or invertible (sign=-1, MA) polynomial,
    from roots drawn outside the unit circle."""
    roots = rng.uniform(1.2, 4.0, k) * rng.choice([-1, 1], k)
    poly = np.polynomial.polynomial.polyfromroots(roots)
    poly = poly / poly[0]  # 1 + c1 z + ...
    return -sign * poly[1:] if sign > 0 else poly[1:]


@settings(max_examples=20)
@given(c=arma)
def test_loglike_equals_statsmodels_on_simulated_arma(c):
    rng = np.random.default_rng(c["seed"])
    ar = _draw_polynomial(rng, c["p"], +1)
    ma = _draw_polynomial(rng, c["q"], -1)
    w = arma_generate_sample(np.r_[1, -ar], np.r_[1, ma], c["n"], scale=1.5,
                             distrvs=rng.standard_normal) + c["const"]
    y = np.cumsum(w) if c["d"] else w
    trend = "c" if c["trend"] and c["d"] == 0 else "n"
    order = (c["p"], c["d"], c["q"])
    params = np.r_[[c["const"]] * (trend == "c"), ar, ma, 1.5 ** 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_llf = SMARIMA(y, order=order, trend=trend).loglike(params)
    assert ARIMA(y, order=order, trend=trend).loglike(params) == pytest.approx(sm_llf, rel=1e-6)


def test_special_cases_ar_ma_arma():
    y = SERIES["sunspots"]
    for order in [(2, 0, 0), (0, 0, 2), (1, 0, 1)]:
        ours, smr = ARIMA(y, order=order).fit(), _sm_fit(y, order)
        assert ours.llf >= smr.llf - 1e-3
        assert ours.param_names[0] == "const"


def test_css_minimises_the_conditional_sum_of_squares():
    y = SERIES["infl"]
    res = ARIMA(y, order=(2, 0, 1)).fit(method="css")
    const, a1, a2, m1, sigma2 = res.params
    w = y.copy()
    # An independent NumPy recursion of the CSS residuals.
    e = np.zeros(len(w))
    for t in range(2, len(w)):
        e[t] = (w[t] - const - a1 * (w[t - 1] - const) - a2 * (w[t - 2] - const)
                - (m1 * e[t - 1] if t - 1 >= 2 else 0))
    np.testing.assert_allclose(css_residuals(w - const, np.array([a1, a2]), np.array([m1])),
                               e[2:], rtol=1e-12, atol=1e-12)
    assert sigma2 == pytest.approx(np.mean(e[2:] ** 2), rel=1e-10)
    # Any small move of the parameters increases the sum of squares.
    base = np.sum(e[2:] ** 2)
    rng = np.random.default_rng(0)
    for _ in range(10):
        d = 1e-3 * rng.standard_normal(4)
        r = css_residuals(w - const - d[0], np.array([a1 + d[1], a2 + d[2]]),
                          np.array([m1 + d[3]]))
        assert np.sum(r ** 2) >= base - 1e-9
    css_mle = ARIMA(y, order=(2, 0, 1)).fit(method="css-mle")
    assert css_mle.llf >= _sm_fit(y, (2, 0, 1)).llf - 1e-3


def test_fit_many_equals_single_fits_and_runs_on_dask():
    rng = np.random.default_rng(1)
    Y = np.cumsum(rng.standard_normal((70, 60)), axis=1)  # >= 64: the parallel path
    many = fit_many(Y, (2, 1, 0))
    assert not many.refitted.any()
    assert many.params.shape == (70, 3) and many.param_names == ["ar.L1", "ar.L2", "sigma2"]
    # One joint optimisation finds the same maxima as the fits one by one.
    for i, y in enumerate(Y[::7]):
        i *= 7
        single = ARIMA(y, order=(2, 1, 0)).fit()
        assert many.llf[i] >= single.llf - 1e-6
        assert many.llf[i] == pytest.approx(ARIMA(y, order=(2, 1, 0)).loglike(many.params[i]))
        np.testing.assert_allclose(many.params[i], single.params, rtol=1e-2, atol=1e-3)
    distributed = pytest.importorskip("distributed", reason="dask[distributed] not installed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        from tinyrnn.arima.batch import chunk_size
        assert chunk_size(len(Y), client) == 35  # one chunk per worker thread
        on_dask = fit_many(Y, (2, 1, 0), scheduler=client)
        on_dask_default = fit_many(Y, (2, 1, 0), scheduler="dask")
    for other in (on_dask, on_dask_default):
        assert other.params.shape == many.params.shape
        np.testing.assert_allclose(other.llf, many.llf, rtol=0, atol=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ARIMA(np.arange(30.0), order=(-1, 0, 0)), ValueError, "order p must be >= 0"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 0)), ValueError, r"order must be a tuple"),
    (lambda: ARIMA(np.arange(30.0), (1, 1, 0)), TypeError, "looks like an order"),
    (lambda: ARIMA(np.arange(30.0), order=(1.5, 0, 0)), TypeError, "order p must be an integer"),
    (lambda: ARIMA(np.arange(5.0), order=(3, 1, 2)), ValueError, "too short"),
    (lambda: ARIMA(np.r_[np.ones(20), np.nan, np.ones(9)], order=(0, 0, 0)),
     ValueError, "missing or non-finite"),
    (lambda: ARIMA(np.ones((5, 5)), order=(1, 0, 0)), ValueError, "1-D"),
    (lambda: ARIMA(np.array(["a"] * 20), order=(1, 0, 0)), TypeError, "numeric"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 1, 0), trend="c"), ValueError, "trend='c'"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 0, 0), trend="ctt"), ValueError, "trend must be"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 0, 0)).fit(method="ols"), ValueError, "method"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 0, 0)).loglike([0.0, 1.5, 1.0]), ValueError,
     "not stationary"),
    (lambda: ARIMA(np.arange(30.0), order=(1, 0, 0)).loglike([0.0, 0.5]), ValueError, "shape"),
    (lambda: ARIMA(load_shampoo(), order=(1, 1, 0)).fit().forecast(0), ValueError, "steps"),
    (lambda: fit_many(np.ones(10), (1, 0, 0)), ValueError, "2-D"),
    (lambda: fit_many([np.ones(30), np.ones(3)], (1, 1, 0)), ValueError, "series 1"),
    (lambda: walk_forward(load_shampoo(), train_frac=1.5), ValueError, "train_frac"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@settings(max_examples=15)
@given(p=st.integers(0, 3), d=st.integers(0, 2), q=st.integers(0, 2), trend=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_exact_score_equals_statsmodels_complex_step_score(p, d, q, trend, seed):
    """The forward-mode score against statsmodels' complex-step derivative of its own
    log-likelihood (an independent derivation), and the gradient in the optimiser's
    coordinates against the chain rule."""
    from tinyrnn.arima import statespace
    rng = np.random.default_rng(seed)
    trend = "c" if trend and d == 0 else "n"
    y = rng.standard_normal(60).cumsum() if d else rng.standard_normal(60) + 2
    model = ARIMA(y, order=(p, d, q), trend=trend)
    u = 0.6 * rng.standard_normal(model.k_params)
    # sigma2 of the data's order (unit-variance increments): statsmodels' double-precision
    # filter, the reference here, loses kappa eps / sigma2 of relative accuracy (4e-6 at
    # sigma2 = 2e-4); test_arima_exact.py holds smaller variances to a 60-digit filter.
    u[-1] = rng.uniform(0.7, 1.4)
    params = statespace.constrain(u, model.spec.dims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SMARIMA(y, order=(p, d, q), trend=trend).score(params)
    ours = model.score(params)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7 * np.abs(ref).max())
    _, grad = statespace.loglike_and_gradient(y, model.regressors, u, model.spec.dims,
                                              statespace.KAPPA, statespace.TOLERANCE)
    J = statespace.constrain_jacobian(u, model.spec.dims)
    np.testing.assert_allclose(grad, J.T @ ours, rtol=1e-9, atol=1e-9 * np.abs(grad).max())


@settings(max_examples=20, deadline=None)
@given(p=st.integers(0, 2), d=st.integers(0, 2), q=st.integers(0, 2), P=st.integers(0, 1),
       D=st.integers(0, 1), Q=st.integers(0, 1), s=st.sampled_from([4, 12]),
       regressors=st.booleans(), kappa=st.sampled_from([1.0, 1e2, 1e6]),
       seed=st.integers(0, 2**31 - 1))
def test_chandrasekhar_objective_equals_the_filter(p, d, q, P, D, Q, s, regressors, kappa,
                                                   seed):
    """The optimiser's objective (the reversed differenced series by Chandrasekhar
    recursions plus the first observations' correction) is the state-space filter's log L
    at finite kappa -- kappa = 1 is far from diffuse -- and its gradient the filter's
    score, with and without regressors, seasonal or not."""
    from tinyrnn.arima import chandrasekhar, statespace
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(90).cumsum() * rng.uniform(0.5, 3) + 5
    exog = rng.standard_normal((90, 1)) if regressors else None
    trend = "t" if regressors and d + D == 1 else None
    model = ARIMA(y, exog=exog, order=(p, d, q), seasonal_order=(P, D, Q, s) if P + D + Q
                  else None, trend=trend)
    u = 0.6 * rng.standard_normal(model.k_params)
    u[-1] = rng.uniform(0.7, 1.4)
    dims = model.spec.dims
    params = statespace.constrain(u, dims)
    ref = statespace.loglike(y, model.regressors, params, dims, kappa, -1.0)
    score = statespace.run(y, model.regressors, params, dims, kappa, -1.0, True)[2].sum(axis=0)
    w_rev, X_rev, z, X_head, _, _, H_inv, G = model.objective_data(Scaling(1.0, kappa, -1.0))
    llf, grad = chandrasekhar.loglike_exact(w_rev, X_rev, z, X_head, params, dims, kappa,
                                            H_inv, G, True)
    assert llf == pytest.approx(ref, rel=1e-10, abs=1e-9)
    np.testing.assert_allclose(grad, score, rtol=1e-7, atol=1e-8 * np.abs(score).max())
    value, grad_u = chandrasekhar.loglike_and_gradient(w_rev, X_rev, z, X_head, u, dims, kappa,
                                                       H_inv, G)
    J = statespace.constrain_jacobian(u, dims)
    assert value == pytest.approx(llf, rel=1e-14)
    np.testing.assert_allclose(grad_u, J.T @ grad, rtol=1e-9, atol=1e-9 * np.abs(grad_u).max())

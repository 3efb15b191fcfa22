"""ARIMA results as statsmodels 0.15 gives them: values, types, index and names.

Each comparison runs statsmodels at tinyrnn's parameters (``smooth(params)``), so that
optimiser differences cannot hide or fake a mismatch: values agree to ~1e-6 relative
(the covariance: OPG from exact scores here, from complex-step scores in statsmodels).
"""
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pandas.testing import assert_frame_equal, assert_index_equal, assert_series_equal
from statsmodels.tsa.arima.model import ARIMA as SMARIMA

from tinyrnn.arima import ARIMA, load_airpassengers, load_shampoo, walk_forward

RTOL = 1e-6


def _sm(endog, params, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SMARIMA(endog, **kw).smooth(np.asarray(params))


SHAMPOO = pd.Series(load_shampoo(), pd.date_range("2001-01-01", periods=36, freq="MS"),
                    name="sales")
AIR = pd.Series(np.log(load_airpassengers()), pd.date_range("1949-01-01", periods=144,
                                                            freq="MS"), name="passengers")


@pytest.fixture(scope="module")
def shampoo():
    ours = ARIMA(SHAMPOO, order=(5, 1, 0)).fit()
    return ours, _sm(SHAMPOO, ours.params, order=(5, 1, 0))


@pytest.fixture(scope="module")
def airline():
    kw = dict(order=(0, 1, 1), seasonal_order=(0, 1, 1, 12))
    ours = ARIMA(AIR, **kw).fit()
    return ours, _sm(AIR, ours.params, **kw)


@pytest.fixture(scope="module")
def macro():
    """Regression with ARIMA errors on statsmodels' macrodata (quarterly, PeriodIndex):
    log real consumption (in percent) on log real disposable income. In percent, because
    the innovations of the plain log have variance 3e-6, where statsmodels' filter loses
    kappa eps / sigma2 ~ 1e-4 of its accuracy (tests/test_arima_exact.py) and is no reference
    at 1e-6."""
    data = sm.datasets.macrodata.load_pandas().data
    index = pd.period_range("1959Q1", periods=len(data), freq="Q")
    y = pd.Series(100 * np.log(data["realcons"].to_numpy()), index, name="realcons")
    X = pd.DataFrame({"realdpi": np.log(data["realdpi"].to_numpy())}, index=index)
    kw = dict(order=(1, 1, 1), trend="t")
    ours = ARIMA(y[:190], exog=X[:190], **kw).fit()
    return ours, _sm(y[:190], ours.params, exog=X[:190], **kw), y, X, kw


# --------------------------------------------------------------------------- pandas out
def test_estimates_are_named_series_like_statsmodels(shampoo):
    ours, ref = shampoo
    for attr in ("params", "bse", "pvalues", "tvalues", "zvalues"):
        assert_series_equal(getattr(ours, attr), getattr(ref, attr), rtol=RTOL,
                            check_names=True)
    assert_frame_equal(ours.cov_params(), ref.cov_params(), rtol=RTOL)
    assert_frame_equal(ours.conf_int(), ref.conf_int(), rtol=RTOL)
    assert_frame_equal(ours.conf_int(alpha=0.2), ref.conf_int(alpha=0.2), rtol=RTOL)
    assert list(ours.params.index) == ours.param_names == list(ref.params.index)


def test_residuals_and_forecasts_carry_the_index(shampoo):
    ours, ref = shampoo
    assert_series_equal(ours.fittedvalues, ref.fittedvalues, rtol=RTOL)
    assert_series_equal(ours.resid, ref.resid, rtol=RTOL)
    fc = ours.forecast(4)
    assert_series_equal(fc, ref.forecast(4), rtol=RTOL)
    assert fc.index[0] == pd.Timestamp("2004-01-01") and fc.index.freqstr == "MS"
    f, g = ours.get_forecast(4), ref.get_forecast(4)
    assert_series_equal(f.se_mean, g.se_mean, rtol=RTOL)
    assert_series_equal(f.var_pred_mean, g.var_pred_mean, rtol=RTOL)
    assert_frame_equal(f.conf_int(), g.conf_int(), rtol=RTOL)
    assert list(f.conf_int().columns) == ["lower sales", "upper sales"]
    # steps as the last date to forecast
    assert_series_equal(ours.forecast("2004-03-01"), ref.forecast(3), rtol=RTOL)


PREDICTIONS = [dict(), dict(start=30, end=40), dict(start=0, end=5), dict(start=38, end=41),
               dict(start="2003-06-01", end="2004-02-01", dynamic=True),
               dict(start=10, end=40, dynamic=5),
               dict(start=20, end=39, dynamic="2003-01-01")]


@pytest.mark.parametrize("kw", PREDICTIONS, ids=[str(k) for k in PREDICTIONS])
def test_predictions_match_statsmodels(shampoo, kw):
    ours, ref = shampoo
    a, b = ours.get_prediction(**kw), ref.get_prediction(**kw)
    assert_frame_equal(a.summary_frame(), b.summary_frame(), rtol=RTOL)
    assert_frame_equal(a.summary_frame(alpha=0.1), b.summary_frame(alpha=0.1), rtol=RTOL)
    assert_frame_equal(a.conf_int(), b.conf_int(), rtol=RTOL)
    assert_series_equal(a.predicted_mean, b.predicted_mean, rtol=RTOL)
    assert_series_equal(ours.predict(**kw), ref.predict(**kw), rtol=RTOL)
    assert list(a.summary_frame().columns) == ["mean", "mean_se", "mean_ci_lower",
                                               "mean_ci_upper"]


def test_dynamic_prediction_differs_from_one_step(shampoo):
    """Dynamic predictions ignore the data after their start: they are not the fitted
    values, and they are the forecasts of the model fitted on the data before."""
    ours, _ = shampoo
    dyn = ours.predict(start=25, end=35, dynamic=True)
    assert not np.allclose(dyn.to_numpy(), ours.fittedvalues.iloc[25:].to_numpy())
    earlier = ARIMA(SHAMPOO[:25], order=(5, 1, 0)).filter(ours.params.to_numpy())
    np.testing.assert_allclose(dyn.to_numpy(), earlier.forecast(11).to_numpy(), rtol=1e-10)


def test_seasonal_model(airline):
    ours, ref = airline
    assert_series_equal(ours.bse, ref.bse, rtol=RTOL)
    for kw in (dict(start=100, end=160, dynamic=10), dict(start=130, end=150)):
        assert_frame_equal(ours.get_prediction(**kw).summary_frame(),
                           ref.get_prediction(**kw).summary_frame(), rtol=RTOL)
    assert_series_equal(ours.forecast(24), ref.forecast(24), rtol=RTOL)


def test_exog_model_on_macrodata(macro):
    ours, ref, y, X, kw = macro
    assert list(ours.params.index) == list(ref.params.index) == \
        ["drift", "realdpi", "ar.L1", "ma.L1", "sigma2"]
    assert_series_equal(ours.bse, ref.bse, rtol=RTOL)
    assert_series_equal(ours.fittedvalues, ref.fittedvalues, rtol=RTOL)
    future = X[190:]
    for args in (dict(start=180, end=202, exog=future), dict(start=170, end=195, dynamic=4,
                                                             exog=future[:6])):
        assert_frame_equal(ours.get_prediction(**args).summary_frame(),
                           ref.get_prediction(**args).summary_frame(), rtol=RTOL)
    fc = ours.forecast(3, exog=future[:3].to_numpy())
    assert_series_equal(fc, ref.forecast(3, exog=future[:3]), rtol=RTOL)
    assert isinstance(fc.index, pd.PeriodIndex) and str(fc.index[0]) == "2006Q3"
    with pytest.raises(ValueError, match="needs their future values"):
        ours.forecast(3)


# --------------------------------------------------------------------------- arrays stay arrays
def test_arrays_in_arrays_out():
    y = load_shampoo()
    ours = ARIMA(y, order=(5, 1, 0)).fit()
    ref = _sm(y, ours.params, order=(5, 1, 0))
    for attr in ("params", "bse", "pvalues", "tvalues", "resid", "fittedvalues"):
        value = getattr(ours, attr)
        assert type(value) is np.ndarray and type(getattr(ref, attr)) is np.ndarray, attr
        np.testing.assert_allclose(value, getattr(ref, attr), rtol=RTOL, err_msg=attr)
    for ours_v, ref_v in ((ours.cov_params(), ref.cov_params()),
                          (ours.conf_int(), ref.conf_int()), (ours.forecast(3), ref.forecast(3)),
                          (ours.predict(30, 40, dynamic=2), ref.predict(30, 40, dynamic=2)),
                          (ours.get_forecast(3).conf_int(), ref.get_forecast(3).conf_int())):
        assert type(ours_v) is np.ndarray and type(ref_v) is np.ndarray
        np.testing.assert_allclose(ours_v, ref_v, rtol=RTOL)
    assert_frame_equal(ours.get_prediction(30, 40).summary_frame(),
                       ref.get_prediction(30, 40).summary_frame(), rtol=RTOL)
    with pytest.raises(TypeError, match="start must be an integer position"):
        ours.predict(start="2001-01-01")


def test_arrays_never_import_pandas():
    code = ("import sys, numpy as np; from tinyrnn.arima import ARIMA, load_shampoo; "
            "r = ARIMA(load_shampoo(), order=(1, 1, 0)).fit(); r.summary(); r.bse; "
            "r.get_prediction(3, 40, dynamic=2).conf_int(); r.append(np.ones(3)); "
            "r.extend(np.ones(2)).forecast(2); r.test_serial_correlation(); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- indexes
def test_index_kinds_like_statsmodels():
    y = load_shampoo()[:24]
    params = [0.3, 4000.0]
    for index in (pd.RangeIndex(10, 34), pd.period_range("2000Q1", periods=24, freq="Q"),
                  pd.DatetimeIndex(pd.date_range("2000-01-31", periods=24, freq="ME").values)):
        s = pd.Series(y, index)
        ours = ARIMA(s, order=(1, 0, 0), trend="n").filter(params)
        ref = _sm(s, params, order=(1, 0, 0), trend="n")
        assert_series_equal(ours.forecast(3), ref.forecast(3), rtol=RTOL)
        assert_series_equal(ours.predict(15, 27), ref.predict(15, 27), rtol=RTOL)
        assert_series_equal(ours.fittedvalues, ref.fittedvalues, rtol=RTOL,
                            check_freq=False)
    # Labels that cannot be continued: in-sample results keep them, forecasts are refused
    s = pd.Series(y, [f"m{i}" for i in range(24)])
    ours = ARIMA(s, order=(1, 0, 0), trend="n").filter(params)
    assert_index_equal(ours.resid.index, s.index)
    assert list(ours.predict(3, 5).index) == ["m3", "m4", "m5"]
    with pytest.raises(ValueError, match="no frequency to continue it"):
        ours.forecast(2)


def test_one_column_dataframe_is_a_series():
    frame = SHAMPOO.to_frame()
    ours = ARIMA(frame, order=(1, 1, 0)).filter([-0.5, 5000.0])
    ref = _sm(frame, [-0.5, 5000.0], order=(1, 1, 0))
    assert_series_equal(ours.forecast(2), ref.forecast(2), rtol=RTOL)
    assert_frame_equal(ours.get_forecast(2).conf_int(), ref.get_forecast(2).conf_int(),
                       rtol=RTOL)


# --------------------------------------------------------------------------- diagnostics
@pytest.mark.parametrize("which", ["shampoo", "airline", "macro"])
def test_residual_tests_match_statsmodels(which, shampoo, airline, macro):
    ours, ref = {"shampoo": shampoo, "airline": airline, "macro": macro[:2]}[which]
    lb = ours.test_serial_correlation("ljungbox")
    expected = ref.test_serial_correlation("ljungbox")
    assert lb.shape == expected.shape  # (1, 2, default lags): 7, 24, 10 here
    np.testing.assert_allclose(lb, expected, rtol=RTOL)
    np.testing.assert_allclose(ours.test_serial_correlation("ljungbox", lags=[1, 4]),
                               ref.test_serial_correlation("ljungbox", lags=[1, 4]),
                               rtol=RTOL)
    np.testing.assert_allclose(ours.test_normality("jarquebera"),
                               ref.test_normality("jarquebera"), rtol=RTOL)
    for alternative in ("two-sided", "increasing", "decreasing"):
        np.testing.assert_allclose(
            ours.test_heteroskedasticity("breakvar", alternative=alternative),
            ref.test_heteroskedasticity("breakvar", alternative=alternative), rtol=RTOL)


def _without_clock(text):
    return [line for line in str(text).splitlines()
            if not line.startswith(("Date:", "Time:", "[1] Covariance"))]


@pytest.mark.parametrize("which", ["shampoo", "airline", "macro"])
def test_summary_is_statsmodels_text(which, shampoo, airline, macro):
    """The same text line by line, but for the clock and the note on how the scores were
    differentiated (exactly here, by complex steps there)."""
    ours, ref = {"shampoo": shampoo, "airline": airline, "macro": macro[:2]}[which]
    text = ours.summary()
    assert _without_clock(text) == _without_clock(ref.summary())
    for row in ("Dep. Variable:", "Model:", "Date:", "Time:", "Sample:", "Covariance Type:",
                "No. Observations:", "Log Likelihood", "AIC", "BIC", "HQIC",
                "Ljung-Box (L1) (Q):", "Prob(Q):", "Jarque-Bera (JB):", "Prob(JB):",
                "Heteroskedasticity (H):", "Prob(H) (two-sided):", "Skew:", "Kurtosis:"):
        assert row in text


def test_plot_diagnostics_draws_four_panels(shampoo):
    matplotlib = pytest.importorskip("matplotlib", reason="pip install matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = shampoo[0].plot_diagnostics(figsize=(10, 8))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ['Standardized residual for "sales"', "Histogram plus estimated density",
                      "Normal Q-Q", "Correlogram"]
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), shampoo[0].standardized_forecasts_error[1:])
    assert tuple(fig.get_size_inches()) == (10, 8)
    plt.close(fig)


# --------------------------------------------------------------------------- new data
def test_append_extend_apply_match_statsmodels(macro):
    ours, _, y, X, kw = macro
    params = ours.params.to_numpy()
    o = ARIMA(y[:150], exog=X[:150], **kw).filter(params)
    r = _sm(y[:150], params, exog=X[:150], **kw)
    cases = [("append", o.append(y[150:190], exog=X[150:190]),
              r.append(y[150:190], exog=X[150:190])),
             ("extend", o.extend(y[150:190], exog=X[150:190]),
              r.extend(y[150:190], exog=X[150:190])),
             ("apply", o.apply(y[20:190], exog=X[20:190]), r.apply(y[20:190], exog=X[20:190]))]
    for name, a, b in cases:
        assert a.nobs == b.nobs, name
        assert a.llf == pytest.approx(b.llf, rel=1e-9), name
        assert_series_equal(a.fittedvalues, b.fittedvalues, rtol=RTOL)
        assert_series_equal(a.bse, b.bse, rtol=RTOL)  # the covariance is the original one
        assert a.cov_type == b.cov_type == "opg"
        assert_frame_equal(a.get_prediction(a.nobs - 5, a.nobs - 1).summary_frame(),
                           b.get_prediction(b.nobs - 5, b.nobs - 1).summary_frame(), rtol=RTOL)
    # Past the sample, extend forecasts what append does; statsmodels' extend puts a time
    # trend one extension off (its trend offset counted twice), so append is the reference.
    for name, a, _ in cases[:2]:
        assert_frame_equal(a.get_forecast(3, exog=X[190:193]).summary_frame(),
                           cases[0][2].get_forecast(3, exog=X[190:193]).summary_frame(),
                           rtol=RTOL)
    # append's new one-step predictions are extend's
    assert_series_equal(cases[0][1].fittedvalues[150:], cases[1][1].fittedvalues, rtol=1e-10)


def test_extend_continues_the_trend_and_the_state():
    """Extend's forecasts are append's (the trend's time and the state continue). With a
    time trend statsmodels' extend puts its forecasts one trend step off (the extension's
    trend offset is counted twice): there append is the reference."""
    z = np.log(np.r_[load_shampoo(), load_shampoo() * 1.1, load_shampoo() * 1.3])
    zs = pd.Series(z, pd.date_range("2001-01-01", periods=len(z), freq="MS"))
    for kw, params in ((dict(order=(1, 1, 0), trend="t"), [0.01, -0.4, 0.01]),
                       (dict(order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)),
                        [-0.4, -0.5, 0.01])):
        o = ARIMA(zs[:90], **kw).filter(params)
        r = _sm(zs[:90], params, **kw)
        for k in (1, 8):  # one new observation is enough to extend
            e, ref = o.extend(zs[90:90 + k]), r.extend(zs[90:90 + k])
            assert e.llf == pytest.approx(ref.llf, abs=1e-9)
            # (statsmodels' extension of an unnamed series returns object dtype)
            assert_series_equal(e.fittedvalues, ref.fittedvalues.astype(float), rtol=RTOL)
            assert_series_equal(e.forecast(3), _sm(zs[:90 + k], params, **kw).forecast(3),
                                rtol=RTOL)


def test_refit_starts_from_the_estimates(shampoo):
    ours, ref = shampoo
    new = pd.Series([500.0, 620.0, 580.0], pd.date_range("2004-01-01", periods=3, freq="MS"),
                    name="sales")
    a = ours.append(new, refit=True)
    b = ref.append(new, refit=True)
    assert a.nobs == 39 and a.llf >= b.llf - 1e-6
    assert a.cov_type == "opg" and not np.allclose(a.params, ours.params)
    a = ours.apply(SHAMPOO[5:], refit=True)
    assert a.nobs == 31 and a.llf >= ref.apply(SHAMPOO[5:], refit=True).llf - 1e-6


def test_new_data_errors(shampoo, macro):
    ours = shampoo[0]
    wrong = pd.Series([1.0, 2.0], pd.date_range("2010-01-01", periods=2, freq="MS"))
    with pytest.raises(ValueError, match="must continue the data's index"):
        ours.append(wrong)
    with pytest.raises(ValueError, match="must continue the data's index"):
        ours.extend(wrong)
    with pytest.raises(ValueError, match="needs exog for the new observations"):
        macro[0].append(macro[2][190:])
    with pytest.raises(ValueError, match="fit_kwargs are for refit=True"):
        ours.append(np.ones(2), fit_kwargs={"method": "css"})


@pytest.mark.parametrize("call, match", [
    (lambda r: r.predict(start=10, end=5), "need 0 <= start <= end"),
    (lambda r: r.predict(start=10, end=20, dynamic=-1), "dynamic prediction must start"),
    (lambda r: r.predict(start="not a date"), "is not a date"),
    (lambda r: r.get_forecast(0), "steps must be an integer >= 1"),
    (lambda r: r.conf_int(alpha=1.5), "alpha must be in"),
    (lambda r: r.get_forecast(2).summary_frame(alpha=0), "alpha must be in"),
    (lambda r: r.predict(0, 5, exog=np.ones((2, 1))), "exog is for the periods after"),
    (lambda r: r.test_serial_correlation("boxpierce"), "method must be 'ljungbox'"),
    (lambda r: r.test_heteroskedasticity(alternative="up"), "alternative must be"),
])
def test_bad_prediction_arguments(shampoo, call, match):
    with pytest.raises(ValueError, match=match):
        call(shampoo[0])


# --------------------------------------------------------------------------- CLI progress
def test_walk_forward_reports_its_stages(monkeypatch, capsys):
    from tinyrnn.workflows import progress
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    y = load_shampoo()
    res = walk_forward(y, order=(1, 1, 0), train_frac=0.8, show_progress=True)
    assert capsys.readouterr().err.splitlines() == [
        "tinyrnn: walk-forward: fitting 8 ARIMA(1, 1, 0) refits (histories of 28 to 35 "
        "points) as one batch",
        "tinyrnn: walk-forward: 8 one-step forecasts"]
    quiet = walk_forward(y, order=(1, 1, 0), train_frac=0.8)
    assert capsys.readouterr().err == "" and quiet.mse == res.mse


def test_cli_walk_forward_progress(tmp_path, monkeypatch, capsys):
    from tinyrnn.cli import main
    from tinyrnn.workflows import progress
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    path = tmp_path / "y.csv"
    path.write_text("v\n" + "\n".join(str(v) for v in load_shampoo()) + "\n")
    main(["arima", str(path), "--order", "1", "1", "0", "--walk-forward"])
    captured = capsys.readouterr()
    assert "Test RMSE" in captured.out and "tinyrnn:" not in captured.out
    assert "tinyrnn: walk-forward: fitting 13 ARIMA(1, 1, 0) refits" in captured.err

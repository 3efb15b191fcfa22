"""The KPSS and OCSB tests and ndiffs/nsdiffs against statsmodels' kpss and pmdarima."""
import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from tinyrnn.arima import load_airpassengers, load_shampoo
from tinyrnn.arima import unit_root as ur

pm = pytest.importorskip("pmdarima")


def _simulated():
    rng = np.random.default_rng(7)
    out = []
    def seasonal_walk(e, m):  # x_t = x_{t-m} + e_t: needs a seasonal difference
        x = e.copy()
        for t in range(m, len(x)):
            x[t] += x[t - m]
        return x

    for i in range(32):
        n = int(rng.integers(30, 200))
        e = rng.standard_normal(n)
        season = 3 * np.sin(2 * np.pi * np.arange(n) / 12)
        out.append([e, np.cumsum(e), np.cumsum(np.cumsum(e)), season + 0.3 * np.cumsum(e),
                    5 + 0.8 * np.r_[0, e[:-1]] + e, season + e, seasonal_walk(e, 4),
                    seasonal_walk(e, 12)][i % 8])
    return out


REAL = {"shampoo": load_shampoo(), "log_air": np.log(load_airpassengers()),
        "nile": sm.datasets.nile.load_pandas().data["volume"].to_numpy(float),
        "wineind": pm.datasets.load_wineind(), "austres": pm.datasets.load_austres(),
        "lynx": pm.datasets.load_lynx()}
SERIES = list(REAL.values()) + _simulated()


@pytest.mark.parametrize("null", ["level", "trend"])
def test_kpss_matches_statsmodels(null):
    from statsmodels.tsa.stattools import kpss
    for x in SERIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels warns when p is off its table
            stat, p, _, _ = kpss(x, regression="c" if null == "level" else "ct",
                                 nlags=ur.kpss_lags(len(x)))
        ours = ur.kpss(x, null=null)
        assert ours[0] == pytest.approx(stat, rel=1e-10)
        assert ours[1] == pytest.approx(p, rel=1e-10)


def test_ndiffs_and_kpss_match_pmdarima():
    from pmdarima.arima.stationarity import KPSSTest
    for x in SERIES:
        assert ur.kpss(x)[1] == pytest.approx(KPSSTest().should_diff(x)[0], rel=1e-10)
        assert ur.ndiffs(x) == pm.arima.ndiffs(x)
        assert ur.ndiffs(x, max_d=1) == pm.arima.ndiffs(x, max_d=1)


@pytest.mark.parametrize("m", [4, 12])
def test_ocsb_and_nsdiffs_match_pmdarima(m):
    from pmdarima.arima.seasonality import OCSBTest
    assert ur.ocsb_critical_value(m) == pytest.approx(OCSBTest._calc_ocsb_crit_val(m))
    decisions = set()
    for x in SERIES:
        if len(x) < 3 * m + 10:
            continue
        stat = OCSBTest(m)._compute_test_statistic(np.asarray(x, float))
        assert ur.ocsb(x, m) == pytest.approx(stat, rel=1e-8, abs=1e-10)
        D = ur.nsdiffs(x, m)
        assert D == pm.arima.nsdiffs(x, m, max_D=1)
        decisions.add(D)
    assert decisions == {0, 1}  # both outcomes exercised


def test_known_answers():
    # the airline data need one seasonal difference, then d = 1 (as in the textbooks)
    y = np.log(load_airpassengers())
    assert ur.nsdiffs(y, 12) == 1
    assert ur.ndiffs(y) == 1
    assert ur.ndiffs(np.random.default_rng(0).standard_normal(200)) == 0
    assert ur.ndiffs(np.ones(20)) == 0 and ur.nsdiffs(np.ones(40), 4) == 0


def test_bad_input():
    with pytest.raises(ValueError, match="null"):
        ur.kpss(np.arange(10.0), null="x")
    with pytest.raises(ValueError, match="1-D"):
        ur.kpss(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        ur.ndiffs([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        ur.ndiffs(np.arange(10.0), alpha=2)
    with pytest.raises(ValueError, match="m must be"):
        ur.ocsb(np.arange(50.0), m=1)
    with pytest.raises(ValueError, match="more than m"):
        ur.ocsb(np.arange(10.0), m=12)

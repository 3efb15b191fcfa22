"""How many differences a series needs: the KPSS test for d, the OCSB test for D.

These are the tests ``auto_arima`` uses to choose the differencing orders before it searches
the ARMA orders, written in NumPy and made to give pmdarima's answers (pmdarima 2.1.1:
``KPSSTest``, ``OCSBTest``, ``ndiffs``, ``nsdiffs``; they follow R's ``tseries`` and
``forecast`` packages).

KPSS (Kwiatkowski, Phillips, Schmidt and Shin, 1992), null hypothesis: x is stationary
around a level (or a linear trend). With e the residuals of x on a constant (or on
[1, t]), S_t = e_1 + ... + e_t their partial sums and l = trunc(4 (n/100)^(1/4)) lags::

    s2(l) = (1/n) sum e_t^2 + (2/n) sum_{i=1..l} (1 - i/(l+1)) sum_{t>i} e_t e_{t-i}
    KPSS  = sum S_t^2 / (n^2 s2(l))

The p-value is interpolated linearly in the test's table of critical values (0.739, 0.574,
0.463, 0.347 for p = 0.01, 0.025, 0.05, 0.10 under the level null) and clipped to
[0.01, 0.10]; the series is differenced while p < alpha. This is statsmodels'
``kpss(x, regression="c", nlags=l)`` statistic.

OCSB (Osborn, Chui, Smith and Birchenhall, 1988), null hypothesis: x needs a seasonal
difference. With z = (1 - L^m) x and w = (1 - L) z, an AR(k) in w is fitted by OLS; with
that AR filter applied to z (z4) and to (1 - L) x (z5), w is regressed on its k lags, z4
and z5 (no constant). The statistic is the t-value of z5; the series is seasonally
differenced while it exceeds the critical value, a smooth function of m fitted to
simulations::

    crit(m) = -0.2937411 exp(-0.2850853 (log m - 0.7656451)
                             - 0.05983644 (log m - 0.7656451)^2) - 1.652202

The lag k is chosen as pmdarima chooses it: the regressions for k = 1 .. max_lag (each on
the rows after max_lag) are compared by AIC, and the test then uses the regression with
k* - 2 lags, where k* is the best (pmdarima's indexing); when that leaves no lag (k* <= 2)
the selection regression of k* lags itself is used. We reproduce that rule rather than the
textbook one so that ``auto_arima`` picks the same D as pmdarima.
"""
from __future__ import annotations

import numpy as np

KPSS_P = np.array([0.01, 0.025, 0.05, 0.10])
KPSS_TABLES = {"level": np.array([0.739, 0.574, 0.463, 0.347]),
               "trend": np.array([0.216, 0.176, 0.146, 0.119])}


def _series(x, name="x"):
    x = np.asarray(getattr(x, "values", x), dtype=np.float64)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one series (1-D), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has missing or non-finite values")
    return x


def is_constant(x) -> bool:
    x = np.asarray(x)
    return bool(x.size == 0 or np.all(x == x[0]))


def _check_alpha(alpha):
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


# ------------------------------------------------------------------------------ KPSS
def kpss_lags(n: int) -> int:
    """The short lag truncation: trunc(4 (n / 100)^(1/4))."""
    return int(np.trunc(4 * (n / 100) ** 0.25))


def kpss(x, null: str = "level", lags: int | None = None):
    """The KPSS statistic and its interpolated p-value (clipped to [0.01, 0.10]).

    ``null`` is "level" (stationary around a constant) or "trend" (around a line);
    ``lags`` defaults to ``kpss_lags(len(x))``."""
    x = _series(x)
    if null not in KPSS_TABLES:
        raise ValueError(f"null must be 'level' or 'trend', got {null!r}")
    n = x.size
    if n < 2:
        raise ValueError(f"the KPSS test needs at least 2 observations, got {n}")
    lags = kpss_lags(n) if lags is None else int(lags)
    if lags < 0:
        raise ValueError(f"lags must be >= 0, got {lags}")
    if null == "level":
        e = x - x.mean()
    else:
        t = np.arange(n, dtype=np.float64)
        X = np.column_stack([np.ones(n), t])
        e = x - X @ np.linalg.lstsq(X, x, rcond=None)[0]
    S = np.cumsum(e)
    eta = float(S @ S) / n ** 2
    s2 = float(e @ e) / n
    for i in range(1, min(lags, n - 1) + 1):  # Bartlett-weighted autocovariances
        s2 += 2.0 / n * (1.0 - i / (lags + 1.0)) * float(e[i:] @ e[:-i])
    stat = eta / s2
    table = KPSS_TABLES[null]  # decreasing in p: interpolate on the reversed table
    pvalue = float(np.interp(stat, table[::-1], KPSS_P[::-1]))
    return float(stat), pvalue


def ndiffs(x, alpha: float = 0.05, max_d: int = 2, null: str = "level") -> int:
    """d: difference x while the KPSS test rejects stationarity at level ``alpha`` (at most
    ``max_d`` times; a constant series, or one that becomes constant, stops there)."""
    x = _series(x)
    _check_alpha(alpha)
    if max_d < 0:
        raise ValueError(f"max_d must be >= 0, got {max_d}")
    d = 0
    if is_constant(x) or max_d == 0:
        return 0
    while d < max_d and x.size >= 2 and kpss(x, null)[1] < alpha:
        d += 1
        x = np.diff(x)
        if is_constant(x):
            break
    return d


# ------------------------------------------------------------------------------ OCSB
def ocsb_critical_value(m: int) -> float:
    """The smoothed 5% critical value of the OCSB statistic for period m."""
    u = np.log(m) - 0.7656451
    return float(-0.2937411 * np.exp(-0.2850853 * u - 0.05983644 * u ** 2) - 1.652202)


def _lag_matrix(y, k):
    """Rows j = 0 .. len(y) - k: [y[j + k - 1], ..., y[j]] (pmdarima's lag layout)."""
    n = y.size
    return np.column_stack([y[k - 1 - i:n - i] for i in range(k)])


class _OLS:
    """Least squares without an implicit constant: coefficients, residual sum of squares,
    rank, and statsmodels' AIC (-2 log L + 2 rank) and t-values."""

    def __init__(self, y, X):
        self.coef, _, self.rank, _ = np.linalg.lstsq(X, y, rcond=None)
        self.singular = self.rank < X.shape[1]
        resid = y - X @ self.coef
        n = y.size
        self.ssr = float(resid @ resid)
        llf = -0.5 * n * (np.log(2 * np.pi) + np.log(self.ssr / n) + 1)
        self.aic = -2 * llf + 2 * self.rank
        self.X, self.n = X, n

    def tvalues(self):
        scale = self.ssr / (self.n - self.rank)
        cov = scale * np.linalg.inv(self.X.T @ self.X)
        return self.coef / np.sqrt(np.diag(cov))


def _with_constant(X):
    return np.column_stack([np.ones(X.shape[0]), X])


def _ocsb_regression(x, m, k, skip):
    """The OCSB regression with k AR lags, on the rows after ``skip`` (None if singular)."""
    z = x[m:] - x[:-m]                    # (1 - L^m) x
    w = np.diff(z)                        # (1 - L)(1 - L^m) x
    target = w[skip:]
    lagged = _lag_matrix(w, k)[:target.size]
    n = target.size
    if n <= k + 3 or lagged.shape[0] < n:
        return None
    ar = _OLS(target, _with_constant(lagged))
    if ar.singular:
        return None
    z4 = z[k:] - _with_constant(_lag_matrix(z, k)[:z.size - k]) @ ar.coef
    dx = np.diff(x)
    z5 = dx[k:] - _with_constant(_lag_matrix(dx, k)[:dx.size - k]) @ ar.coef
    if z4.size < n or z5.size < n:
        return None
    fit = _OLS(target, np.column_stack([lagged, z4[:n], z5[:n]]))
    return None if fit.singular else fit


def ocsb(x, m: int, max_lag: int = 3):
    """The OCSB statistic (t-value of the z5 term) for period ``m``, the lag chosen by AIC
    among 1 .. ``max_lag`` as pmdarima chooses it (see the module docstring)."""
    x = _series(x)
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m must be an integer >= 2 (the seasonal period), got {m!r}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    if x.size <= m + 1:
        raise ValueError(f"the OCSB test needs more than m + 1 = {m + 1} observations, got "
                         f"{x.size}")
    fits = [_ocsb_regression(x, m, k, max_lag) for k in range(1, max_lag + 1)]
    aics = [f.aic if f is not None else np.nan for f in fits]
    if np.all(np.isnan(aics)):
        raise ValueError(f"the OCSB regressions are singular for every lag 1..{max_lag}: "
                         f"the series ({x.size} values, m={m}) is too short or degenerate")
    best = int(np.nanargmin(aics))      # index of k* = best + 1
    k = best - 1                        # pmdarima's rule: the final regression has k* - 2 lags
    fit = _ocsb_regression(x, m, k, k) if k >= 1 else None
    if fit is None:
        fit = fits[best]
    return float(fit.tvalues()[-1])


def nsdiffs(x, m: int, max_D: int = 1, max_lag: int = 3) -> int:
    """D: seasonally difference x while the OCSB statistic exceeds its critical value (at
    most ``max_D`` times; stops when x becomes constant or shorter than m)."""
    x = _series(x)
    if max_D < 0:
        raise ValueError(f"max_D must be >= 0, got {max_D}")
    if is_constant(x) or max_D == 0:
        return 0
    crit = ocsb_critical_value(m)
    D = 0
    while D < max_D and ocsb(x, m, max_lag) > crit:
        D += 1
        x = x[m:] - x[:-m]
        if is_constant(x) or x.size < m:
            break
    return D

"""ARIMA(p, d, q): the model, its estimators, and statsmodels 0.15's conventions.

    y_t differenced d times, w_t = (1 - L)^d y_t, follows an ARMA(p, q) around a mean c:
    (1 - phi_1 L - ... - phi_p L^p)(w_t - c) = (1 + theta_1 L + ... + theta_q L^q) eps_t,
    eps_t ~ N(0, sigma2)

AR (q = 0), MA (p = 0) and ARMA (d = 0) are the special cases ``order=(p, 0, 0)``,
``(0, 0, q)`` and ``(p, 0, q)``. Parameters are ordered like statsmodels:
``[const, ar.L1 .. ar.Lp, ma.L1 .. ma.Lq, sigma2]`` (``const`` only with ``trend="c"``, the
default when d = 0; with d > 0 the default is ``trend="n"`` and a constant is refused, as in
statsmodels).

Estimators, each a small function returning parameters:

* ``"mle"``: exact Gaussian maximum likelihood through the Kalman filter
  (``statespace.py``), L-BFGS-B on unconstrained parameters with the exact gradient from
  complex steps, started from Hannan-Rissanen estimates.
* ``"css"``: conditional sum of squares (``css.py``) by ``scipy.optimize.least_squares``.
* ``"css-mle"``: CSS estimates as the start of the exact MLE.

Missing values are refused with a clear error: interpolate or drop them first.
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import optimize

from . import statespace as ss
from .css import css_residuals
from .results import ARIMAResults
from .score import loglike_and_gradient
from .transforms import is_invertible, is_stationary, unconstrain_stationary

METHODS = ("mle", "css", "css-mle")
# Stop when a step changes the mean log-likelihood by < 1e-10 (relative) or the gradient
# is below 1e-6: log L is then within ~1e-7 of its maximum, far inside what matters.
MLE_OPTIONS = {"maxiter": 1000, "ftol": 1e-10, "gtol": 1e-6}


def _check_order(order):
    if not isinstance(order, (tuple, list)) or len(order) != 3:
        raise ValueError(f"order must be a tuple (p, d, q) of three integers, got {order!r}")
    for name, v in zip("pdq", order):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"order {name} must be an integer, got {v!r}")
        if v < 0:
            raise ValueError(f"order {name} must be >= 0, got {v}")
    return tuple(int(v) for v in order)


def _check_endog(endog):
    values = getattr(endog, "values", endog)  # pandas Series
    y = np.asarray(values)
    if y.dtype.kind not in "iuf":
        raise TypeError(f"endog must be numeric, got dtype {y.dtype}")
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"endog must be one series (1-D), got shape {y.shape}")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        bad = np.flatnonzero(~np.isfinite(y))
        raise ValueError(f"endog has {bad.size} missing or non-finite values (first at index "
                         f"{bad[0]}); tinyrnn's ARIMA does not impute them: interpolate or "
                         "drop them first")
    return y


def difference(y, d):
    for _ in range(d):
        y = np.diff(y)
    return y


def _ols(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


def _lagmat(x, lags, start):
    return np.column_stack([x[start - i:len(x) - i] for i in range(1, lags + 1)]) \
        if lags else np.empty((len(x) - start, 0))


def hannan_rissanen(w, p, q):
    """ARMA start values from two regressions: a long AR for the shocks, then w on its own
    lags and the lagged shocks. Falls back towards zero if the result is not stationary
    and invertible."""
    n = len(w)
    ar, ma = np.zeros(p), np.zeros(q)
    try:
        if q == 0 and p > 0 and n > 2 * p:
            ar = _ols(_lagmat(w, p, p), w[p:])
        elif q > 0:
            long = min(max(p + q, int(np.ceil(np.log(n) ** 1.5))), (n - 1) // 3)
            if long >= 1 and n - long > p + q + 2:
                shocks = np.r_[np.zeros(long),
                               w[long:] - _lagmat(w, long, long) @ _ols(_lagmat(w, long, long),
                                                                        w[long:])]
                start = long + q
                X = np.column_stack([_lagmat(w, p, start), _lagmat(shocks, q, start)])
                if X.shape[0] > X.shape[1] + 1:
                    coef = _ols(X, w[start:])
                    ar, ma = coef[:p], coef[p:]
    except np.linalg.LinAlgError:
        pass
    for _ in range(20):  # pull an explosive or non-invertible start back inside
        if is_stationary(ar) and is_invertible(ma):
            return ar, ma
        ar, ma = 0.8 * ar, 0.8 * ma
    return np.zeros(p), np.zeros(q)


class ARIMA:
    """ARIMA(p, d, q) for one series: ``ARIMA(y, order=(p, d, q), trend=None).fit()``."""

    def __init__(self, endog, order=(1, 0, 0), trend=None):
        self.order = _check_order(order)
        p, d, q = self.order
        if trend is None:
            trend = "c" if d == 0 else "n"
        if trend not in ("n", "c"):
            raise ValueError(f"trend must be None, 'n' or 'c', got {trend!r}")
        if trend == "c" and d > 0:
            raise ValueError("trend='c' is not allowed with d > 0: a constant is removed by "
                             "differencing (statsmodels refuses it too); use trend='n'")
        self.trend = trend
        self.k_trend = 1 if trend == "c" else 0
        self.endog = _check_endog(endog)
        self.nobs = len(self.endog)
        self.k_params = self.k_trend + p + q + 1
        if self.nobs - d <= self.k_params:
            raise ValueError(f"the series is too short for ARIMA{self.order}: {self.nobs} "
                             f"observations leave {self.nobs - d} after differencing, and "
                             f"the model has {self.k_params} parameters")

    @property
    def param_names(self):
        p, _, q = self.order
        return (["const"] * self.k_trend + [f"ar.L{i}" for i in range(1, p + 1)] +
                [f"ma.L{i}" for i in range(1, q + 1)] + ["sigma2"])

    def _spec(self):
        p, d, q = self.order
        return self.k_trend, p, d, q

    def _check_params(self, params):
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.k_params,):
            raise ValueError(f"params must have shape ({self.k_params},) "
                             f"{self.param_names}, got {params.shape}")
        if not params[-1] > 0:
            raise ValueError(f"sigma2 must be > 0, got {params[-1]}")
        p, q = self.order[0], self.order[2]
        ar = params[self.k_trend:self.k_trend + p]
        ma = params[self.k_trend + p:self.k_trend + p + q]
        if not is_stationary(ar):
            raise ValueError(f"the AR coefficients {ar} are not stationary")
        if not is_invertible(ma):
            raise ValueError(f"the MA coefficients {ma} are not invertible")
        return params

    def loglike(self, params) -> float:
        """Exact log-likelihood at ``params`` (statsmodels order, constrained values)."""
        params = self._check_params(params)
        k_trend, p, d, q = self._spec()
        return float(ss.loglike(self.endog, params, k_trend, p, d, q, ss.KAPPA))

    def filter(self, params) -> ARIMAResults:
        """Results (residuals, forecasts, llf ...) at given parameters, without fitting."""
        params = self._check_params(params)
        return ARIMAResults(self, params, self.loglike(params), "fixed", True)

    # ------------------------------------------------------------------ estimators
    def _start_params(self, y):
        k_trend, p, d, q = self._spec()
        w = difference(y, d)
        const = w.mean() if k_trend else 0.0
        ar, ma = hannan_rissanen(w - const, p, q)
        resid = css_residuals(w, const, ar, ma)
        sigma2 = max(float(np.mean(resid ** 2)) if resid.size else float(np.var(w)), 1e-8)
        return np.r_[[const] * k_trend, ar, ma, sigma2]

    def _unconstrain(self, params):
        k_trend, p, d, q = self._spec()
        u = params.copy()
        if p:
            u[k_trend:k_trend + p] = unconstrain_stationary(params[k_trend:k_trend + p])
        if q:
            u[k_trend + p:k_trend + p + q] = unconstrain_stationary(
                -params[k_trend + p:k_trend + p + q])
        u[-1] = np.sqrt(params[-1])
        return u

    def _fit_css(self, y):
        k_trend, p, d, q = self._spec()
        w = difference(y, d)
        start = self._start_params(y)
        u0 = self._unconstrain(start)[:-1]

        def residuals(u):
            full = ss.constrain(np.r_[u, 1.0], k_trend, p, q)
            const, ar, ma, _ = ss.split_params(full, k_trend, p, q)
            return css_residuals(w, const, ar, ma)

        if u0.size:
            u0 = optimize.least_squares(residuals, u0, method="lm", xtol=1e-12,
                                        ftol=1e-12).x
        e = residuals(u0)
        sigma2 = float(e @ e) / len(e)
        params = ss.constrain(np.r_[u0, 1.0], k_trend, p, q)
        params[-1] = sigma2
        llf = -0.5 * len(e) * (np.log(2 * np.pi * sigma2) + 1)
        return params, llf, True

    def _scaled(self, y, start):
        """The data scaled to unit variance (the diffuse variance scaled alike, so the
        problem is the same), and the start values in those units, unconstrained."""
        k_trend, p, d, q = self._spec()
        scale = float(np.std(difference(y, d))) or 1.0
        s = start.copy()
        if k_trend:
            s[0] /= scale
        s[-1] /= scale ** 2
        return y / scale, ss.KAPPA / scale ** 2, scale, self._unconstrain(s)

    def _from_scaled(self, u, scale):
        k_trend, p, d, q = self._spec()
        params = ss.constrain(u, k_trend, p, q)
        if k_trend:
            params[0] *= scale
        params[-1] *= scale ** 2
        return params

    def _fit_mle(self, y, start):
        """Maximise the exact likelihood with L-BFGS-B and its exact gradient."""
        k_trend, p, d, q = self._spec()
        ys, kappa, scale, u_start = self._scaled(y, start)
        n_eff = self.nobs - d
        scores = np.empty((self.nobs, self.k_params))

        def objective(u):
            value, grad = loglike_and_gradient(ys, u, k_trend, p, d, q, kappa, scores)
            if not np.isfinite(value):
                return np.inf, np.zeros_like(u)
            return -value / n_eff, -grad / n_eff

        best = None
        for u0 in (u_start, np.r_[u_start[:k_trend], np.zeros(p + q), 1.0]):
            res = optimize.minimize(objective, u0, jac=True, method="L-BFGS-B",
                                    options=MLE_OPTIONS)
            if best is None or res.fun < best.fun:
                best = res
            if res.success and best is res:
                break  # the first start converged: the second is only a fallback
        params = self._from_scaled(best.x, scale)
        return params, self.loglike(params), bool(best.success)

    def fit(self, method: str = "mle", start_params=None) -> ARIMAResults:
        """Estimate the parameters; ``method`` is "mle" (default), "css" or "css-mle"."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        y = self.endog
        if method == "css":
            params, llf, converged = self._fit_css(y)
        else:
            if start_params is not None:
                start = np.asarray(start_params, dtype=np.float64)
                if start.shape != (self.k_params,):
                    raise ValueError(f"start_params must have shape ({self.k_params},)")
            elif method == "css-mle":
                start = self._fit_css(y)[0]
            else:
                start = self._start_params(y)
            params, llf, converged = self._fit_mle(y, start)
        return ARIMAResults(self, params, llf, method, converged)

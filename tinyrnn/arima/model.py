"""Seasonal ARIMA with regressors: the model, its estimators, statsmodels 0.15's conventions.

    y_t = x_t' beta + u_t,
    (1 - phi(L))(1 - Phi(L^s)) (1 - L)^d (1 - L^s)^D u_t = (1 + theta(L))(1 + Theta(L^s)) eps_t

with eps_t ~ N(0, sigma2): regression with SARIMA errors, as
``statsmodels.tsa.arima.model.ARIMA`` sets it up. The regressors x_t are the trend
columns (``trend`` 'c': 1, 't': time t = 1, 2, ..., 'ct': both) followed by ``exog``.
Parameters are ordered like statsmodels: trend, exog, ``ar.L*``, ``ma.L*``, ``ar.S.L*``,
``ma.S.L*``, ``sigma2``. As in statsmodels the default trend is 'c' without integration
and 'n' with it, and trend terms of a lower power of time than d + D are refused (the
differencing removes them).

Estimators:

* ``"mle"``: exact Gaussian maximum likelihood through the Kalman filter
  (``statespace.py``), L-BFGS-B on unconstrained parameters with the exact score (the
  same log-likelihood and score computed faster, by ``chandrasekhar.py``), from
  several starts, keeping the best: statsmodels' own start (OLS for the regressors, then
  its conditional-least-squares ARMA regressions), Hannan-Rissanen estimates, and zeros
  where the model has MA or seasonal AR terms (duplicates dropped; see
  ``ARIMA.start_candidates``). Starting where statsmodels starts, with the same
  parametrisation, it reaches statsmodels' optimum or a better one.
* ``"css"``: conditional sum of squares (``css.py``) by ``scipy.optimize.least_squares``.
* ``"css-mle"``: CSS estimates as the first start of the exact MLE.

Missing values are refused with a clear error: interpolate or drop them first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..threads import blas_threads
from . import chandrasekhar as ch
from . import statespace as ss
from .css import css_residuals
from .lbfgs import minimize_many, single
from .pandas_io import PandasData
from .results import ARIMAResults
from .spec import TRENDS, Spec, check_endog, check_exog, check_order, check_seasonal_order, \
    trend_data
from .transforms import is_invertible, is_stationary, unconstrain_stationary

METHODS = ("mle", "css", "css-mle")
# Stop when a step changes the mean log-likelihood by < 1e-10 (relative) or the gradient
# is below 1e-5 (per observation, in the scaled coordinates): log L is then within ~1e-7
# of its maximum, far inside what matters (the airline model: 12 evaluations, not 25).
MLE_OPTIONS = {"maxiter": 1000, "ftol": 1e-10, "gtol": 1e-5}
# Later starts of a single fit: a few iterations first, then on only if this close to the
# best maximum so far (log-likelihood units).
SCREEN_ITERATIONS = 2
SCREEN_MARGIN = 2.0
# A run that L-BFGS-B ends on its ftol test with the gradient still above gtol is in a
# flat, ill-conditioned valley (an AR root next to the unit circle leaves the mean nearly
# unidentified: austres' (2, 0, 1) stops 0.4 below the maximum); trust-region Newton
# steps with the Hessian from differences of the exact score then finish the climb.
POLISH_OPTIONS = {"gtol": 1e-9, "maxiter": 100}

_check_order = check_order


@dataclass
class FitResult:
    """What one estimator run returns."""

    params: np.ndarray  # statsmodels order, constrained
    llf: float
    converged: bool
    start: str = ""     # which start it came from


@dataclass(frozen=True)
class Scaling:
    """The fit works on y / scale (unit variance after differencing): parameters and the
    filter's constants follow, so the problem (and its steady-state switch) is the same."""

    scale: float
    kappa: float       # the diffuse variance, KAPPA / scale^2
    tolerance: float   # the steady-state tolerance, TOLERANCE / scale^4


def difference(x, d, D=0, s=0):
    """(1 - L)^d (1 - L^s)^D x along the first axis."""
    for _ in range(D):
        x = x[s:] - x[:-s]
    for _ in range(d):
        x = np.diff(x, axis=0)
    return x


def _ols(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


def _pinv_solve(X, y):
    """pinv(X) @ y (least squares, minimum norm) -- through the normal equations when X
    is well conditioned (the same numbers to ~1e-12, several times faster for these
    small regressions), through the pseudo-inverse otherwise."""
    if X.shape[1] == 0:
        return np.zeros(0)
    XtX = X.T @ X
    try:
        L = np.linalg.cholesky(XtX)
        d = np.diag(L)
        if d.min() > 1e-6 * d.max():
            return np.linalg.solve(XtX, X.T @ y)
    except np.linalg.LinAlgError:
        pass
    return np.linalg.pinv(X) @ y


def _lags(x, lags, start):
    """Columns x[t - l] for l in ``lags`` and t = start .. len(x) - 1."""
    return np.column_stack([x[start - l:len(x) - l] for l in lags]) if len(lags) \
        else np.empty((len(x) - start, 0))


def _cls_arma(w, ar_lags, ma_lags):
    """Conditional least squares for an ARMA with the given lags (statsmodels' start-value
    method): residuals of a long AR (order twice the largest MA lag) stand in for the
    shocks; w is then regressed on its own lags and the lagged shocks. Returns (ar, ma,
    variance or None); zeros where there are too few observations."""
    n = len(w)
    k_ma = max(ma_lags) if len(ma_lags) else 0
    k_ar = max(ar_lags) if len(ar_lags) else 0
    long = 2 * k_ma
    r = max(long + k_ma, k_ar)
    if not len(ar_lags) and not len(ma_lags):
        return np.zeros(0), np.zeros(0), None
    if n - r <= len(ar_lags) + len(ma_lags) or n <= long:
        return np.zeros(len(ar_lags)), np.zeros(len(ma_lags)), \
            float(np.mean((w - w.mean()) ** 2)) if n else 1.0
    shocks = np.zeros(n)
    if k_ma:
        Xl = _lags(w, range(1, long + 1), long)
        shocks[long:] = w[long:] - Xl @ _pinv_solve(Xl, w[long:])
    X = np.column_stack([_lags(w, ar_lags, r), _lags(shocks, ma_lags, r)])
    coef = _pinv_solve(X, w[r:])
    resid = w[r:] - X @ coef
    var = float(np.mean(resid[len(ma_lags):] ** 2)) if len(resid) > max(1, len(ma_lags)) \
        else float(np.var(w))
    return coef[:len(ar_lags)], coef[len(ar_lags):], var


def hessian_from_score(objective, u):
    """The symmetrised Hessian of ``objective`` (returning value, gradient) at u by central
    differences of its exact gradient: 2k gradient evaluations, accurate to ~1e-6."""
    k = u.shape[0]
    H = np.empty((k, k))
    for i in range(k):
        h = 1e-6 * max(1.0, abs(u[i]))
        e = np.zeros(k)
        e[i] = h
        H[i] = (objective(u + e)[1] - objective(u - e)[1]) / (2 * h)
    H = 0.5 * (H + H.T)
    return np.where(np.isfinite(H), H, 0.0)


def polish(objective, u):
    """Trust-region Newton steps (``scipy``'s trust-exact, which handles the indefinite
    Hessians of a saddle or a ridge) from u; only ever returns a point at least as good."""
    res = optimize.minimize(objective, u, jac=True, method="trust-exact",
                            hess=lambda v: hessian_from_score(objective, v),
                            options=POLISH_OPTIONS)
    return res.x if res.fun <= objective(u)[0] else u


def whitening(info):
    """L^-1 for the Cholesky factor L of the (ridged) information matrices ``info``
    (k, k) or (N, k, k): u = u0 + L^-T z makes the Hessian in z close to the identity."""
    k = info.shape[-1]
    ridge = 1e-6 * (np.trace(info, axis1=-2, axis2=-1) / k + 1.0)
    info = info + ridge[..., None, None] * np.eye(k)
    return np.linalg.inv(np.linalg.cholesky(info))


def hannan_rissanen(w, p, q):
    """ARMA start values from two regressions: a long AR (order about log(n)^1.5) for the
    shocks, then w on its own lags and the lagged shocks. Falls back towards zero if the
    result is not stationary and invertible."""
    n = len(w)
    ar, ma = np.zeros(p), np.zeros(q)
    try:
        if q == 0 and p > 0 and n > 2 * p:
            ar = _ols(_lags(w, range(1, p + 1), p), w[p:])
        elif q > 0:
            long = min(max(p + q, int(np.ceil(np.log(n) ** 1.5))), (n - 1) // 3)
            if long >= 1 and n - long > p + q + 2:
                Xl = _lags(w, range(1, long + 1), long)
                shocks = np.r_[np.zeros(long), w[long:] - Xl @ _ols(Xl, w[long:])]
                start = long + q
                X = np.column_stack([_lags(w, range(1, p + 1), start),
                                     _lags(shocks, range(1, q + 1), start)])
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
    """``ARIMA(y, exog=None, order=(p, d, q), seasonal_order=(P, D, Q, s), trend=None)``,
    statsmodels' ``tsa.arima.model.ARIMA`` (state-space MLE) for one series."""

    _check_length = True  # off only for the continuation of a fitted series (extend)

    def __init__(self, endog, exog=None, order=(1, 0, 0), seasonal_order=None, trend=None,
                 trend_offset=1):
        if isinstance(trend_offset, bool) or not isinstance(trend_offset, (int, np.integer)):
            raise TypeError(f"trend_offset must be an integer, got {trend_offset!r}")
        if isinstance(exog, tuple) and len(exog) in (3, 4) and \
                all(isinstance(v, (int, np.integer)) for v in exog):
            raise TypeError(f"exog={exog!r} looks like an order: the second positional "
                            "argument is exog, as in statsmodels' ARIMA(endog, exog=None, "
                            "order=...); pass order=(p, d, q) by keyword")
        p, d, q = check_order(order)
        P, D, Q, s = check_seasonal_order(seasonal_order)
        for name, k, K in (("autoregressive", p, P), ("moving average", q, Q)):
            if K and k >= s:
                raise ValueError(f"the {name} lags overlap: the non-seasonal order {k} "
                                 f"reaches the seasonal period s={s}, whose lags the "
                                 "seasonal part already has (statsmodels refuses this too); "
                                 f"use an order below {s}")
        if trend is None:
            trend = "c" if d + D == 0 else "n"
        if not isinstance(trend, str) or trend not in TRENDS:
            raise ValueError(f"trend must be None, 'n', 'c', 't' or 'ct', got {trend!r}")
        if TRENDS[trend] and min(TRENDS[trend]) < d + D:
            raise ValueError(f"trend={trend!r} is not allowed with d + D = {d + D}: "
                             "differencing removes trend terms of a lower power of time "
                             "than d + D (a constant with d = 1, for example), as statsmodels "
                             "says too; use trend='n'" + (", or 't' for a drift"
                                                          if d + D == 1 else ""))
        self.endog = check_endog(endog)
        self.nobs = n = len(self.endog)
        X, names = check_exog(exog, n)
        self.exog = X if exog is not None else None
        self.spec = Spec(p, d, q, P, D, Q, s, trend, X.shape[1], tuple(names))
        self.order, self.seasonal_order, self.trend = (p, d, q), (P, D, Q, s), trend
        self.regressors = np.ascontiguousarray(
            np.column_stack([trend_data(trend, trend_offset - 1, n), X]))  # (n, k_regr)
        self.k_params = self.spec.k_params
        self.nobs_effective = n - self.spec.n_diff
        self.trend_offset = int(trend_offset)  # the time t of the first observation
        self._pandas = PandasData.capture(endog)  # index and name for pandas results
        if self.nobs_effective <= self.k_params and self._check_length:
            raise ValueError(f"the series is too short for {self.spec.describe()}: {n} "
                             f"observations leave {self.nobs_effective} after differencing, "
                             f"and the model has {self.k_params} parameters")

    @property
    def param_names(self):
        return self.spec.param_names

    # ------------------------------------------------------------------ parameters
    def check_params(self, params):
        """``params`` as float64, with a clear error unless they are admissible."""
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (self.k_params,):
            raise ValueError(f"params must have shape ({self.k_params},) "
                             f"{self.param_names}, got {params.shape}")
        if not np.all(np.isfinite(params)):
            raise ValueError(f"params must be finite, got {params}")
        if not params[-1] > 0:
            raise ValueError(f"sigma2 must be > 0, got {params[-1]}")
        sl = self.spec.slices()
        for key, test, what in (("ar", is_stationary, "AR coefficients"),
                                ("sar", is_stationary, "seasonal AR coefficients"),
                                ("ma", is_invertible, "MA coefficients"),
                                ("sma", is_invertible, "seasonal MA coefficients")):
            if not test(params[sl[key]]):
                raise ValueError(f"the {what} {params[sl[key]]} are not "
                                 f"{'stationary' if 'AR' in what else 'invertible'}")
        return params

    def loglike(self, params) -> float:
        """Exact log-likelihood at ``params`` (statsmodels order, constrained values)."""
        params = self.check_params(params)
        return float(ss.loglike(self.endog, self.regressors, params, self.spec.dims, ss.KAPPA,
                                ss.TOLERANCE))

    def score(self, params) -> np.ndarray:
        """The exact gradient of ``loglike`` in the (constrained) parameters."""
        params = self.check_params(params)
        return ss.run(self.endog, self.regressors, params, self.spec.dims, ss.KAPPA,
                      ss.TOLERANCE, True)[2].sum(axis=0)

    def filter(self, params) -> ARIMAResults:
        """Results (residuals, forecasts, llf ...) at given parameters, without fitting."""
        params = self.check_params(params)
        return ARIMAResults(self, params, self.loglike(params), "fixed", True)

    # ------------------------------------------------------------------ starts and scaling
    def _differenced(self):
        if getattr(self, "_diff_cache", None) is not None:
            return self._diff_cache
        sp = self.spec
        w = difference(self.endog, sp.d, sp.D, sp.s)
        Xd = difference(self.regressors, sp.d, sp.D, sp.s)
        beta = _pinv_solve(Xd, w)
        resid = w - Xd @ beta
        if resid.size == 0 or np.ptp(resid) <= 1e-12 * max(1.0, np.abs(w).max()):
            raise ValueError(
                f"the series is constant after differencing (d={sp.d}, D={sp.D})"
                + (" and removing the trend and regressors" if sp.k_regr else "")
                + ": sigma2 would go to 0 and the likelihood has no maximum; there is "
                  "nothing to fit (statsmodels stops unconverged with sigma2 ~ 1e-11)")
        self._diff_cache = (w, Xd, beta, resid)
        return self._diff_cache

    def statsmodels_start(self):
        """Start values computed the way statsmodels computes SARIMAX's ``start_params``:
        OLS of the differenced series on the differenced regressors, then conditional least
        squares for the non-seasonal and for the seasonal ARMA, each on the OLS residuals;
        a non-stationary or non-invertible part starts at zeros."""
        if getattr(self, "_sm_start", None) is None:
            self._sm_start = self._statsmodels_start()
        return self._sm_start.copy()

    def _statsmodels_start(self):
        sp = self.spec
        w, _, beta, resid = self._differenced()
        ar, ma, var = _cls_arma(resid, range(1, sp.p + 1), range(1, sp.q + 1))
        sar, sma, svar = _cls_arma(resid, [sp.s * i for i in range(1, sp.P + 1)],
                                   [sp.s * i for i in range(1, sp.Q + 1)]) \
            if sp.P + sp.Q else (np.zeros(0), np.zeros(0), None)
        if not is_stationary(ar):
            ar = 0 * ar
        if not is_invertible(ma):
            ma = 0 * ma
        if not is_stationary(sar):
            sar = 0 * sar
        if not is_invertible(sma):
            sma = 0 * sma
        if var is None:
            var = svar if svar is not None else \
                float(resid @ resid) / (1 if sp.k_regr else self.nobs)
        return np.r_[beta, ar, ma, sar, sma, max(var, 1e-10)]

    def hannan_rissanen_start(self):
        """Hannan-Rissanen values for the non-seasonal ARMA (seasonal part at zero), on the
        residuals of the regression."""
        sp = self.spec
        if sp.q == 0 and sp.k_arma == sp.p:  # then both are the same OLS of w on its lags
            return self.statsmodels_start()
        _, _, beta, resid = self._differenced()
        ar, ma = hannan_rissanen(resid, sp.p, sp.q)
        params = np.r_[beta, ar, ma, np.zeros(sp.P + sp.Q), 1.0]
        e = self._css_resid(params, resid_only=True)
        params[-1] = max(float(np.mean(e ** 2)) if e.size else float(np.var(resid)), 1e-10)
        return params

    def zero_start(self):
        """The regression by OLS, white noise for the rest."""
        sp = self.spec
        _, _, beta, resid = self._differenced()
        return np.r_[beta, np.zeros(sp.k_arma), max(float(np.mean(resid ** 2)), 1e-10)]

    def start_candidates(self, method="mle"):
        """The distinct starts of the MLE, in the order they are tried: (name, params).

        statsmodels' start always; Hannan-Rissanen's where it differs (it does when there
        are MA terms: its long AR is longer); zeros where the model has MA terms or a
        seasonal AR -- the likelihoods with several local maxima (an MA root near the unit
        circle, a seasonal factor against a non-seasonal one). A pure non-seasonal AR's
        two regression starts lie at the conditional least-squares estimate, next to the
        exact maximum, and zeros would only double the work (fit_many's above all)."""
        sp = self.spec
        starts = [("statsmodels", self.statsmodels_start()),
                  ("hannan-rissanen", self.hannan_rissanen_start())]
        if sp.q + sp.Q + sp.P > 0:
            starts.append(("zeros", self.zero_start()))
        if method == "css-mle":
            starts.insert(0, ("css", self.fit_css().params))
        out = []
        for name, params in starts:
            if not any(np.allclose(params, q, rtol=1e-9, atol=1e-12) for _, q in out):
                out.append((name, params))
        return out

    def scaling(self) -> Scaling:
        w = difference(self.endog, self.spec.d, self.spec.D, self.spec.s)
        scale = float(np.std(w)) or 1.0
        return Scaling(scale, ss.KAPPA / scale ** 2, ss.TOLERANCE / scale ** 4)

    def to_unconstrained(self, params, scaling: Scaling):
        """Parameters -> the optimiser's unconstrained values in scaled units."""
        sl = self.spec.slices()
        u = np.asarray(params, dtype=np.float64).copy()
        u[sl["regr"]] /= scaling.scale
        for key, sign in (("ar", 1), ("ma", -1), ("sar", 1), ("sma", -1)):
            if u[sl[key]].size:
                u[sl[key]] = unconstrain_stationary(sign * u[sl[key]])
        u[-1] = np.sqrt(params[-1]) / scaling.scale
        return u

    def from_unconstrained(self, u, scaling: Scaling):
        params = ss.constrain(np.asarray(u, dtype=np.float64), self.spec.dims)
        params[self.spec.slices()["regr"]] *= scaling.scale
        params[-1] *= scaling.scale ** 2
        return params

    # ------------------------------------------------------------------ estimators
    def _css_resid(self, params, resid_only=False):
        sp = self.spec
        w, Xd, _, _ = self._differenced()
        phi, theta, _, _ = ss.reduced_arma(params, sp.dims)
        return css_residuals(w - Xd @ params[:sp.k_regr], phi, theta)

    def fit_css(self) -> FitResult:
        """Conditional sum of squares on the differenced series."""
        sp = self.spec
        start = self.hannan_rissanen_start()
        u0 = self.to_unconstrained(start, Scaling(1.0, 0, 0))[:-1]

        def residuals(u):
            return self._css_resid(ss.constrain(np.r_[u, 1.0], sp.dims))

        if u0.size:
            u0 = optimize.least_squares(residuals, u0, method="lm", xtol=1e-12,
                                        ftol=1e-12).x
        e = residuals(u0)
        sigma2 = float(e @ e) / len(e)
        params = ss.constrain(np.r_[u0, 1.0], sp.dims)
        params[-1] = sigma2
        llf = -0.5 * len(e) * (np.log(2 * np.pi * sigma2) + 1)
        return FitResult(params, float(llf), True, "css")

    def objective_data(self, scaling: Scaling):
        """What ``chandrasekhar.loglike_and_gradient`` takes besides u, on the scaled series:
        the differenced series and regressors reversed, the first n_diff observations and
        their regressors, kappa, and the loadings of those observations."""
        y = self.endog / scaling.scale
        X, sp = self.regressors, self.spec
        nd = sp.n_diff
        w = difference(y, sp.d, sp.D, sp.s)
        Xd = difference(X, sp.d, sp.D, sp.s)
        H_inv, G = ch.diffuse_loadings(sp.dims)
        return (np.ascontiguousarray(w[::-1]), np.ascontiguousarray(Xd[::-1]),
                np.ascontiguousarray(y[:nd]), np.ascontiguousarray(X[:nd]), sp.dims,
                scaling.kappa, H_inv, G)

    def objective(self, scaling: Scaling, data=None):
        """The optimiser's objective at unconstrained u: (value, gradient) of the negative
        mean log-likelihood, statsmodels' own (``chandrasekhar``: the same number as
        ``statespace``'s filter to rounding, its score in O(k r) work per observation
        where the filter's takes O(k m^2)). ``data``: ``objective_data(scaling)``, when
        the caller has it already."""
        if data is None:
            data = self.objective_data(scaling)
        w_rev, X_rev, z, X_head, dims, kappa, H_inv, G = data
        n_eff = self.nobs_effective

        def objective(u):
            value, grad = ch.loglike_and_gradient(w_rev, X_rev, z, X_head, u, dims, kappa,
                                                  H_inv, G)
            if not np.isfinite(value):
                return np.inf, np.zeros_like(u)
            return -value / n_eff, -grad / n_eff

        return objective

    def mle_from(self, start, scaling: Scaling | None = None, name="",
                 maxiter=None) -> FitResult:
        """One L-BFGS-B run of the exact MLE from ``start`` (constrained parameters)."""
        scaling = scaling or self.scaling()
        objective = self.objective(scaling)
        options = MLE_OPTIONS if maxiter is None else dict(MLE_OPTIONS, maxiter=maxiter)

        # SciPy's L-BFGS-B, driven without minimize()'s per-evaluation wrappers
        res = minimize_many(single(objective),
                            self.to_unconstrained(start, scaling)[None, :], **options)
        u, jac, success = res.x[0], res.jac[0], res.success[0]
        if maxiter is None and np.abs(jac).max() > MLE_OPTIONS["gtol"]:
            u = polish(objective, u)  # stopped on ftol in a flat valley: see POLISH_OPTIONS
        params = self.from_unconstrained(u, scaling)
        return FitResult(params, self.loglike(params), bool(success), name)

    def fit_mle(self, starts) -> FitResult:
        """The exact MLE from each of ``starts`` ((name, params) pairs); the best.

        The first start runs to convergence. Each later one first runs
        ``SCREEN_ITERATIONS`` iterations and goes on to convergence only if it is then
        within ``SCREEN_MARGIN`` of the best maximum so far and not already next to it
        (0.05 in the optimiser's coordinates, below it in log L): a start still that far
        below after those steps is climbing towards a lower maximum, one next to the best
        would reach the same maximum, and finishing either would only cost time."""
        scaling = self.scaling()
        best = None
        for name, start in starts:
            if best is not None:
                probe = self.mle_from(start, scaling, name, maxiter=SCREEN_ITERATIONS)
                if probe.llf < best.llf - SCREEN_MARGIN or (probe.llf <= best.llf + 1e-6 and (
                        np.abs(self.to_unconstrained(probe.params, scaling) -
                               self.to_unconstrained(best.params, scaling)).max() < 0.05)):
                    continue  # far below, or on its way to the same maximum
                start = probe.params
            r = self.mle_from(start, scaling, name)
            if best is None or r.llf > best.llf or (not best.converged and r.converged
                                                     and r.llf >= best.llf - 1e-9):
                best = r
        return best

    def fit(self, method: str = "mle", start_params=None) -> ARIMAResults:
        """Estimate the parameters; ``method`` is "mle" (default), "css" or "css-mle"."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        with blas_threads(1):  # see tinyrnn/threads.py: spinning BLAS workers stall loops
            return self._fit(method, start_params)

    def _fit(self, method, start_params):
        if method == "css":
            r = self.fit_css()
        else:
            if start_params is not None:
                starts = [("given", self.check_params(start_params))]
            else:
                starts = self.start_candidates(method)
            r = self.fit_mle(starts)
        return ARIMAResults(self, r.params, r.llf, method, r.converged)

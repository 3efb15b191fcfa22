"""Fitted ARIMA results, with statsmodels' state-space results interface.

Statistics, residuals, predictions (``predict``, ``get_prediction``, ``forecast``,
``get_forecast``), the covariance of the estimates, residual tests, the summary, and new
data (``append``, ``extend``, ``apply``). pandas in, pandas out: a model built from a
pandas Series gives pandas results on its index (``pandas_io.py``); arrays give arrays.
"""
from __future__ import annotations

import numbers
from functools import cached_property, lru_cache

import numpy as np
from scipy import stats

from . import diagnostics
from . import statespace as ss
from .pandas_io import is_pandas, params_frame, params_series
from .prediction import PredictionResults, check_dynamic, propagate
from .spec import check_endog, check_exog, trend_data

Forecast = PredictionResults  # the earlier name of the forecasts' results


def _filter_from(y, X, params, spec, a0, P0, with_scores):
    """The filter from a known predicted state (a0, P0) at the first observation (the
    continuation of a fitted series): ``statespace.run``'s outputs. The first ``n_diff``
    observations stay out of log L, as statsmodels keeps its burn-in for such a model."""
    dims, nd, m = spec.dims, spec.n_diff, spec.k_states
    phi, theta, dTcol, dR, dsig = ss._directions(params, dims, m, nd, with_scores)
    T, R, Z = ss.system(phi, theta, dims)
    a, P = a0.copy(), P0.copy()
    kd, n = dTcol.shape[0], len(y)
    llf_obs, fitted, F = np.empty(n), np.empty(n), np.empty(n)
    scores = np.empty((n, kd))
    tolerance = -1.0 if spec.k_regr else ss.TOLERANCE
    # The state is known: no diffuse part (burn 0); the burn-in is only left out of log L.
    ss.kalman(y, X, params[:spec.k_regr].copy(), T, R, Z, params[-1], ss.KAPPA, a, P, 0,
              tolerance, dTcol, dR, dsig, np.zeros((m, kd)), np.zeros((kd, m, m)),
              llf_obs, scores, fitted, F)
    llf_obs[:nd], scores[:nd] = 0.0, 0.0
    return float(llf_obs.sum()), llf_obs, scores, fitted, F, a, P


def information_criteria(llf, k, nobs_effective):
    """(aic, bic, hqic) of a fit with log L ``llf`` and k parameters (sigma2 included), by
    statsmodels' definitions (see ``ARIMAResults``)."""
    # log(0) for an extension no longer than its burn-in: -inf, as in statsmodels
    with np.errstate(divide="ignore", invalid="ignore"):
        return (-2 * llf + 2 * k, -2 * llf + k * np.log(nobs_effective),
                -2 * llf + 2 * k * np.log(np.log(nobs_effective)))


class ARIMAResults:
    """What ``ARIMA.fit`` (and ``ARIMA.filter``) return. Definitions follow statsmodels'
    state-space results: ``aic = -2 llf + 2 k``, ``bic = -2 llf + k log(n - n_diff)``,
    ``hqic = -2 llf + 2 k log(log(n - n_diff))`` with k the number of parameters (sigma2
    included) and n_diff = d + D s the differencing burn-in. The covariance of the estimates
    is the inverse of the outer product of the exact per-observation scores (OPG),
    statsmodels' default for these models; ``tvalues = params / bse``, ``pvalues`` their
    two-sided normal p-values."""

    def __init__(self, model, params, llf, method, converged, initial_state=None):
        self.model = model
        self.spec = model.spec
        self.order, self.seasonal_order = model.order, model.seasonal_order
        self._params = np.asarray(params, dtype=np.float64)
        self.param_names = model.param_names
        self.method = method
        self.converged = converged
        self.nobs = model.nobs
        self.nobs_effective = model.nobs_effective
        self.cov_type = "opg"
        self._data = getattr(model, "_pandas", None)
        self._initial_state = initial_state  # None: the model's own (diffuse) start
        out = self._run(self.nobs)
        self.llf = float(out[0] if llf is None else llf)
        self.llf_obs = out[1]
        self._fitted, self._F = out[3], out[4]
        self._final_state = (out[5], out[6])
        self.aic, self.bic, self.hqic = information_criteria(self.llf, model.k_params,
                                                             self.nobs_effective)
        self.sigma2 = float(self._params[-1])

    # ------------------------------------------------------------------ the filter
    def _run(self, n, with_scores=False):
        """The filter over the first n observations at these parameters."""
        m = self.model
        y, X = m.endog[:n], m.regressors[:n]
        if self._initial_state is None:
            return ss.run(y, X, self._params, self.spec.dims, ss.KAPPA, ss.TOLERANCE,
                          with_scores)
        return _filter_from(y, X, self._params, self.spec, *self._initial_state, with_scores)

    # ------------------------------------------------------------------ pandas in, pandas out
    def _series(self, values, start=0, name=None):
        return values if self._data is None else self._data.series(values, start, name)

    def _by_param(self, values):
        return values if self._data is None else params_series(values, self.param_names)

    @property
    def params(self):
        """The estimates, in statsmodels' order (a Series named by ``param_names`` for
        pandas data)."""
        return self._by_param(self._params)

    @property
    def fittedvalues(self):
        """One-step-ahead predictions of the observations (the filter's)."""
        return self._series(self._fitted)

    @property
    def resid(self):
        """Observations less their one-step-ahead predictions."""
        return self._series(self.model.endog - self._fitted)

    @property
    def forecasts_error_variance(self) -> np.ndarray:
        """F_t, the variance of each one-step forecast error."""
        return self._F

    @property
    def standardized_forecasts_error(self) -> np.ndarray:
        """(y_t - yhat_t) / sqrt(F_t), each observation's standardized forecast error."""
        return (self.model.endog - self._fitted) / np.sqrt(self._F)

    # ------------------------------------------------------------------ inference
    @cached_property
    def _cov(self) -> np.ndarray:
        scores = self._run(self.nobs, with_scores=True)[2]
        opg = scores.T @ scores
        return np.linalg.pinv(opg, hermitian=True)

    def cov_params(self):
        """The OPG covariance matrix of the estimates (a DataFrame for pandas data)."""
        return self._cov if self._data is None else params_frame(self._cov, self.param_names)

    @property
    def bse(self):
        """Standard errors, the square roots of the covariance's diagonal."""
        return self._by_param(np.sqrt(np.clip(np.diag(self._cov), 0, None)))

    @property
    def zvalues(self):
        """Estimates over their standard errors."""
        return self._by_param(self._params / np.sqrt(np.clip(np.diag(self._cov), 0, None)))

    tvalues = zvalues

    @property
    def pvalues(self):
        """Two-sided p-values of the z statistics under N(0, 1)."""
        z = self._params / np.sqrt(np.clip(np.diag(self._cov), 0, None))
        return self._by_param(2 * stats.norm.sf(np.abs(z)))

    def conf_int(self, alpha: float = 0.05):
        """(k, 2) bounds ``params -+ z_{1-alpha/2} bse`` (a DataFrame with columns 0, 1 for
        pandas data, as statsmodels)."""
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        se = np.sqrt(np.clip(np.diag(self._cov), 0, None))
        z = stats.norm.ppf(1 - alpha / 2)
        ci = np.column_stack([self._params - z * se, self._params + z * se])
        return ci if self._data is None else params_frame(ci, self.param_names, [0, 1])

    # ------------------------------------------------------------------ prediction
    def _loc(self, key, what):
        if self._data is not None:
            return self._data.loc(key, what)
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise TypeError(f"{what} must be an integer position (the data have no dates), "
                            f"got {key!r}")
        return int(key)

    def _future_regressors(self, steps, exog):
        sp = self.spec
        if sp.k_exog and exog is None:
            raise ValueError(f"the model has {sp.k_exog} regressor(s) (exog): predicting "
                             f"{steps} step(s) past the sample needs their future values, exog "
                             f"of shape ({steps}, {sp.k_exog})")
        if not sp.k_exog and exog is not None:
            raise ValueError("the model was fitted without exog: predict without it")
        X, _ = check_exog(exog, steps, what="the future exog")
        if X.shape[1] != sp.k_exog:
            raise ValueError(f"the future exog must have {sp.k_exog} column(s), got shape "
                             f"{X.shape}")
        offset = self.model.trend_offset - 1 + self.nobs
        return np.column_stack([trend_data(sp.trend, offset, steps), X])

    def get_prediction(self, start=None, end=None, dynamic=False, exog=None
                       ) -> PredictionResults:
        """Predictions for positions ``start`` .. ``end`` (inclusive; integers, or dates
        for data with a dated index; default: the sample), with their variances.

        In sample they are the one-step predictions, or from ``dynamic`` on (True: from
        ``start``; an integer: that many periods after ``start``; a date) the predictions
        carried forward without the data; past the sample, forecasts. ``exog``: the
        regressors for the periods after the sample, when the model has them."""
        n = self.nobs
        start = 0 if start is None else self._loc(start, "start")
        end = n - 1 if end is None else self._loc(end, "end")
        if start < 0 or end < start:
            raise ValueError(f"need 0 <= start <= end, got start={start}, end={end}")
        if exog is not None and end < n:
            raise ValueError("exog is for the periods after the sample, but the prediction "
                             f"ends in the sample (end={end}, nobs={n})")
        t0 = check_dynamic(dynamic, start, self._loc)
        t0 = n if t0 is None else min(t0, n)
        means, variances = [], []
        if start < t0:  # the filter's own one-step predictions
            stop = min(end, t0 - 1) + 1
            means.append(self._fitted[start:stop])
            variances.append(self._F[start:stop])
        if end >= t0:  # carried forward from the predicted state at t0
            X = self.model.regressors[t0:n]
            if end >= n:
                X = np.vstack([X, self._future_regressors(end - n + 1, exog)])
            intercepts = X @ self._params[:self.spec.k_regr]
            a, P = self._final_state if t0 == n else self._run(t0)[5:7]
            phi, theta, _, _ = ss.reduced_arma(self._params, self.spec.dims)
            T, R, Z = ss.system(phi, theta, self.spec.dims)
            mean, var = propagate(a, P, T, R, Z, self.sigma2, intercepts)
            skip = max(start - t0, 0)
            means.append(mean[skip:])
            variances.append(var[skip:])
        return PredictionResults(np.concatenate(means), np.concatenate(variances), start,
                                 self._data)

    def predict(self, start=None, end=None, dynamic=False, exog=None):
        """The mean of ``get_prediction(start, end, dynamic, exog)``."""
        return self.get_prediction(start, end, dynamic, exog).predicted_mean

    def get_forecast(self, steps=1, exog=None) -> PredictionResults:
        """Forecasts for the next ``steps`` periods (an integer, or the last date to
        forecast for dated data), with their standard errors; ``exog``: the regressors'
        values over those periods, when the model has regressors."""
        if self._data is not None and not isinstance(steps, (numbers.Integral, float)):
            steps = self._loc(steps, "steps") - self.nobs + 1
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1 (or a date after the sample), "
                             f"got {steps!r}")
        return self.get_prediction(self.nobs, self.nobs + int(steps) - 1, exog=exog)

    def forecast(self, steps=1, exog=None):
        """Point forecasts for the next ``steps`` periods."""
        return self.get_forecast(steps, exog).predicted_mean

    # ------------------------------------------------------------------ residual tests
    def _std_resid(self):
        """The standardized forecast errors after the burn-in the tests use."""
        return self.standardized_forecasts_error[self.spec.n_diff:]

    def test_serial_correlation(self, method="ljungbox", lags=None) -> np.ndarray:
        """Ljung-Box tests of the standardized forecast errors (after the burn-in):
        an array (1, 2, L) of statistics and p-values for lags 1..L (``lags`` an int) or
        for the listed lags. Default L: min(10, n // 5), seasonal models min(2 s, n // 5),
        with n the number of errors tested."""
        if method not in ("ljungbox", None):
            raise ValueError(f"method must be 'ljungbox', got {method!r}")
        e = self._std_resid()
        if lags is None:
            lags = min(2 * self.spec.s if self.spec.s else 10, len(e) // 5)
        return diagnostics.ljung_box(e, lags)[None]

    def test_normality(self, method="jarquebera") -> np.ndarray:
        """Jarque-Bera test of the standardized forecast errors: (1, 4) array of the
        statistic, its p-value, the skewness and the kurtosis."""
        if method not in ("jarquebera", None):
            raise ValueError(f"method must be 'jarquebera', got {method!r}")
        return diagnostics.jarque_bera(self._std_resid())[None]

    def test_heteroskedasticity(self, method="breakvar", alternative="two-sided",
                                use_f=True) -> np.ndarray:
        """Harvey's break-in-variance test of the standardized forecast errors: (1, 2)
        array of H and its p-value (see ``diagnostics.break_in_variance``)."""
        if method not in ("breakvar", None):
            raise ValueError(f"method must be 'breakvar', got {method!r}")
        return diagnostics.break_in_variance(self._std_resid(), alternative, use_f)[None]

    def plot_diagnostics(self, variable=0, lags=10, fig=None, figsize=None):
        """The four diagnostic panels of statsmodels (matplotlib, imported on demand)."""
        if variable != 0:
            raise ValueError(f"the model has one series: variable must be 0, got {variable}")
        index = None if self._data is None else self._data.index[self.spec.n_diff:]
        name = "y" if self._data is None else self._data.endog_name
        return diagnostics.plot_diagnostics(self._std_resid(), index, lags, fig, figsize,
                                            name)

    def summary(self, alpha: float = 0.05) -> str:
        """statsmodels' SARIMAX summary as text: the header rows (dependent variable,
        model, date, sample, covariance type, observations, log-likelihood, information
        criteria), the parameter table, and the residual diagnostics."""
        from .summary import summary_text
        return summary_text(self, alpha)

    # ------------------------------------------------------------------ new data
    def _new_model(self, endog, exog, trend_offset, cls=None):
        from .model import ARIMA
        cls = cls or ARIMA
        if exog is not None and self.spec.exog_names and not is_pandas(exog):
            import pandas as pd  # keep the regressors' names (they name the parameters)
            exog = pd.DataFrame(np.asarray(exog).reshape(len(exog), -1),
                                columns=list(self.spec.exog_names),
                                index=getattr(endog, "index", None))
        return cls(endog, exog=exog, order=self.order, seasonal_order=self.seasonal_order,
                   trend=self.model.trend, trend_offset=trend_offset)

    def _check_new_exog(self, endog, exog, what):
        n_new = len(check_endog(endog))
        if self.spec.k_exog and exog is None:
            raise ValueError(f"the model has {self.spec.k_exog} regressor(s): {what} needs "
                             f"exog for the new observations, shape ({n_new}, "
                             f"{self.spec.k_exog})")
        if exog is not None:
            X, _ = check_exog(exog, n_new, what="the new exog")
            if X.shape[1] != self.spec.k_exog:
                raise ValueError(f"the new exog must have {self.spec.k_exog} column(s), got "
                                 f"shape {X.shape}")
            return X
        return None

    def _on_index(self, values, start):
        """New observations as a Series on the labels that continue the index."""
        return self._data.series(values, start, self._data.endog_name)

    def _refit_or_filter(self, model, refit, fit_kwargs):
        if refit:
            kwargs = dict(fit_kwargs or {})
            kwargs.setdefault("start_params", self._params)
            return model.fit(**kwargs)
        if fit_kwargs:
            raise ValueError("fit_kwargs are for refit=True")
        return self._keep_covariance(model.filter(self._params))

    def _keep_covariance(self, res):
        """Parameters estimated on other data keep their covariance (as statsmodels
        does): the new data did not estimate them."""
        res.__dict__["_cov"] = self._cov
        return res

    def append(self, endog, exog=None, refit=False, fit_kwargs=None) -> ARIMAResults:
        """Results for the data extended by ``endog`` (and its ``exog`` rows): at these
        parameters (with their covariance), or (``refit=True``) re-estimated starting from
        them. For pandas data, a pandas ``endog`` must carry the labels that continue the
        index."""
        new = check_endog(endog)
        X_new = self._check_new_exog(endog, exog, "append")
        y = np.concatenate([self.model.endog, new])
        X = None if X_new is None else np.vstack([self.model.exog, X_new])
        if self._data is not None:
            self._data.check_continues(endog, self.nobs, "the appended endog")
            if exog is not None:
                self._data.check_continues(exog, self.nobs, "the appended exog")
            y = self._on_index(y, 0)
        model = self._new_model(y, X, self.model.trend_offset)
        return self._refit_or_filter(model, refit, fit_kwargs)

    def extend(self, endog, exog=None) -> ARIMAResults:
        """Results for the new observations ``endog`` alone, at these parameters, the
        filter starting from this one's prediction for the step after the sample (so the
        new one-step predictions are those ``append`` would give); the parameters keep
        their covariance. Its log-likelihood leaves out the first d + D s new observations,
        as statsmodels' does."""
        new = check_endog(endog)
        X_new = self._check_new_exog(endog, exog, "extend")
        if self._data is not None:
            self._data.check_continues(endog, self.nobs, "the extending endog")
            new = self._on_index(new, self.nobs)
        model = self._new_model(new, X_new, self.model.trend_offset + self.nobs,
                                cls=_continuation())
        return self._keep_covariance(ARIMAResults(model, self._params, None, "fixed", True,
                                                  initial_state=self._final_state))

    def apply(self, endog, exog=None, refit=False, fit_kwargs=None) -> ARIMAResults:
        """Results for other data ``endog`` (and ``exog``) under this model, at these
        parameters (with their covariance), or (``refit=True``) re-estimated starting from
        them."""
        X_new = self._check_new_exog(endog, exog, "apply")
        model = self._new_model(endog, exog if X_new is not None else None,
                                self.model.trend_offset)
        return self._refit_or_filter(model, refit, fit_kwargs)

    def __repr__(self):
        return f"<ARIMAResults {self.spec.describe()} llf={self.llf:.3f} aic={self.aic:.3f}>"


@lru_cache(maxsize=None)
def _continuation():
    """The model class of observations that continue a fitted series (``extend``): any
    number of them, as its filter starts from the fitted series' last prediction. Made on
    first use: model.py imports this module, so ARIMA is not defined yet at import time."""
    from .model import ARIMA

    class Continuation(ARIMA):
        _check_length = False

    return Continuation

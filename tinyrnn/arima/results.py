"""Fitted ARIMA results: statistics, residuals, forecasts and a statsmodels-style summary."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import statespace as ss
from .spec import check_exog, trend_data


@dataclass
class Forecast:
    """h-step forecasts: ``predicted_mean``, ``se_mean`` and ``conf_int(alpha)`` (h, 2)."""

    predicted_mean: np.ndarray
    se_mean: np.ndarray

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        z = stats.norm.ppf(1 - alpha / 2)
        return np.column_stack([self.predicted_mean - z * self.se_mean,
                                self.predicted_mean + z * self.se_mean])


class ARIMAResults:
    """What ``ARIMA.fit`` returns. Definitions follow statsmodels' state-space results:
    ``aic = -2 llf + 2 k``, ``bic = -2 llf + k log(n - n_diff)``,
    ``hqic = -2 llf + 2 k log(log(n - n_diff))`` with k the number of parameters (sigma2
    included) and n_diff = d + D s the differencing burn-in. Standard errors use the outer
    product of the exact per-observation scores (OPG), statsmodels' default for these
    models."""

    def __init__(self, model, params, llf, method, converged):
        self.model = model
        self.spec = model.spec
        self.order, self.seasonal_order = model.order, model.seasonal_order
        self.params = np.asarray(params, dtype=np.float64)
        self.param_names = model.param_names
        self.llf = float(llf)
        self.method = method
        self.converged = converged
        self.nobs = model.nobs
        self.nobs_effective = model.nobs_effective
        k = model.k_params
        self.aic = -2 * self.llf + 2 * k
        self.bic = -2 * self.llf + k * np.log(self.nobs_effective)
        self.hqic = -2 * self.llf + 2 * k * np.log(np.log(self.nobs_effective))
        self.sigma2 = float(self.params[-1])
        _, _, _, fitted, _, a, P = ss.run(model.endog, model.regressors, self.params,
                                          self.spec.dims, ss.KAPPA, ss.TOLERANCE, False)
        self.fittedvalues = fitted
        self.resid = model.endog - fitted
        self._final_state = (a, P)

    @property
    def bse(self) -> np.ndarray:
        """Standard errors from the OPG covariance (exact per-observation scores)."""
        m = self.model
        scores = ss.run(m.endog, m.regressors, self.params, self.spec.dims, ss.KAPPA,
                        ss.TOLERANCE, True)[2]
        opg = scores.T @ scores
        try:
            return np.sqrt(np.clip(np.diag(np.linalg.inv(opg)), 0, None))
        except np.linalg.LinAlgError:
            return np.full(len(self.params), np.nan)

    def _future_regressors(self, steps, exog):
        sp = self.spec
        if sp.k_exog and exog is None:
            raise ValueError(f"the model has {sp.k_exog} regressor(s) (exog): forecasting "
                             f"{steps} step(s) needs their future values, exog of shape "
                             f"({steps}, {sp.k_exog})")
        if not sp.k_exog and exog is not None:
            raise ValueError("the model was fitted without exog: forecast without it")
        X, _ = check_exog(exog, steps, what="the future exog")
        if X.shape[1] != sp.k_exog:
            raise ValueError(f"the future exog must have {sp.k_exog} column(s), got shape "
                             f"{X.shape}")
        return np.column_stack([trend_data(sp.trend, self.nobs, steps), X])

    def get_forecast(self, steps: int = 1, exog=None) -> Forecast:
        """Forecasts for the next ``steps`` periods, with their standard errors; ``exog``:
        the regressors' values over those periods, when the model has regressors."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        Xf = self._future_regressors(int(steps), exog)
        phi, theta, _, _ = ss.reduced_arma(self.params, self.spec.dims)
        T, R, Z = ss.system(phi, theta, self.spec.dims)
        beta = self.params[:self.spec.k_regr]
        a, P = (x.copy() for x in self._final_state)
        mean, var = np.empty(steps), np.empty(steps)
        RR = self.sigma2 * np.outer(R, R)
        for h in range(steps):
            mean[h] = Z @ a + Xf[h] @ beta
            var[h] = Z @ P @ Z
            a = T @ a
            P = T @ P @ T.T + RR
        return Forecast(mean, np.sqrt(var))

    def forecast(self, steps: int = 1, exog=None) -> np.ndarray:
        """Point forecasts for the next ``steps`` periods."""
        return self.get_forecast(steps, exog).predicted_mean

    def summary(self) -> str:
        """A text table in the layout of statsmodels' SARIMAX summary."""
        bse = self.bse
        z = self.params / bse
        pvalues = 2 * stats.norm.sf(np.abs(z))
        lo, hi = self.params - 1.959964 * bse, self.params + 1.959964 * bse
        width = 78
        lines = ["SARIMAX Results".center(width), "=" * width,
                 f"{'Model:':<10}{self.spec.describe():>28}   "
                 f"{'Log Likelihood':<18}{self.llf:>19.3f}",
                 f"{'Method:':<18}{self.method:>20}   {'AIC':<18}{self.aic:>19.3f}",
                 f"{'No. Observations:':<18}{self.nobs:>20}   {'BIC':<18}{self.bic:>19.3f}",
                 f"{'Converged:':<18}{str(self.converged):>20}   "
                 f"{'HQIC':<18}{self.hqic:>19.3f}",
                 "=" * width,
                 f"{'':<12}{'coef':>10}{'std err':>11}{'z':>9}{'P>|z|':>9}"
                 f"{'[0.025':>12}{'0.975]':>12}",
                 "-" * width]
        for name, c, s, zz, pv, a, b in zip(self.param_names, self.params, bse, z, pvalues,
                                            lo, hi):
            lines.append(f"{name:<12}{c:>10.4f}{s:>11.3f}{zz:>9.3f}{pv:>9.3f}"
                         f"{a:>12.3f}{b:>12.3f}")
        lines.append("=" * width)
        lines.append("Covariance type: opg (outer product of gradients).")
        return "\n".join(lines)

    def __repr__(self):
        return f"<ARIMAResults {self.spec.describe()} llf={self.llf:.3f} aic={self.aic:.3f}>"

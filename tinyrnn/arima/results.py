"""Fitted ARIMA results: statistics, residuals, forecasts and a statsmodels-style summary."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from . import statespace as ss


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
    ``aic = -2 llf + 2 k``, ``bic = -2 llf + k log(n - d)``,
    ``hqic = -2 llf + 2 k log(log(n - d))`` with k the number of parameters (sigma2
    included). Standard errors use the outer product of the per-observation scores (OPG),
    statsmodels' default for these models."""

    def __init__(self, model, params, llf, method, converged):
        self.model = model
        self.params = np.asarray(params, dtype=np.float64)
        self.param_names = model.param_names
        self.llf = float(llf)
        self.method = method
        self.converged = converged
        self.nobs = model.nobs
        self.nobs_effective = model.nobs - model.order[1]
        k = model.k_params
        self.aic = -2 * self.llf + 2 * k
        self.bic = -2 * self.llf + k * np.log(self.nobs_effective)
        self.hqic = -2 * self.llf + 2 * k * np.log(np.log(self.nobs_effective))
        self.sigma2 = float(self.params[-1])
        self._filter()

    def _system(self):
        k_trend, p, d, q = self.model._spec()
        const, ar, ma, sigma2 = ss.split_params(self.params, k_trend, p, q)
        T, R, Z = ss.system(ar, ma, d)
        return const, T, R, Z, sigma2

    def _filter(self):
        y = self.model.endog
        const, T, R, Z, sigma2 = self._system()
        a, P = ss.initial_state(T, R, self.model.order[1], sigma2, ss.KAPPA)
        n = len(y)
        obs, fitted, F = np.empty(n), np.empty(n), np.empty(n)
        ss.kalman(y, T, R, Z, const, sigma2, a, P, self.model.order[1], obs, fitted, F)
        self.fittedvalues = fitted
        self.resid = y - fitted
        self._final_state = (a, P)

    @property
    def bse(self) -> np.ndarray:
        """Standard errors from the OPG covariance (exact per-observation scores)."""
        k_trend, p, d, q = self.model._spec()
        scores = ss.score_obs(self.model.endog, self.params, k_trend, p, d, q, ss.KAPPA)
        opg = scores.T @ scores
        try:
            return np.sqrt(np.clip(np.diag(np.linalg.inv(opg)), 0, None))
        except np.linalg.LinAlgError:
            return np.full(len(self.params), np.nan)

    def get_forecast(self, steps: int = 1) -> Forecast:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        const, T, R, Z, sigma2 = self._system()
        a, P = (x.copy() for x in self._final_state)
        mean, var = np.empty(steps), np.empty(steps)
        RR = sigma2 * np.outer(R, R)
        for h in range(steps):
            mean[h] = Z @ a + const
            var[h] = Z @ P @ Z
            a = T @ a
            P = T @ P @ T.T + RR
        return Forecast(mean, np.sqrt(var))

    def forecast(self, steps: int = 1) -> np.ndarray:
        """Point forecasts for the next ``steps`` periods."""
        return self.get_forecast(steps).predicted_mean

    def summary(self) -> str:
        """A text table in the layout of statsmodels' SARIMAX summary."""
        p, d, q = self.model.order
        bse = self.bse
        z = self.params / bse
        pvalues = 2 * stats.norm.sf(np.abs(z))
        lo, hi = self.params - 1.959964 * bse, self.params + 1.959964 * bse
        width = 78
        lines = ["SARIMAX Results".center(width), "=" * width,
                 f"{'Model:':<18}{f'ARIMA({p}, {d}, {q})':>20}   "
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
        p, d, q = self.model.order
        return f"<ARIMAResults ARIMA({p},{d},{q}) llf={self.llf:.3f} aic={self.aic:.3f}>"

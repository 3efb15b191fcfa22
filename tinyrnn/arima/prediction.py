"""Predictions of a fitted ARIMA: in-sample, dynamic and out-of-sample, with variances.

For positions t = start .. end (0 = the first observation):

* static, in sample (t < n and before ``dynamic``): the filter's one-step predictions,
  ``yhat_t = x_t' beta + Z a_{t|t-1}`` with variance ``F_t = Z P_{t|t-1} Z'``;
* from the dynamic start t0 (or from n, past the sample) on: the filter's predicted state
  at t0 is carried forward without data,
  ``a <- T a``, ``P <- T P T' + sigma2 R R'``, with mean ``x_t' beta + Z a`` and variance
  ``Z P Z'`` -- the h-step forecasts from t0.

The regressors past the sample are the trend's next values and the ``exog`` rows the
caller gives (one per out-of-sample period).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


class PredictionResults:
    """``predicted_mean``, ``var_pred_mean``, ``se_mean``, ``conf_int(alpha)`` and
    ``summary_frame(alpha)`` of predictions at positions start, start + 1, ...

    Arrays when the model's data were arrays; pandas objects on the data's index (and its
    continuation) when they were pandas, with statsmodels' names."""

    def __init__(self, predicted_mean, var_pred_mean, start=0, data=None, endog_name="y"):
        self._mean = np.asarray(predicted_mean, dtype=np.float64)
        self._var = np.asarray(var_pred_mean, dtype=np.float64)
        self.start = int(start)
        self._data = data
        self.endog_name = endog_name if data is None else data.endog_name

    def _wrap(self, values, name):
        return values if self._data is None else self._data.series(values, self.start, name)

    @property
    def predicted_mean(self):
        return self._wrap(self._mean, "predicted_mean")

    @property
    def var_pred_mean(self):
        return self._wrap(self._var, "var_pred_mean")

    @property
    def se_mean(self):
        # statsmodels keeps the variance's name on the standard errors; so does this
        return self._wrap(np.sqrt(self._var), "var_pred_mean")

    def _bounds(self, alpha):
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        z = stats.norm.ppf(1 - alpha / 2)
        se = np.sqrt(self._var)
        return np.column_stack([self._mean - z * se, self._mean + z * se])

    def conf_int(self, alpha: float = 0.05):
        """(h, 2) bounds of the (1 - alpha) intervals: ``mean -+ z_{1-alpha/2} se``;
        a DataFrame with columns 'lower NAME', 'upper NAME' for pandas data."""
        ci = self._bounds(alpha)
        if self._data is None:
            return ci
        return self._data.frame(ci, self.start,
                                [f"lower {self.endog_name}", f"upper {self.endog_name}"])

    def summary_frame(self, alpha: float = 0.05):
        """A DataFrame with columns mean, mean_se, mean_ci_lower, mean_ci_upper (pandas
        needed; with array data the rows are numbered from 0, as statsmodels does)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("summary_frame needs pandas: pip install pandas") from e
        ci = self._bounds(alpha)
        columns = {"mean": self._mean, "mean_se": np.sqrt(self._var),
                   "mean_ci_lower": ci[:, 0], "mean_ci_upper": ci[:, 1]}
        # Array data have no labels: statsmodels numbers the rows 0, 1, ... (not by position)
        index = (pd.RangeIndex(len(self._mean)) if self._data is None
                 else self._data.index_for(self.start, self.start + len(self._mean) - 1))
        out = pd.DataFrame(columns, index=index)
        out.columns.name = self.endog_name
        return out

    def __len__(self):
        return len(self._mean)

    def __repr__(self):
        return f"<PredictionResults: {len(self)} predictions from position {self.start}>"


def propagate(a, P, T, R, Z, sigma2, intercepts):
    """Means and variances of ``len(intercepts)`` predictions carried forward from the
    predicted state (a, P) without data (see the module docstring)."""
    a, P = a.copy(), P.copy()
    RR = sigma2 * np.outer(R, R)
    h = len(intercepts)
    mean, var = np.empty(h), np.empty(h)
    for i in range(h):
        mean[i] = Z @ a + intercepts[i]
        var[i] = Z @ P @ Z
        a = T @ a
        P = T @ P @ T.T + RR
    return mean, var


def check_dynamic(dynamic, start, loc):
    """The absolute position where dynamic prediction starts, or None. ``dynamic``: False
    or None (never), True (at ``start``), an integer offset from ``start``, or a date/label
    that ``loc`` turns into a position (statsmodels' convention)."""
    if dynamic is None or dynamic is False:
        return None
    if dynamic is True:
        return start
    if isinstance(dynamic, (int, np.integer)):
        offset = int(dynamic)
    else:
        offset = loc(dynamic, "dynamic") - start
    if offset < 0:
        raise ValueError(f"dynamic prediction must start at or after start={start}, got "
                         f"dynamic={dynamic!r}")
    return start + offset

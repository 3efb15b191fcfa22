"""The text summary of fitted ARIMA results, in the layout of statsmodels' SARIMAX summary.

Three tables: the header (dependent variable, model, date and time, sample, covariance
type beside the number of observations, log-likelihood, AIC, BIC and HQIC), the
parameters (estimate, standard error, z, P>|z| and the confidence interval), and the
residual diagnostics of the standardized forecast errors (Ljung-Box at lag 1, the break
in variance, Jarque-Bera with skewness and kurtosis; ``diagnostics.py``).
"""
from __future__ import annotations

import time

import numpy as np
from scipy import stats

WIDTH = 78          # the narrowest table, as statsmodels
LABEL = 19          # the header's label columns
RIGHT_VALUE = 19    # the header's right value column
DIAGNOSTICS = 83    # the diagnostics table's width


def _sample(res):
    """The first and last observations: dates (mm-dd-yyyy) for a dated index, else 0 and
    the number of observations."""
    data = res._data
    if data is not None and data.kind == "date":
        first, last = data.index[0], data.index[-1]
        return [f"{d.month:02d}-{d.day:02d}-{d.year:02d}" for d in (first, last)]
    return ["0", str(res.nobs)]


def _header(res):
    first, last = _sample(res)
    name = "y" if res._data is None else res._data.endog_name
    left = [("Dep. Variable:", name), ("Model:", res.spec.describe()),
            ("Date:", time.strftime("%a, %d %b %Y")), ("Time:", time.strftime("%H:%M:%S")),
            ("Sample:", first), ("", f"- {last}"), ("Covariance Type:", res.cov_type)]
    right = [("No. Observations:", str(res.nobs)), ("Log Likelihood", f"{res.llf:#5.3f}"),
             ("AIC", f"{res.aic:#5.3f}"), ("BIC", f"{res.bic:#5.3f}"),
             ("HQIC", f"{res.hqic:#5.3f}")]
    right += [("", "")] * (len(left) - len(right))
    value = max(len(v) for _, v in left)
    right_value = max([RIGHT_VALUE] + [len(v) for _, v in right])
    width = max(WIDTH, LABEL + value + 3 + LABEL + right_value)
    value = width - LABEL - 3 - LABEL - right_value  # widen to the full width
    rows = [f"{ll:<{LABEL}}{lv:>{value}}   {rl:<{LABEL}}{rv:>{right_value}}"
            for (ll, lv), (rl, rv) in zip(left, right)]
    return width, rows


def _number(x, digits):
    """``digits`` decimals, or as many significant digits for numbers outside
    [1e-4, 1e4) (statsmodels' rule, which keeps tiny variances readable)."""
    if np.isfinite(x) and (abs(x) >= 1e4 or abs(x) < 1e-4):
        return f"{x:.{digits}g}"
    return f"{x:.{digits}f}"


def _params_table(res, alpha):
    params, bse = res._params, np.sqrt(np.clip(np.diag(res._cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = params / bse
    p = 2 * stats.norm.sf(np.abs(z))
    q = stats.norm.ppf(1 - alpha / 2)
    lo, hi = params - q * bse, params + q * bse
    name_width = max(10, max(len(n) for n in res.param_names) + 1)
    cols = ["coef", "std err", "z", "P>|z|", f"[{alpha / 2:.3f}", f"{1 - alpha / 2:.3f}]"]
    widths = [11, 11, 11, 11, 12, 12]
    rows = [" " * name_width + "".join(f"{c:>{w}}" for c, w in zip(cols, widths))]
    for i, name in enumerate(res.param_names):
        cells = [_number(params[i], 4), _number(bse[i], 3), _number(z[i], 3),
                 f"{p[i]:.3f}", _number(lo[i], 3), _number(hi[i], 3)]
        rows.append(f"{name:<{name_width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))
    return rows


def _diagnostics(res):
    def tried(test, shape):
        try:
            return test()
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
            return np.full(shape, np.nan)
    lb = tried(lambda: res.test_serial_correlation("ljungbox", lags=[1])[0, :, -1], 2)
    het = tried(lambda: res.test_heteroskedasticity("breakvar")[0], 2)
    jb = tried(lambda: res.test_normality("jarquebera")[0], 4)
    left = [("Ljung-Box (L1) (Q):", lb[0]), ("Prob(Q):", lb[1]),
            ("Heteroskedasticity (H):", het[0]), ("Prob(H) (two-sided):", het[1])]
    right = [("Jarque-Bera (JB):", jb[0]), ("Prob(JB):", jb[1]), ("Skew:", jb[2]),
             ("Kurtosis:", jb[3])]
    return [f"{ll:<24}{lv:>18.2f}   {rl:<24}{rv:>14.2f}" for (ll, lv), (rl, rv)
            in zip(left, right)]


def summary_text(res, alpha=0.05) -> str:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    width, header = _header(res)
    params = _params_table(res, alpha)
    pwidth = max(WIDTH, max(len(r) for r in params))
    lines = ["SARIMAX Results".center(width), "=" * width, *header, "=" * pwidth,
             params[0], "-" * pwidth, *params[1:], "=" * DIAGNOSTICS, *_diagnostics(res),
             "=" * DIAGNOSTICS, "", "Warnings:",
             "[1] Covariance matrix calculated using the outer product of gradients "
             "(exact scores)."]
    return "\n".join(lines)

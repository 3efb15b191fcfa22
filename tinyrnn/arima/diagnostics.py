"""Residual diagnostics of a fitted ARIMA: the tests of statsmodels' state-space summary,
and its four-panel diagnostic plot.

All of them look at the standardized one-step forecast errors ``e_t = v_t / sqrt(F_t)``
(``v_t`` the forecast error, ``F_t`` its variance) after the first ``d + D s``
observations, whose forecasts come from the diffuse prior of the differencing states.

* Ljung-Box: with the sample autocorrelations
  ``r_k = sum_t (e_t - m)(e_{t+k} - m) / sum_t (e_t - m)^2`` of the n errors,
  ``Q(L) = n (n + 2) sum_{k=1..L} r_k^2 / (n - k)``, compared with chi2(L).
* Jarque-Bera: with the (biased) sample skewness S and kurtosis K,
  ``JB = n / 6 (S^2 + (K - 3)^2 / 4)``, compared with chi2(2).
* Heteroskedasticity (Harvey's break in variance): with ``h = round(n / 3)``,
  ``H = sum of the last h e_t^2 / sum of the first h e_t^2``, compared with F(h, h);
  the two-sided p-value is twice the smaller tail (for a decreasing variance, 1 / H and
  its upper tail).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def ljung_box(x, lags):
    """Ljung-Box statistics and p-values for the maximal lags in ``lags`` (an int L: every
    lag 1..L; a list: those lags). Returns an array (2, len(lags))."""
    x = np.asarray(x, dtype=np.float64)
    lags = np.arange(1, int(lags) + 1) if np.ndim(lags) == 0 else np.asarray(lags, dtype=int)
    n = len(x)
    if lags.size == 0 or lags.min() < 1 or lags.max() >= n:
        raise ValueError(f"lags must be between 1 and {n - 1} (the number of residuals "
                         f"less one), got {lags.tolist()}")
    c = x - x.mean()
    denom = c @ c
    k_max = int(lags.max())
    r = np.array([c[:n - k] @ c[k:] / denom for k in range(1, k_max + 1)])
    q = n * (n + 2) * np.cumsum(r ** 2 / (n - np.arange(1, k_max + 1)))
    q = q[lags - 1]
    return np.vstack([q, stats.chi2.sf(q, lags)])


def jarque_bera(x):
    """(JB, p-value, skewness, kurtosis) of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    skew = float(stats.skew(x))
    kurt = float(stats.kurtosis(x, fisher=False))
    jb = len(x) / 6.0 * (skew ** 2 + (kurt - 3) ** 2 / 4)
    return np.array([jb, stats.chi2.sf(jb, 2), skew, kurt])


def break_in_variance(x, alternative="two-sided", use_f=True):
    """(H, p-value): the sum of squares of the last third of ``x`` over that of the first
    third. ``alternative``: 'increasing' (the upper tail of H), 'decreasing' (the statistic
    is then 1 / H, and its upper tail) or 'two-sided'; ``use_f``: the F(h, h) distribution,
    else the chi2(h) limit of h H."""
    if alternative not in ("increasing", "decreasing", "two-sided"):
        raise ValueError("alternative must be 'increasing', 'decreasing' or 'two-sided', "
                         f"got {alternative!r}")
    x = np.asarray(x, dtype=np.float64)
    h = int(np.round(len(x) / 3))
    if h < 2:
        raise ValueError(f"the heteroskedasticity test needs at least 6 residuals, got "
                         f"{len(x)}")
    H = float(np.sum(x[-h:] ** 2) / np.sum(x[:h] ** 2))
    if alternative == "decreasing":  # the first third over the last: 1 / H, upper tail
        H = 1.0 / H
    dist = stats.f(h, h) if use_f else stats.chi2(h)
    scaled = H if use_f else H * h
    lower, upper = dist.cdf(scaled), dist.sf(scaled)
    return np.array([H, 2 * min(lower, upper) if alternative == "two-sided" else upper])


def plot_diagnostics(std_resid, index=None, lags=10, fig=None, figsize=None,
                     title_variable="y"):
    """statsmodels' four panels for the standardized residuals: the residuals over time,
    their histogram with a kernel density and the N(0, 1) density, a normal Q-Q plot, and
    their correlogram with the +-1.96 / sqrt(n) band. matplotlib is needed (imported
    here, on demand)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plot_diagnostics needs matplotlib: pip install matplotlib") from e
    e = np.asarray(std_resid, dtype=np.float64)
    n = len(e)
    if fig is None:
        fig = plt.figure(figsize=figsize)
    axes = [fig.add_subplot(2, 2, i) for i in range(1, 5)]

    ax = axes[0]
    x = np.arange(n) if index is None else index
    ax.plot(x, e)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title("Standardized residual" + (f" for \"{title_variable}\""
                                             if title_variable else ""))

    ax = axes[1]
    ax.hist(e, density=True, label="Hist", edgecolor="#FFFFFF")
    grid = np.linspace(-4, 4, 200)
    if n > 1 and np.std(e) > 0:
        ax.plot(grid, stats.gaussian_kde(e)(grid), label="KDE")
    ax.plot(grid, stats.norm.pdf(grid), label="N(0,1)")
    ax.set_xlim(-4, 4)
    ax.legend()
    ax.set_title("Histogram plus estimated density")

    ax = axes[2]
    theoretical = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    ax.plot(theoretical, np.sort(e), "o", markersize=3)
    ax.plot(theoretical, theoretical, color="red")
    ax.set_xlabel("Theoretical Quantiles")
    ax.set_ylabel("Sample Quantiles")
    ax.set_title("Normal Q-Q")

    ax = axes[3]
    lags = min(int(lags), n - 1)
    c = e - e.mean()
    r = np.array([1.0] + [c[:n - k] @ c[k:] / (c @ c) for k in range(1, lags + 1)])
    ax.vlines(np.arange(lags + 1), 0, r)
    ax.plot(np.arange(lags + 1), r, "o", markersize=4)
    band = 1.96 / np.sqrt(n)
    ax.fill_between(np.arange(lags + 1), -band, band, alpha=0.25)
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_title("Correlogram")
    return fig

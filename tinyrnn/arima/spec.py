"""What a model is: orders, trend and regressors, checked once and named.

``Spec`` holds everything the filter, the estimators and the results need to know about a
(seasonal) ARIMA with regressors, so that no module unpacks an anonymous tuple. The
functions ``check_endog``, ``check_exog``, ``check_order`` and ``check_seasonal_order``
validate user input with clear messages; every module (and ``tinyrnn.workflows``) uses
these public names.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

TRENDS = {"n": (), "c": (0,), "t": (1,), "ct": (0, 1)}  # the powers of time in each trend


def _int(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {v!r}")
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return int(v)


def check_order(order):
    """(p, d, q) as three non-negative integers."""
    if not isinstance(order, (tuple, list)) or len(order) != 3:
        raise ValueError(f"order must be a tuple (p, d, q) of three integers, got {order!r}")
    return tuple(_int(f"order {name}", v) for name, v in zip("pdq", order))


def check_seasonal_order(seasonal_order):
    """(P, D, Q, s): s >= 2 whenever P, D or Q is used; (0, 0, 0, 0) means none."""
    if seasonal_order is None:
        return (0, 0, 0, 0)
    if not isinstance(seasonal_order, (tuple, list)) or len(seasonal_order) != 4:
        raise ValueError("seasonal_order must be a tuple (P, D, Q, s) of four integers, got "
                         f"{seasonal_order!r}")
    P, D, Q, s = (_int(f"seasonal_order {name}", v)
                  for name, v in zip("PDQs", seasonal_order))
    if P + D + Q == 0:
        return (0, 0, 0, 0)
    if s < 2:
        raise ValueError(f"the seasonal period s must be an integer >= 2 when P, D or Q is "
                         f"used, got s={s}")
    return (P, D, Q, s)


def check_endog(endog):
    """One numeric series without missing values, as float64 (1-D)."""
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


def check_exog(exog, nobs, what="exog"):
    """Regressors as a float64 (nobs, k) array and their pandas names (else []);
    ``None`` gives a (nobs, 0) array."""
    if exog is None:
        return np.empty((nobs, 0)), []
    names = None
    if hasattr(exog, "columns"):
        names = [str(c) for c in exog.columns]
    elif hasattr(exog, "name") and hasattr(exog, "values"):
        names = [str(exog.name)]
    X = np.asarray(getattr(exog, "values", exog))
    if X.dtype.kind not in "iufb":
        raise TypeError(f"{what} must be numeric, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"{what} must be 1-D or 2-D (nobs, k), got shape {X.shape}")
    if X.shape[0] != nobs:
        raise ValueError(f"{what} must have {nobs} rows (one per observation), got shape "
                         f"{X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{what} has missing or non-finite values (first at row {bad[0]}, "
                         f"column {bad[1]})")
    return X, names or []


def trend_data(trend, start, n):
    """The trend's columns for observations start .. start + n - 1 (time t = index + 1)."""
    t = np.arange(start + 1, start + n + 1, dtype=np.float64)
    return np.column_stack([t ** k for k in TRENDS[trend]]) if TRENDS[trend] \
        else np.empty((n, 0))


@dataclass(frozen=True)
class Spec:
    """A SARIMA(p, d, q)x(P, D, Q, s) with ``k_trend`` trend and ``k_exog`` user regressors.

    Parameters are ordered as in statsmodels: trend, exog, ar.L*, ma.L*, ar.S.L*,
    ma.S.L*, sigma2. The state has ``n_diff = d + D s`` differencing states followed by
    ``r = max(p + s P, q + s Q + 1)`` ARMA states.
    """

    p: int
    d: int
    q: int
    P: int = 0
    D: int = 0
    Q: int = 0
    s: int = 0
    trend: str = "n"
    k_exog: int = 0
    exog_names: tuple = ()   # pandas column names; empty: numbered x1, x2 ...

    @property
    def order(self):
        return (self.p, self.d, self.q)

    @property
    def seasonal_order(self):
        return (self.P, self.D, self.Q, self.s)

    @property
    def k_trend(self):
        return len(TRENDS[self.trend])

    @property
    def k_regr(self):
        return self.k_trend + self.k_exog

    @property
    def k_arma(self):
        return self.p + self.q + self.P + self.Q

    @property
    def k_params(self):
        return self.k_regr + self.k_arma + 1

    @property
    def n_diff(self):
        """Differencing states, and observations left out of the likelihood (burn-in)."""
        return self.d + self.D * self.s

    @property
    def r(self):
        return max(self.p + self.s * self.P, self.q + self.s * self.Q + 1)

    @property
    def k_states(self):
        return self.n_diff + self.r

    @property
    def is_seasonal(self):
        return self.s > 0

    @property
    def dims(self):
        """The integers the Numba kernels take: (k_regr, p, q, P, Q, s, d, D)."""
        return np.array([self.k_regr, self.p, self.q, self.P, self.Q, self.s, self.d, self.D],
                        dtype=np.int64)

    @property
    def param_names(self):
        # statsmodels' names: the time trend is "drift" beside named (pandas) regressors,
        # otherwise it opens the numbered sequence x1, x2 ... of non-constant regressors
        named = bool(self.exog_names)
        trend = ["const" if k == 0 else "drift" if named else "x1" for k in TRENDS[self.trend]]
        first = 1 + (self.trend in ("t", "ct"))
        exog = list(self.exog_names) if named else \
            [f"x{first + i}" for i in range(self.k_exog)]
        s = self.s
        return (trend + exog + [f"ar.L{i}" for i in range(1, self.p + 1)] +
                [f"ma.L{i}" for i in range(1, self.q + 1)] +
                [f"ar.S.L{s * i}" for i in range(1, self.P + 1)] +
                [f"ma.S.L{s * i}" for i in range(1, self.Q + 1)] + ["sigma2"])

    def slices(self):
        """Named slices of the parameter vector."""
        k = self.k_regr
        out = {"regr": slice(0, k), "ar": slice(k, k + self.p)}
        k += self.p
        out["ma"] = slice(k, k + self.q)
        k += self.q
        out["sar"] = slice(k, k + self.P)
        k += self.P
        out["sma"] = slice(k, k + self.Q)
        out["sigma2"] = k + self.Q
        return out

    def describe(self):
        text = f"ARIMA({self.p}, {self.d}, {self.q})"
        if self.is_seasonal:
            text += f"x({self.P}, {self.D}, {self.Q}, {self.s})"
        return text

"""Conditional sum of squares (CSS) for the (reduced) ARMA of the differenced series.

With w_t the differenced series less its regression (trend and exog, differenced alike),
and phi, theta the reduced (seasonal times non-seasonal) AR and MA coefficients, the
residuals are computed conditionally on the first p values and on zero pre-sample shocks::

    e_t = w_t - sum_i phi_i w_{t-i} - sum_j theta_j e_{t-j},    t = p, ..., n - 1

CSS minimises sum e_t^2; then sigma2 = SSR / (n - p) and the conditional log-likelihood is
``-(n - p) / 2 (log(2 pi sigma2) + 1)``.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..jit import njit as _tiered_njit

# Compiled in a background process on the first run (see tinyrnn/jit.py); plain Python
# till then.
njit = partial(_tiered_njit, group="arima")


@njit(cache=True, nogil=True)
def css_residuals(w, ar, ma):
    """Residuals e_p .. e_{n-1} of the CSS recursion (length n - p)."""
    n, p, q = w.shape[0], ar.shape[0], ma.shape[0]
    e = np.zeros(n)
    for t in range(p, n):
        s = w[t]
        for i in range(p):
            s -= ar[i] * w[t - 1 - i]
        for j in range(q):
            if t - 1 - j >= p:
                s -= ma[j] * e[t - 1 - j]
        e[t] = s
    return e[p:]

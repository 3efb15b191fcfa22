"""Maps between unconstrained reals and stationary / invertible lag polynomials.

The optimiser works on unconstrained values u; the model needs AR coefficients phi with
all roots of ``1 - phi_1 z - ... - phi_p z^p`` outside the unit circle. Each u_k becomes a
partial autocorrelation ``r_k = u_k / sqrt(1 + u_k^2)`` in (-1, 1), and the Durbin-Levinson
recursion turns partial autocorrelations into coefficients (Monahan, 1984; Jones, 1980)::

    phi^(k)_k = r_k,   phi^(k)_i = phi^(k-1)_i - r_k phi^(k-1)_{k-i}     (i < k)

MA coefficients theta (``1 + theta_1 z + ...`` invertible) are ``-phi`` of the same map.
All functions are Numba-compiled and generic in the dtype, so complex-step derivatives run
through them unchanged.
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..jit import njit as _tiered_njit

# Compiled in a background process on the first run (see tinyrnn/jit.py); plain Python
# till then.
njit = partial(_tiered_njit, group="arima")


@njit(cache=True, nogil=True)
def constrain_stationary(u):
    """Unconstrained u (k,) -> AR coefficients phi (k,) of a stationary polynomial."""
    k = u.shape[0]
    phi = np.zeros(k, dtype=u.dtype)
    prev = np.zeros(k, dtype=u.dtype)
    for n in range(k):
        r = u[n] / np.sqrt(1.0 + u[n] * u[n])
        for i in range(n):
            prev[i] = phi[i]
        for i in range(n):
            phi[i] = prev[i] - r * prev[n - 1 - i]
        phi[n] = r
    return phi


@njit(cache=True, nogil=True)
def partial_autocorrelations(phi):
    """The Durbin-Levinson recursion run backwards (step-down): phi -> r_1 .. r_p. The
    polynomial is stationary exactly when every |r_k| < 1; the recursion stops (leaving
    the rest 1) at the first |r_k| >= 1."""
    k = phi.shape[0]
    cur = phi.copy()
    r = np.ones(k, dtype=phi.dtype)
    for n in range(k - 1, -1, -1):
        r[n] = cur[n]
        if n == 0 or abs(r[n]) >= 1.0:
            break
        denom = 1.0 - r[n] * r[n]
        nxt = np.zeros(n, dtype=phi.dtype)
        for i in range(n):
            nxt[i] = (cur[i] + r[n] * cur[n - 1 - i]) / denom
        for i in range(n):
            cur[i] = nxt[i]
    return r


@njit(cache=True, nogil=True)
def unconstrain_stationary(phi):
    """The inverse of ``constrain_stationary`` (phi must be stationary)."""
    r = partial_autocorrelations(phi)
    return r / np.sqrt(1.0 - r * r)


def is_stationary(phi) -> bool:
    """All roots of ``1 - phi_1 z - ... - phi_p z^p`` lie outside the unit circle."""
    phi = np.asarray(phi, dtype=np.float64)
    if phi.size == 0:
        return True
    if not np.all(np.isfinite(phi)):
        return False
    return bool(np.all(np.abs(partial_autocorrelations(phi)) < 1.0 - 1e-12))


def is_invertible(theta) -> bool:
    """All roots of ``1 + theta_1 z + ... + theta_q z^q`` lie outside the unit circle."""
    return is_stationary(-np.asarray(theta, dtype=float))

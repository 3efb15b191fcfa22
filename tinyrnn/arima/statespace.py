"""ARIMA(p, d, q) in state-space form and its exact Gaussian likelihood (Kalman filter).

The representation is statsmodels' SARIMAX one (``simple_differencing=False``), so that
log-likelihoods agree to rounding. With m = d + r, r = max(p, q + 1), the state holds the
d differencing levels followed by the r ARMA states::

    y_t     = Z alpha_t + c                      Z = [1 ... 1 | 1 0 ... 0]
    alpha_{t+1} = T alpha_t + R eta_t,  eta_t ~ N(0, sigma2)

    T = [ U  1 0..0 ]     U: d x d upper triangle of ones (cumulative sums undo the
        [ 0  A      ]        differencing); A: companion matrix, phi in its first column
    R = [0..0 | 1 theta_1 .. theta_{r-1}]'

The ARMA block starts from its stationary distribution (the Lyapunov equation
``P = A P A' + sigma2 R R'``), the differencing block from an approximate diffuse prior
(variance ``kappa`` = 1e6, mean 0), and the first ``burn`` = d observations are left out of
the log-likelihood. With v_t = y_t - Z a_t - c and F_t = Z P_t Z'::

    log L = sum_{t >= burn} -1/2 (log 2 pi + log F_t + v_t^2 / F_t)

Once P_t stops changing (a steady state), its update is skipped. Every function is
Numba-compiled and generic in the dtype: the same code runs on complex numbers for
complex-step derivatives, ``d log L / d theta_i = Im log L(theta + i h e_i) / h``.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .transforms import constrain_stationary

LOG_2PI = float(np.log(2 * np.pi))
KAPPA = 1e6  # statsmodels' approximate-diffuse variance
# P_t counts as steady once a step changes it by less than this, relative to its diagonal;
# the later F_t then differ from the exact ones by ~1e-9 relative (log L by ~1e-7 over a
# few hundred observations). Much tighter is never reached: after the diffuse prior (1e6)
# rounding leaves ~1e-10 of noise in P.
STEADY_STATE_TOL = 1e-9


@njit(cache=True, nogil=True)
def system(ar, ma, d):
    """(T, R, Z) for AR coefficients ``ar``, MA coefficients ``ma`` and d differences."""
    p, q = ar.shape[0], ma.shape[0]
    r = max(p, q + 1)
    m = d + r
    dtype = ar.dtype if p else ma.dtype
    T = np.zeros((m, m), dtype=dtype)
    R = np.zeros(m, dtype=dtype)
    Z = np.zeros(m, dtype=dtype)
    for i in range(d):
        for j in range(i, d + 1):
            T[i, j] = 1.0
        Z[i] = 1.0
    for i in range(p):
        T[d + i, d] = ar[i]
    for i in range(r - 1):
        T[d + i, d + i + 1] = 1.0
    R[d] = 1.0
    for j in range(q):
        R[d + 1 + j] = ma[j]
    Z[d] = 1.0
    return T, R, Z


@njit(cache=True, nogil=True, inline="always")
def _matmul(X, Y, out):
    """out = X @ Y with plain loops: these matrices are tiny, a BLAS call costs more."""
    n, k, m = X.shape[0], X.shape[1], Y.shape[1]
    for i in range(n):
        for j in range(m):
            s = 0.0 * X[0, 0]
            for l in range(k):
                s += X[i, l] * Y[l, j]
            out[i, j] = s
    return out


@njit(cache=True, nogil=True, inline="always")
def _matmul_t(X, Y, out):
    """out = X @ Y.T"""
    n, k, m = X.shape[0], X.shape[1], Y.shape[0]
    for i in range(n):
        for j in range(m):
            s = 0.0 * X[0, 0]
            for l in range(k):
                s += X[i, l] * Y[j, l]
            out[i, j] = s
    return out


@njit(cache=True, nogil=True)
def stationary_cov(A, Rr, sigma2):
    """Solve ``P = A P A' + sigma2 Rr Rr'`` for a stable A by doubling:
    ``P = sum_k A^k Q A'^k`` summed as ``P <- P + A_j P A_j'``, ``A_j <- A_j^2``, which
    needs log2 of the number of terms iterations (a few matrix products each) instead of
    a solve with r^2 unknowns."""
    r = A.shape[0]
    P = sigma2 * np.outer(Rr, Rr)
    Aj = A.copy()
    AP = np.empty_like(P)
    tmp = np.empty_like(P)
    for _ in range(64):
        _matmul(Aj, P, AP)
        _matmul_t(AP, Aj, tmp)
        P += tmp
        _matmul(Aj, Aj, tmp)
        Aj[:, :] = tmp
        size = 0.0
        for i in range(r):
            for j in range(r):
                size = max(size, abs(Aj[i, j].real) + abs(Aj[i, j].imag))
        if size < 1e-13:  # the remaining terms are below rounding of P
            break
    return P


@njit(cache=True, nogil=True)
def initial_state(T, R, d, sigma2, kappa):
    """a_0 = 0; P_0 = diag(kappa I_d, stationary ARMA covariance)."""
    m = T.shape[0]
    P = np.zeros((m, m), dtype=T.dtype)
    for i in range(d):
        P[i, i] = kappa
    P[d:, d:] = stationary_cov(T[d:, d:].copy(), R[d:].copy(), sigma2)
    return np.zeros(m, dtype=T.dtype), P


@njit(cache=True, nogil=True)
def _sparse_rows(T):
    """T's non-zeros row by row (CSR): T has at most d + 1 of them per row, so products
    with T cost O(m^2) instead of O(m^3)."""
    m = T.shape[0]
    ptr = np.zeros(m + 1, dtype=np.int64)
    cols = np.empty(m * m, dtype=np.int64)
    vals = np.empty(m * m, dtype=T.dtype)
    n = 0
    for i in range(m):
        for j in range(m):
            if T[i, j] != 0:
                cols[n] = j
                vals[n] = T[i, j]
                n += 1
        ptr[i + 1] = n
    return ptr, cols, vals


@njit(cache=True, nogil=True)
def kalman(y, T, R, Z, c, sigma2, a, P, burn, llf_obs, fitted, F_out):
    """Run the filter over y from the predicted state (a, P), in place.

    Writes per-observation log-likelihoods (0 inside the burn-in), one-step predictions
    and their variances; returns the total log-likelihood. (a, P) end as the prediction
    for the step after the last observation, ready for forecasting.
    """
    n, m = y.shape[0], T.shape[0]
    ptr, cols, vals = _sparse_rows(T)
    zero = 0.0 * sigma2
    llf = zero
    TP = np.empty((m, m), dtype=P.dtype)
    PZ = np.empty(m, dtype=P.dtype)
    K = np.empty(m, dtype=P.dtype)
    a_new = np.empty(m, dtype=P.dtype)
    converged = False
    for t in range(n):
        yhat = c
        for i in range(m):
            yhat += Z[i] * a[i]
        for i in range(m):
            s = zero
            for j in range(m):
                s += P[i, j] * Z[j]
            PZ[i] = s
        F = zero
        for i in range(m):
            F += Z[i] * PZ[i]
        v = y[t] - yhat
        fitted[t] = yhat
        F_out[t] = F
        if t >= burn:
            llf_obs[t] = -0.5 * (LOG_2PI + np.log(F) + v * v / F)
            llf += llf_obs[t]
        else:
            llf_obs[t] = 0.0
        for i in range(m):  # K = T P Z' / F;  a <- T a + K v
            s, sa = zero, zero
            for nz in range(ptr[i], ptr[i + 1]):
                s += vals[nz] * PZ[cols[nz]]
                sa += vals[nz] * a[cols[nz]]
            K[i] = s / F
            a_new[i] = sa + K[i] * v
        a[:] = a_new
        if converged:
            continue
        # P <- T P T' - K F K' + sigma2 R R'
        for i in range(m):
            for j in range(m):
                s = zero
                for nz in range(ptr[i], ptr[i + 1]):
                    s += vals[nz] * P[cols[nz], j]
                TP[i, j] = s
        change = 0.0
        for i in range(m):
            for j in range(i, m):
                s = sigma2 * R[i] * R[j] - K[i] * F * K[j]
                for nz in range(ptr[j], ptr[j + 1]):
                    s += TP[i, cols[nz]] * vals[nz]
                diff = s - P[i, j]
                change = max(change, abs(diff.real) + abs(diff.imag))
                P[i, j] = s
                P[j, i] = s
        # Steady state: both the value and (in complex-step runs) its derivative.
        scale = 0.0
        for i in range(m):
            scale = max(scale, abs(P[i, i].real) + abs(P[i, i].imag))
        converged = t >= burn and change <= STEADY_STATE_TOL * scale
    return llf


@njit(cache=True, nogil=True)
def split_params(params, k_trend, p, q):
    """(const, ar, ma, sigma2) from the statsmodels-ordered constrained vector."""
    const = params[0] if k_trend else 0.0 * params[0]
    ar = params[k_trend:k_trend + p].copy()
    ma = params[k_trend + p:k_trend + p + q].copy()
    return const, ar, ma, params[k_trend + p + q]


@njit(cache=True, nogil=True)
def constrain(u, k_trend, p, q):
    """Unconstrained optimiser vector -> [const, ar (stationary), ma (invertible), sigma2]."""
    out = u.copy()
    if p:
        out[k_trend:k_trend + p] = constrain_stationary(u[k_trend:k_trend + p].copy())
    if q:
        out[k_trend + p:k_trend + p + q] = -constrain_stationary(
            u[k_trend + p:k_trend + p + q].copy())
    s = u[k_trend + p + q]
    out[k_trend + p + q] = s * s
    return out


@njit(cache=True, nogil=True)
def loglike(y, params, k_trend, p, d, q, kappa):
    """Exact log-likelihood at constrained params (statsmodels order)."""
    const, ar, ma, sigma2 = split_params(params, k_trend, p, q)
    T, R, Z = system(ar, ma, d)
    a, P = initial_state(T, R, d, sigma2, kappa)
    n = y.shape[0]
    work = np.empty(n, dtype=params.dtype)
    fitted = np.empty(n, dtype=params.dtype)
    F = np.empty(n, dtype=params.dtype)
    return kalman(y.astype(params.dtype), T, R, Z, const, sigma2, a, P, d, work, fitted, F)


@njit(cache=True, nogil=True)
def loglike_and_grad(y, u, k_trend, p, d, q, kappa):
    """log L at unconstrained u and its exact gradient by complex steps."""
    k = u.shape[0]
    value = loglike(y, constrain(u, k_trend, p, q), k_trend, p, d, q, kappa).real
    grad = np.empty(k)
    h = 1e-30
    uc = u.astype(np.complex128)
    for i in range(k):
        uc[i] += 1j * h
        grad[i] = loglike(y, constrain(uc, k_trend, p, q), k_trend, p, d, q, kappa).imag / h
        uc[i] -= 1j * h
    return value, grad


@njit(cache=True, nogil=True)
def score_obs(y, params, k_trend, p, d, q, kappa):
    """Per-observation scores d log L_t / d params (n, k) at constrained params."""
    n, k = y.shape[0], params.shape[0]
    out = np.empty((n, k))
    h = 1e-30
    pc = params.astype(np.complex128)
    fitted = np.empty(n, dtype=np.complex128)
    F = np.empty(n, dtype=np.complex128)
    obs = np.empty(n, dtype=np.complex128)
    yc = y.astype(np.complex128)
    for i in range(k):
        pc[i] += 1j * h
        const, ar, ma, sigma2 = split_params(pc, k_trend, p, q)
        T, R, Z = system(ar, ma, d)
        a, P = initial_state(T, R, d, sigma2, kappa)
        kalman(yc, T, R, Z, const, sigma2, a, P, d, obs, fitted, F)
        for t in range(n):
            out[t, i] = obs[t].imag / h
        pc[i] -= 1j * h
    return out

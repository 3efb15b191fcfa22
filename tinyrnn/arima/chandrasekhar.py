"""The optimiser's objective: the exact likelihood of the differenced series, by Chandrasekhar
recursions, with its exact score -- O(k r) work per observation instead of O(k m^2).

Why the differenced series. With the differencing in the state and a diffuse prior on it,
the first ``n_diff = d + D s`` observations only resolve the diffuse part; in the limit
kappa -> infinity the log-likelihood of the rest is that of the differenced series
``w = (1 - L)^d (1 - L^s)^D (y - X beta)`` under the stationary ARMA (Ansley and Kohn,
1985): the undifferenced start carries no information about w. statsmodels' filter (and
``statespace.kalman``) uses kappa = 1e6, which moves log L by O(1 / kappa) -- on the
optimiser's scaled series ~1e-6 and smooth in the parameters, so the optimum moves by
O(1e-6) in the parameters and log L there by far less. The fit reports log L from
``statespace`` at the optimum it found, so every likelihood a user sees is statsmodels'.

Why Chandrasekhar. The ARMA block starts from its stationary covariance P_1 = P_0, which
solves P_0 = T P_0 T' + sigma2 R R', so P_2 - P_1 = -G_1 G_1' / F_1 has rank one. With
``dP_t = P_{t+1} - P_t = M_t W_t W_t'`` (scalar M_t), ``G_t = T P_t Z'`` and
``F_t = Z P_t Z'``, the filter needs only (Morf, Sidhu and Kailath, 1974)::

    z = Z W_t,   F_{t+1} = F_t + M_t z^2,   G_{t+1} = G_t + M_t z T W_t,
    K_{t+1} = G_{t+1} / F_{t+1},   W_{t+1} = T W_t - K_{t+1} z,
    M_{t+1} = M_t + M_t^2 z^2 / F_t,          W_1 = G_1,  M_1 = -1 / F_1,

(expand dP_{t+1} = T dP_t T' - G_{t+1} G_{t+1}' / F_{t+1} + G_t G_t' / F_t), plus the mean
``a_{t+1} = T a_t + K_t v_t``. With T the companion matrix of the reduced AR polynomial and
Z = e_1, every update is O(r) for r ARMA states, and its forward-mode derivative in each of
the k parameters O(r) too: the score costs O(k r n) where the full filter's costs
O(k m^2 n) for m = n_diff + r states (a seasonal model: r = 26, m = 38).

The start needs only P_0's first column. In Harvey's form (statsmodels' ARMA block) state i
is ``sum_{j >= i} (phi_j x_{t-1-j+i} + R_j eps_{t-j+i})`` with R = (1, theta), so::

    P_0[i, 0] = sum_{j=i}^{r-1} (phi_j gamma(j - i + 1) + sigma2 R_j psi_{j-i})

with the autocovariances gamma of the ARMA, from the (p + 1) linear equations
``gamma(h) - sum_j phi_j gamma(|h - 1 - j|) = sigma2 sum_{j >= h} R_j psi_{j-h}``
(h = 0..p, then the same recursion onwards), and its MA(infinity) weights
``psi_h = R_h + sum_j phi_j psi_{h-1-j}``. Their derivatives solve the same system with
differentiated right-hand sides: one LU factorisation serves all.
"""
from __future__ import annotations

from functools import partial

import numpy as np
from numba import prange

from ..jit import njit as _tiered_njit
from .statespace import LOG_2PI, constrain, constrain_jacobian, lu_factor, lu_solve, \
    reduced_arma

# Compiled in a background process on the first run (see tinyrnn/jit.py).
njit = partial(_tiered_njit, group="arima")


@njit(cache=True, nogil=True)
def _harvey(params, dims, with_derivatives):
    """phi and R = (1, theta) padded to the r ARMA states, their derivatives (k, r) and
    sigma2's (k,)."""
    phi_red, theta_red, dphi_red, dtheta_red = reduced_arma(params, dims)
    r = max(phi_red.shape[0], theta_red.shape[0] + 1)
    k = params.shape[0] if with_derivatives else 0
    phi, R = np.zeros(r), np.zeros(r)
    dphi, dR, dsig = np.zeros((k, r)), np.zeros((k, r)), np.zeros(k)
    R[0] = 1.0
    for i in range(phi_red.shape[0]):
        phi[i] = phi_red[i]
        for e in range(k):
            dphi[e, i] = dphi_red[e, i]
    for j in range(theta_red.shape[0]):
        R[j + 1] = theta_red[j]
        for e in range(k):
            dR[e, j + 1] = dtheta_red[e, j]
    if k:
        dsig[k - 1] = 1.0
    return phi, R, dphi, dR, dsig


@njit(cache=True, nogil=True)
def covariance_column(phi, R, sigma2, p, dphi, dR, dsig, first):
    """P_0[:, 0] of the stationary ARMA state (module docstring) and its derivatives (kd, r)
    for directions ``first`` .. kd - 1 (the others, regression coefficients, leave it
    unchanged: their rows stay 0). ``p``: the AR order (phi's non-zero length)."""
    r, kd = phi.shape[0], dphi.shape[0]
    psi = np.zeros(r)
    dpsi = np.zeros((kd, r))
    for h in range(r):
        acc = R[h]
        for j in range(min(h, p)):
            acc += phi[j] * psi[h - 1 - j]
        psi[h] = acc
        for e in range(first, kd):
            acc = dR[e, h]
            for j in range(min(h, p)):
                acc += dphi[e, j] * psi[h - 1 - j] + phi[j] * dpsi[e, h - 1 - j]
            dpsi[e, h] = acc
    # gamma(0..p) from the (p + 1) equations; right-hand sides: the value, then each direction
    n = p + 1
    A = np.zeros((n, n))
    for h in range(n):
        A[h, h] += 1.0
        for j in range(p):
            A[h, abs(h - 1 - j)] -= phi[j]
    B = np.zeros((kd + 1, r + 1))  # rows: value, directions; columns: lags 0..r
    for h in range(n):
        acc = 0.0
        for j in range(h, r):
            acc += R[j] * psi[j - h]
        B[0, h] = sigma2 * acc
    piv = lu_factor(A)
    gamma = B[0]
    lu_solve(A, piv, gamma[:n])
    for h in range(n, r + 1):  # the recursion beyond p (only when the MA part is longer)
        acc = 0.0
        for j in range(h, r):
            acc += R[j] * psi[j - h]
        acc *= sigma2
        for j in range(p):
            acc += phi[j] * gamma[h - 1 - j]
        gamma[h] = acc
    for e in range(first, kd):
        dg = B[e + 1]
        for h in range(n):  # d rhs - dA gamma
            acc = 0.0
            acc2 = 0.0
            for j in range(h, r):
                acc += R[j] * psi[j - h]
                acc2 += dR[e, j] * psi[j - h] + R[j] * dpsi[e, j - h]
            acc = dsig[e] * acc + sigma2 * acc2
            for j in range(p):
                acc += dphi[e, j] * gamma[abs(h - 1 - j)]
            dg[h] = acc
        lu_solve(A, piv, dg[:n])
        for h in range(n, r + 1):
            acc = 0.0
            acc2 = 0.0
            for j in range(h, r):
                acc += R[j] * psi[j - h]
                acc2 += dR[e, j] * psi[j - h] + R[j] * dpsi[e, j - h]
            acc = dsig[e] * acc + sigma2 * acc2
            for j in range(p):
                acc += dphi[e, j] * gamma[h - 1 - j] + phi[j] * dg[h - 1 - j]
            dg[h] = acc
    c = np.zeros(r)
    dc = np.zeros((kd, r))
    for i in range(r):
        acc = 0.0
        for j in range(i, r):
            acc += phi[j] * gamma[j - i + 1] + sigma2 * R[j] * psi[j - i]
        c[i] = acc
        for e in range(first, kd):
            dg = B[e + 1]
            acc = 0.0
            for j in range(i, r):
                acc += dphi[e, j] * gamma[j - i + 1] + phi[j] * dg[j - i + 1] \
                    + dsig[e] * R[j] * psi[j - i] \
                    + sigma2 * (dR[e, j] * psi[j - i] + R[j] * dpsi[e, j - i])
            dc[e, i] = acc
    return c, dc


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def filter_differenced(w, X, params, dims, with_derivatives, scores):
    """log L of the differenced series ``w`` with differenced regressors ``X`` at
    (constrained) ``params`` and, ``with_derivatives``, its gradient in params (else an
    empty one); a non-empty ``scores`` (n, k) receives d log L_t / d params_e."""
    kx, p = dims[0], dims[1] + dims[5] * dims[3]
    n = w.shape[0]
    phi, R, dphi, dR, dsig = _harvey(params, dims, with_derivatives)
    keep_scores = scores.shape[0] > 0
    r, kd = phi.shape[0], dphi.shape[0]
    sigma2 = params[params.shape[0] - 1]
    c, dc = covariance_column(phi, R, sigma2, p, dphi, dR, dsig, kx)
    # F_1 = c_0, G_1 = T c, W_1 = G_1, M_1 = -1 / F_1 (and their derivatives)
    F = c[0]
    G = np.empty(r)
    for i in range(r):
        G[i] = phi[i] * c[0] + (c[i + 1] if i + 1 < r else 0.0)
    W = G.copy()
    M = -1.0 / F
    dF = np.zeros(kd)
    dG = np.zeros((kd, r))
    dM = np.zeros(kd)
    for e in range(kx, kd):
        dF[e] = dc[e, 0]
        for i in range(r):
            dG[e, i] = dphi[e, i] * c[0] + phi[i] * dc[e, 0] + (dc[e, i + 1] if i + 1 < r else 0.0)
        dM[e] = dF[e] / (F * F)
    dW = dG.copy()
    a = np.zeros(r)
    da = np.zeros((kd, r))
    K = np.empty(r)
    dK = np.zeros((kd, r))
    TW = np.empty(r)
    dTW = np.empty(r)
    dv = np.zeros(kd)
    grad = np.zeros(kd)
    llf = 0.0
    for t in range(n):
        mean = a[0]
        for j in range(kx):
            mean += X[t, j] * params[j]
        v = w[t] - mean
        llf += -0.5 * (LOG_2PI + np.log(F) + v * v / F)
        for i in range(r):
            K[i] = G[i] / F
        for e in range(kd):
            dv[e] = -da[e, 0] - (X[t, e] if e < kx else 0.0)
            s = -0.5 * (dF[e] / F + 2.0 * v * dv[e] / F - v * v * dF[e] / (F * F))
            grad[e] += s
            if keep_scores:
                scores[t, e] = s
            for i in range(r):
                dK[e, i] = dG[e, i] / F - G[i] * dF[e] / (F * F)
        # a <- T a + K v (and its derivatives): (T x)_i = phi_i x_0 + x_{i+1}
        for e in range(kd):
            a0, da0 = a[0], da[e, 0]
            for i in range(r):
                nxt = da[e, i + 1] if i + 1 < r else 0.0
                da[e, i] = dphi[e, i] * a0 + phi[i] * da0 + nxt + dK[e, i] * v + K[i] * dv[e]
        a0 = a[0]
        for i in range(r):
            a[i] = phi[i] * a0 + (a[i + 1] if i + 1 < r else 0.0) + K[i] * v
        if t == n - 1:
            break
        # the Chandrasekhar step (module docstring), derivatives first: they read the old values
        z = W[0]
        F_new = F + M * z * z
        for i in range(r):
            TW[i] = phi[i] * W[0] + (W[i + 1] if i + 1 < r else 0.0)
        for e in range(kx, kd):
            dz = dW[e, 0]
            dF_new = dF[e] + dM[e] * z * z + 2.0 * M * z * dz
            dMz = dM[e] * z + M * dz
            for i in range(r):
                dTW[i] = dphi[e, i] * W[0] + phi[i] * dz + (dW[e, i + 1] if i + 1 < r else 0.0)
            for i in range(r):
                dG[e, i] += dTW[i] * M * z + TW[i] * dMz
            for i in range(r):
                G_new = G[i] + TW[i] * M * z
                dK_new = dG[e, i] / F_new - G_new * dF_new / (F_new * F_new)
                dW[e, i] = dTW[i] - dK_new * z - (G_new / F_new) * dz
            dM[e] += (2.0 * M * dM[e] * z * z + 2.0 * M * M * z * dz) / F \
                - M * M * z * z * dF[e] / (F * F)
            dF[e] = dF_new
        for i in range(r):
            G[i] += TW[i] * M * z
        for i in range(r):
            W[i] = TW[i] - G[i] / F_new * z
        M += M * M * z * z / F
        F = F_new
    return llf, grad


@njit(cache=True, nogil=True)
def loglike_and_gradient(w, X, u, dims):
    """log L of the differenced series at unconstrained ``u`` and d log L / d u."""
    params = constrain(u, dims)
    llf, g = filter_differenced(w, X, params, dims, True, np.empty((0, 0)))
    J = constrain_jacobian(u, dims)
    k = u.shape[0]
    grad = np.zeros(k)  # J' g
    for i in range(k):
        for j in range(k):
            grad[i] += J[j, i] * g[j]
    return llf, grad


@njit(cache=True, nogil=True)
def information(w, X, u, dims):
    """The outer product of the per-observation scores in unconstrained coordinates."""
    params = constrain(u, dims)
    k = u.shape[0]
    scores = np.zeros((w.shape[0], k))
    filter_differenced(w, X, params, dims, True, scores)
    J = constrain_jacobian(u, dims)
    S = np.zeros(k)
    info = np.zeros((k, k))
    for t in range(scores.shape[0]):  # sum_t (s_t J)' (s_t J)
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += scores[t, j] * J[j, i]
            S[i] = acc
        for i in range(k):
            for j in range(k):
                info[i, j] += S[i] * S[j]
    return info


# --------------------------------------------------------------------------- many series
@njit(cache=True, nogil=True)
def _batch_item(i, w_flat, X_flat, offsets, U, dims, want_info, values, grads, info):
    w = w_flat[offsets[i]:offsets[i + 1]]
    X = X_flat[offsets[i]:offsets[i + 1]]
    if want_info:
        info[i] = information(w, X, U[i], dims)
    else:
        values[i], grads[i] = loglike_and_gradient(w, X, U[i], dims)


# Serial and parallel drivers are separate functions: Numba's cache keys on the function,
# so one function compiled both ways would mix up its cache entries.
@njit(cache=True, nogil=True)
def _batch_serial(w_flat, X_flat, offsets, U, dims, want_info):
    N, k = U.shape
    values, grads = np.empty(N), np.empty((N, k))
    info = np.empty((N if want_info else 0, k, k))
    for i in range(N):
        _batch_item(i, w_flat, X_flat, offsets, U, dims, want_info, values, grads, info)
    return values, grads, info


@njit(cache=True, nogil=True, parallel=True)
def _batch_parallel(w_flat, X_flat, offsets, U, dims, want_info):
    N, k = U.shape
    values, grads = np.empty(N), np.empty((N, k))
    info = np.empty((N if want_info else 0, k, k))
    for i in prange(N):
        _batch_item(i, w_flat, X_flat, offsets, U, dims, want_info, values, grads, info)
    return values, grads, info


# Threads pay off only for enough series; a small batch runs serially.
PARALLEL_MIN_SERIES = 64


def batch(w_flat, X_flat, offsets, U, dims, want_info=False):
    """log L and its gradient (or, with ``want_info``, the OPG information) for many
    differenced series at once, in parallel over series. Series i is
    ``w_flat[offsets[i]:offsets[i + 1]]`` (its differenced regressors the same rows of
    ``X_flat``) at unconstrained ``U[i]``."""
    fn = _batch_parallel if U.shape[0] >= PARALLEL_MIN_SERIES else _batch_serial
    return fn(w_flat, X_flat, offsets, U, dims, want_info)

"""The exact score of the ARIMA log-likelihood: forward-mode differentiation of the filter.

For each parameter theta_i (constrained, statsmodels order) the filter carries the
derivatives of its state alongside the state itself, in one pass. With ' = d/d theta_i::

    F' = Z P' Z',   v' = -(Z a' + c'),   K' = (T' P Z' + T P' Z') / F - K F' / F
    a_{t+1}' = T' a + T a' + K' v + K v'
    P_{t+1}' = T' P T' + T P T'' + T P' T' - (K' F K' + K F' K' + K F K'') + sigma2' R R'
               + sigma2 (R' R' + R R'')                (the transposes of the derivatives)
    log L_t' = -1/2 (F' / F + 2 v v' / F - v^2 F' / F^2)

T' has a single non-zero (an AR coefficient) and R' one (an MA coefficient), so each
derivative costs about one extra filter. The initial covariance's derivative solves the
same Lyapunov equation with the differentiated right-hand side. Per-observation scores
give the gradient (their sum) and the outer-product (OPG) information.
``statespace.score_obs`` computes the same scores by complex steps: an independent
derivation the tests compare with.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .statespace import LOG_2PI, STEADY_STATE_TOL, _matmul, _matmul_t, _sparse_rows, \
    constrain, split_params, system


@njit(cache=True, nogil=True)
def _lyapunov_many(A, Qs):
    """Solve X_i = A X_i A' + Qs[i] for every i by doubling (A stable, shared powers)."""
    k, r = Qs.shape[0], A.shape[0]
    X = Qs.copy()
    Aj = A.copy()
    tmp = np.empty((r, r))
    AX = np.empty((r, r))
    for _ in range(64):
        for i in range(k):
            _matmul(Aj, X[i], AX)
            _matmul_t(AX, Aj, tmp)
            X[i] += tmp
        _matmul(Aj, Aj, tmp)
        Aj[:, :] = tmp
        if np.max(np.abs(Aj)) < 1e-13:
            break
    return X


@njit(cache=True, nogil=True)
def loglike_scores(y, params, k_trend, p, d, q, kappa, scores):
    """log L at constrained ``params``; fills ``scores[t, i] = d log L_t / d params_i``."""
    n, k = y.shape[0], params.shape[0]
    const, ar, ma, sigma2 = split_params(params, k_trend, p, q)
    T, R, Z = system(ar, ma, d)
    m = T.shape[0]
    r = m - d
    ptr, cols, vals = _sparse_rows(T)
    i_sigma = k - 1

    # Initial state: a = 0, da = 0; P = diag(kappa, stationary), dP from the Lyapunov
    # equation differentiated: dX = A dX A' + dA X A' + A X dA' + d(sigma2 Rr Rr').
    A = T[d:, d:].copy()
    Rr = R[d:].copy()
    rhs = np.zeros((k + 1, r, r))
    rhs[k] = sigma2 * np.outer(Rr, Rr)
    X = _lyapunov_many(A, rhs[k:])[0]
    AX = np.empty((r, r))
    _matmul(A, X, AX)
    for j in range(p):  # dA = e_j e_0': dA X A' = e_j (A X)[:, 0]'
        i = k_trend + j
        for b in range(r):
            rhs[i, j, b] += AX[b, 0]
            rhs[i, b, j] += AX[b, 0]
    for j in range(q):  # dRr = e_{j+1}
        i = k_trend + p + j
        for b in range(r):
            rhs[i, j + 1, b] += sigma2 * Rr[b]
            rhs[i, b, j + 1] += sigma2 * Rr[b]
    rhs[i_sigma] = np.outer(Rr, Rr)
    dX = _lyapunov_many(A, rhs[:k])

    a = np.zeros(m)
    P = np.zeros((m, m))
    for i in range(d):
        P[i, i] = kappa
    P[d:, d:] = X
    da = np.zeros((k, m))
    dP = np.zeros((k, m, m))
    dP[:, d:, d:] = dX

    TP = np.empty((m, m))
    PZ = np.empty(m)
    K = np.empty(m)
    a_new = np.empty(m)
    dPZ = np.empty((k, m))
    dF = np.empty(k)
    dv = np.empty(k)
    dK = np.empty((k, m))
    dP_new = np.empty((m, m))
    da_new = np.empty((k, m))
    llf = 0.0
    converged = False
    cached = False  # F, K, dF, dK were computed from the converged P
    F = 1.0
    for t in range(n):
        if cached:  # F, K and their derivatives are fixed from here on
            return llf + _steady_tail(y, t, a, da, K, dK, F, dF, const, k_trend, p, d, Z, ptr,
                                      cols, vals, scores)
        yhat = const
        for s in range(m):
            yhat += Z[s] * a[s]
        if not cached:
            for s in range(m):
                acc = 0.0
                for j in range(m):
                    acc += P[s, j] * Z[j]
                PZ[s] = acc
            F = 0.0
            for s in range(m):
                F += Z[s] * PZ[s]
        v = y[t] - yhat
        for i in range(k):
            dy = 1.0 if (k_trend and i == 0) else 0.0
            for s in range(m):
                dy += Z[s] * da[i, s]
            dv[i] = -dy
        if not cached:  # in the steady state F, K and their derivatives stay as they are
            for i in range(k):
                f = 0.0
                for s in range(m):
                    acc = 0.0
                    for j in range(m):
                        acc += dP[i, s, j] * Z[j]
                    dPZ[i, s] = acc
                    f += Z[s] * acc
                dF[i] = f
        if t >= d:
            llf += -0.5 * (LOG_2PI + np.log(F) + v * v / F)
            for i in range(k):
                scores[t, i] = -0.5 * (dF[i] / F + 2 * v * dv[i] / F - v * v * dF[i] / (F * F))
        else:
            for i in range(k):
                scores[t, i] = 0.0

        # K = T PZ / F and its derivatives; then the state means.
        for s in range(m):
            acc, acc_a = 0.0, 0.0
            for nz in range(ptr[s], ptr[s + 1]):
                acc += vals[nz] * PZ[cols[nz]]
                acc_a += vals[nz] * a[cols[nz]]
            K[s] = acc / F
            a_new[s] = acc_a + K[s] * v
        if not cached:
            for i in range(k):
                for s in range(m):
                    acc = 0.0
                    for nz in range(ptr[s], ptr[s + 1]):
                        acc += vals[nz] * dPZ[i, cols[nz]]
                    dK[i, s] = acc
                if k_trend <= i < k_trend + p:  # dT = e_{d+j} e_d'
                    dK[i, d + i - k_trend] += PZ[d]
                for s in range(m):
                    dK[i, s] = dK[i, s] / F - K[s] * dF[i] / F
        for i in range(k):
            for s in range(m):
                acc = 0.0
                for nz in range(ptr[s], ptr[s + 1]):
                    acc += vals[nz] * da[i, cols[nz]]
                da_new[i, s] = acc + dK[i, s] * v + K[s] * dv[i]
            if k_trend <= i < k_trend + p:
                da_new[i, d + i - k_trend] += a[d]
        da[:, :] = da_new
        a[:] = a_new
        if converged:
            cached = True
            continue

        # P <- T P T' - K F K' + sigma2 R R', and the same for each derivative.
        for s in range(m):
            for j in range(m):
                acc = 0.0
                for nz in range(ptr[s], ptr[s + 1]):
                    acc += vals[nz] * P[cols[nz], j]
                TP[s, j] = acc
        change = 0.0
        for i in range(k):
            # T dP_i T'
            for s in range(m):
                for j in range(m):
                    acc = 0.0
                    for nz in range(ptr[s], ptr[s + 1]):
                        acc += vals[nz] * dP[i, cols[nz], j]
                    AX_sj = acc
                    dP_new[s, j] = AX_sj
            for s in range(m):
                for j in range(s, m):
                    acc = 0.0
                    for nz in range(ptr[j], ptr[j + 1]):
                        acc += dP_new[s, cols[nz]] * vals[nz]
                    acc -= dK[i, s] * F * K[j] + K[s] * dF[i] * K[j] + K[s] * F * dK[i, j]
                    if i == i_sigma:
                        acc += R[s] * R[j]
                    TP_term = 0.0
                    if k_trend <= i < k_trend + p:  # dT P T' + T P dT'
                        row = d + i - k_trend
                        if s == row:
                            TP_term += TP[j, d]
                        if j == row:
                            TP_term += TP[s, d]
                    if k_trend + p <= i < k_trend + p + q:  # sigma2 (dR R' + R dR')
                        e = d + 1 + i - k_trend - p
                        if s == e:
                            TP_term += sigma2 * R[j]
                        if j == e:
                            TP_term += sigma2 * R[s]
                    acc += TP_term
                    dP[i, s, j] = acc
                    dP[i, j, s] = acc
        scale = 0.0
        for s in range(m):
            for j in range(s, m):
                acc = sigma2 * R[s] * R[j] - K[s] * F * K[j]
                for nz in range(ptr[j], ptr[j + 1]):
                    acc += TP[s, cols[nz]] * vals[nz]
                change = max(change, abs(acc - P[s, j]))
                P[s, j] = acc
                P[j, s] = acc
            scale = max(scale, abs(P[s, s]))
        # The same test as the filter's (on P alone), so that these scores are exactly the
        # derivatives of statespace.loglike, steady state included.
        converged = t >= d and change <= STEADY_STATE_TOL * scale
    return llf


@njit(cache=True, nogil=True)
def _steady_tail(y, t0, a, da, K, dK, F, dF, const, k_trend, p, d, Z, ptr, cols, vals,
                 scores):
    """Steps t0.. once the filter is steady: only a_t and its derivatives still move,
    ``a_{t+1} = T a_t + K v_t`` and ``a'_{t+1} = T a'_t + T' a_t + K' v_t + K v'_t``. The
    derivatives are kept parameter-minor (m x k), so the inner loops run over parameters."""
    n, m, k = y.shape[0], a.shape[0], da.shape[0]
    da_t = np.ascontiguousarray(da.T)
    dK_t = np.ascontiguousarray(dK.T)
    new = np.empty_like(da_t)
    a = a.copy()
    a_new = np.empty(m)
    dv = np.empty(k)
    half_log = 0.5 * (LOG_2PI + np.log(F))
    llf = 0.0
    for t in range(t0, n):
        v = y[t] - const
        for s in range(m):
            v -= Z[s] * a[s]
        for i in range(k):
            dv[i] = -1.0 if (k_trend and i == 0) else 0.0
        for s in range(m):
            if Z[s] != 0:
                for i in range(k):
                    dv[i] -= Z[s] * da_t[s, i]
        llf -= half_log + 0.5 * v * v / F
        for i in range(k):
            scores[t, i] = -0.5 * (dF[i] / F + 2 * v * dv[i] / F - v * v * dF[i] / (F * F))
        for s in range(m):
            acc = K[s] * v
            for nz in range(ptr[s], ptr[s + 1]):
                acc += vals[nz] * a[cols[nz]]
            a_new[s] = acc
            for i in range(k):
                new[s, i] = dK_t[s, i] * v + K[s] * dv[i]
            for nz in range(ptr[s], ptr[s + 1]):
                c, w = cols[nz], vals[nz]
                for i in range(k):
                    new[s, i] += w * da_t[c, i]
        for j in range(p):  # dT = e_{d+j} e_d' for AR coefficient j
            new[d + j, k_trend + j] += a[d]
        da_t, new = new, da_t
        a, a_new = a_new, a
    return llf


@njit(cache=True, nogil=True)
def constrain_jacobian(u, k_trend, p, q):
    """d constrain(u) / d u (k x k) by complex steps through the transforms."""
    k = u.shape[0]
    J = np.zeros((k, k))
    h = 1e-30
    uc = u.astype(np.complex128)
    for i in range(k):
        uc[i] += 1j * h
        col = constrain(uc, k_trend, p, q)
        for j in range(k):
            J[j, i] = col[j].imag / h
        uc[i] -= 1j * h
    return J


@njit(cache=True, nogil=True)
def loglike_and_gradient(y, u, k_trend, p, d, q, kappa, scores):
    """log L at unconstrained u and its exact gradient d log L / d u."""
    params = constrain(u, k_trend, p, q)
    llf = loglike_scores(y, params, k_trend, p, d, q, kappa, scores)
    g_params = scores.sum(axis=0)
    return llf, constrain_jacobian(u, k_trend, p, q).T @ g_params


@njit(cache=True, nogil=True)
def _series_information(y, u, kappa, k_trend, p, d, q):
    scores = np.empty((y.shape[0], u.shape[0]))
    loglike_scores(y, constrain(u, k_trend, p, q), k_trend, p, d, q, kappa, scores)
    S = scores @ constrain_jacobian(u, k_trend, p, q)
    return S.T @ S


@njit(cache=True, nogil=True)
def _series_loglike_gradient(y, u, kappa, k_trend, p, d, q):
    scores = np.empty((y.shape[0], u.shape[0]))
    return loglike_and_gradient(y, u, k_trend, p, d, q, kappa, scores)


@njit(cache=True, nogil=True)
def _batch_item(i, y_flat, offsets, U, kappas, k_trend, p, d, q, information, values, grads,
                info):
    y = y_flat[offsets[i]:offsets[i + 1]]
    if information:
        info[i] = _series_information(y, U[i], kappas[i], k_trend, p, d, q)
    else:
        values[i], grads[i] = _series_loglike_gradient(y, U[i], kappas[i], k_trend, p, d, q)


# Serial and parallel drivers are separate functions: Numba's cache keys on the function,
# so one function compiled both ways would mix up its cache entries.
@njit(cache=True, nogil=True)
def _batch_serial(y_flat, offsets, U, kappas, k_trend, p, d, q, information):
    N, k = U.shape
    values, grads, info = np.empty(N), np.empty((N, k)), np.empty((N, k, k))
    for i in range(N):
        _batch_item(i, y_flat, offsets, U, kappas, k_trend, p, d, q, information, values, grads,
                    info)
    return values, grads, info


@njit(cache=True, nogil=True, parallel=True)
def _batch_parallel(y_flat, offsets, U, kappas, k_trend, p, d, q, information):
    N, k = U.shape
    values, grads, info = np.empty(N), np.empty((N, k)), np.empty((N, k, k))
    for i in prange(N):
        _batch_item(i, y_flat, offsets, U, kappas, k_trend, p, d, q, information, values, grads,
                    info)
    return values, grads, info


# Threads pay off only for enough series; a small batch (a walk-forward) runs serially.
PARALLEL_MIN_SERIES = 64


def _batch(y_flat, offsets, U, kappas, k_trend, p, d, q, information):
    run = _batch_parallel if U.shape[0] >= PARALLEL_MIN_SERIES else _batch_serial
    return run(y_flat, offsets, U, kappas, k_trend, p, d, q, information)


def batch_loglike_gradient(y_flat, offsets, U, kappas, k_trend, p, d, q):
    """log L and its gradient for many series at once (in parallel over series).

    Series i is ``y_flat[offsets[i]:offsets[i + 1]]`` at unconstrained ``U[i]``.
    """
    values, grads, _ = _batch(y_flat, offsets, U, kappas, k_trend, p, d, q, False)
    return values, grads


def batch_information(y_flat, offsets, U, kappas, k_trend, p, d, q):
    """Per series, the outer product of the scores in unconstrained coordinates (k x k):
    the OPG estimate of the information, used to precondition the joint optimisation."""
    return _batch(y_flat, offsets, U, kappas, k_trend, p, d, q, True)[2]

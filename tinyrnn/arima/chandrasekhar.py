"""The optimiser's objective: statsmodels' exact log-likelihood and its exact score, by
Chandrasekhar recursions on the differenced series -- O(k r) work per observation where
the state-space filter (``statespace.kalman``) takes O(k m^2).

The same number, another route. statsmodels' filter (and ``statespace``) puts the
``n_diff = d + D s`` differencing states in the state, starts them from N(0, kappa I)
(kappa = 1e6, on the optimiser's scaled series 1e6 / scale^2) and leaves the first n_diff
observations out of log L: its log L is ``log p(y_{n_diff+1:n} | z)``, z = y_{1:n_diff}.
Split y into z and the differenced series ``w = (1 - L)^d (1 - L^s)^D (y - X beta)`` (a
unit-triangular change of variables), and that is::

    log p(w) + log p(z | w) - log p(z)

* ``log p(w)``: w is the stationary ARMA x_{n_diff+1:n}, whose log L the recursions below
  give (kappa -> infinity leaves only this term: Ansley and Kohn, 1985).
* The first observations are ``z = H delta + C x_{1:n_diff} + X beta``, delta the initial
  differencing states (H, C from the system matrices: ``diffuse_loadings``). So z given w
  is Gaussian with mean ``C E[x_{1:nd} | w]`` and covariance ``C Cov(x_{1:nd} | w) C' +
  kappa H H'``, z alone has ``C Gamma C' + kappa H H'`` (Gamma: the ARMA's
  autocovariances). ``E`` and ``Cov`` given w are a backcast: a stationary Gaussian
  process reads the same backwards, so they are the forecast of the *reversed* w, which
  the recursions run on (its log L is the same). ``diffuse_correction`` forms the two
  n_diff-dimensional densities. Nothing is approximated: the result equals the filter's
  log L to rounding (1e-12 relative in the tests, kappa = 1 included), with or without
  regressors; only statsmodels' steady-state switch (changes of P below 3e-10, ~1e-10 of
  log L) is not copied -- the fit reports log L from ``statespace`` anyway.

The Chandrasekhar recursions. The ARMA block starts from its stationary covariance
P_1 = P_0, which solves P_0 = T P_0 T' + sigma2 R R', so P_2 - P_1 = -G_1 G_1' / F_1 has rank
one. With ``dP_t = P_{t+1} - P_t = M_t W_t W_t'`` (scalar M_t), ``G_t = T P_t Z'`` and
``F_t = Z P_t Z'``, the filter needs only (Morf, Sidhu and Kailath, 1974)::

    z = Z W_t,   F_{t+1} = F_t + M_t z^2,   G_{t+1} = G_t + M_t z T W_t,
    K_{t+1} = G_{t+1} / F_{t+1},   W_{t+1} = T W_t - K_{t+1} z,
    M_{t+1} = M_t + M_t^2 z^2 / F_t,          W_1 = G_1,  M_1 = -1 / F_1,

(expand dP_{t+1} = T dP_t T' - G_{t+1} G_{t+1}' / F_{t+1} + G_t G_t' / F_t), plus the mean
``a_{t+1} = T a_t + K_t v_t``. With T the companion matrix of the reduced AR polynomial and
Z = e_1, every update is O(r) for r ARMA states, and its forward-mode derivative in each of
the k parameters O(r) too. The forecast covariance the backcast needs is
``P_{n+1} = P_1 + sum_t M_t W_t W_t'`` seen through ``e_1' T^h`` (h < n_diff).

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
    reduced_arma, system

# Compiled in a background process on the first run (see tinyrnn/jit.py).
njit = partial(_tiered_njit, group="arima")

# The steady-state test's relative size: a rounding unit of F.
STEADY = 2.0 ** -52


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
def covariance_column(phi, R, sigma2, p, dphi, dR, dsig, first, lags):
    """P_0[:, 0] of the stationary ARMA state (module docstring) and its derivatives (kd, r)
    for directions ``first`` .. kd - 1 (the others, regression coefficients, leave it
    unchanged: their rows stay 0), then the autocovariances gamma(0 .. L - 1) and their
    derivatives (kd + 1, L) (row 0: gamma), L = max(r + 1, ``lags``). ``p``: the AR order
    (phi's non-zero length)."""
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
    L = max(r + 1, lags)
    B = np.zeros((kd + 1, L))  # rows: value, directions; columns: lags 0..L-1
    for h in range(n):
        acc = 0.0
        for j in range(h, r):
            acc += R[j] * psi[j - h]
        B[0, h] = sigma2 * acc
    piv = lu_factor(A)
    gamma = B[0]
    lu_solve(A, piv, gamma[:n])
    for h in range(n, L):  # the recursion beyond p
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
        for h in range(n, L):
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
    return c, dc, B


@njit(cache=True, nogil=True, inline="always")
def _impulse(phi, lags, v, out):
    """out[h] = e_1' T^h v (h = 0 .. len(out) - 1) for the companion T: the recursion
    ``out[h] = sum_j phi_j out[h - 1 - j] + v_h`` (v_h = 0 past the state), over the
    AR polynomial's non-zero ``lags`` only (a seasonal one has few)."""
    r = v.shape[0]
    for h in range(out.shape[0]):
        acc = v[h] if h < r else 0.0
        for j in lags:
            if j >= h:
                break
            acc += phi[j] * out[h - 1 - j]
        out[h] = acc


@njit(cache=True, nogil=True, inline="always")
def _impulse_derivative(phi, dphi_e, lags, out, dv, dout):
    """The derivative of ``_impulse``'s out, given that of v (``dv``) and of phi."""
    r = dv.shape[0]
    for h in range(dout.shape[0]):
        acc = dv[h] if h < r else 0.0
        for j in lags:
            if j >= h:
                break
            acc += dphi_e[j] * out[h - 1 - j] + phi[j] * dout[h - 1 - j]
        dout[h] = acc


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def filter_differenced(w, X, params, dims, with_derivatives, scores, n_ahead):
    """log L of the differenced series ``w`` with differenced regressors ``X`` at
    (constrained) ``params`` and, ``with_derivatives``, its gradient in params (else an
    empty one); a non-empty ``scores`` (n, k) receives d log L_t / d params_e.

    With ``n_ahead`` > 0 also what the forecast of the next ``n_ahead`` values takes: their
    means ``e_1' T^h a_{n+1}``; the terms of the reduction of their covariance below the
    unconditional one, ``sum_t M_t B_t B_t'`` with ``B_t[h] = e_1' T^h W_t``
    (P_{n+1} = P_1 + sum_t M_t W_t W_t'), as B_t (n, n_ahead) and M_t (n,); the
    autocovariances (``covariance_column``); and the derivatives of all of them."""
    kx, p = dims[0], dims[1] + dims[5] * dims[3]
    n = w.shape[0]
    phi, R, dphi, dR, dsig = _harvey(params, dims, with_derivatives)
    keep_scores = scores.shape[0] > 0
    r, kd = phi.shape[0], dphi.shape[0]
    sigma2 = params[params.shape[0] - 1]
    c, dc, gammas = covariance_column(phi, R, sigma2, p, dphi, dR, dsig, kx, n_ahead)
    # F_1 = c_0, G_1 = T c, W_1 = G_1, M_1 = -1 / F_1 (and their derivatives)
    F = c[0]
    G = np.empty(r)
    for i in range(r):
        G[i] = phi[i] * c[0] + (c[i + 1] if i + 1 < r else 0.0)
    # W, dW, a, da carry one trailing zero: (T x)_i = phi_i x_0 + x_{i+1} needs no branch
    W = np.zeros(r + 1)
    W[:r] = G
    M = -1.0 / F
    dF = np.zeros(kd)
    dG = np.zeros((kd, r))
    dM = np.zeros(kd)
    for e in range(kx, kd):
        dF[e] = dc[e, 0]
        for i in range(r):
            dG[e, i] = dphi[e, i] * c[0] + phi[i] * dc[e, 0] + (dc[e, i + 1] if i + 1 < r else 0.0)
        dM[e] = dF[e] / (F * F)
    dW = np.zeros((kd, r + 1))
    dW[:, :r] = dG
    a = np.zeros(r + 1)
    da = np.zeros((kd, r + 1))
    K = np.empty(r)
    dK = np.zeros((kd, r))
    TW = np.empty(r)
    dTW = np.empty(r)
    dv = np.zeros(kd)
    grad = np.zeros(kd)
    # the forecast's covariance reduction, term by term, and its derivatives; the lags
    # where phi or a derivative of it is non-zero
    n_lags = 0
    lags = np.empty(p, dtype=np.int64)
    for j in range(p):
        nonzero = phi[j] != 0.0
        for e in range(kd):
            nonzero = nonzero or dphi[e, j] != 0.0
        if nonzero:
            lags[n_lags] = j
            n_lags += 1
    lags = lags[:n_lags]
    Bs = np.zeros((n if n_ahead else 0, n_ahead))
    dBs = np.zeros((n if n_ahead else 0, kd, n_ahead))
    Ms = np.zeros(n if n_ahead else 0)
    dMs = np.zeros((n if n_ahead else 0, kd))
    llf = 0.0
    steady = False
    n_terms = n  # how many terms of the backcast's covariance sum are kept
    for t in range(n):
        mean = a[0]
        for j in range(kx):
            mean += X[t, j] * params[j]
        v = w[t] - mean
        llf += -0.5 * (LOG_2PI + np.log(F) + v * v / F)
        if not steady:
            for i in range(r):
                K[i] = G[i] / F
            for e in range(kx, kd):
                for i in range(r):
                    dK[e, i] = dG[e, i] / F - G[i] * dF[e] / (F * F)
        for e in range(kx):
            dv[e] = -da[e, 0] - X[t, e]
        for e in range(kx, kd):
            dv[e] = -da[e, 0]
        for e in range(kd):
            s = -0.5 * (dF[e] / F + 2.0 * v * dv[e] / F - v * v * dF[e] / (F * F))
            grad[e] += s
            if keep_scores:
                scores[t, e] = s
        # a <- T a + K v (and its derivatives): (T x)_i = phi_i x_0 + x_{i+1}
        for e in range(kd):
            a0, da0 = a[0], da[e, 0]
            for i in range(r):
                da[e, i] = dphi[e, i] * a0 + phi[i] * da0 + da[e, i + 1] + dK[e, i] * v \
                    + K[i] * dv[e]
        a0 = a[0]
        for i in range(r):
            a[i] = phi[i] * a0 + a[i + 1] + K[i] * v
        if n_ahead and not steady:  # P_{t+1} - P_t = M W W' through e_1' T^h, for the end
            _impulse(phi, lags, W, Bs[t])
            Ms[t] = M
            for e in range(kx, kd):
                dMs[t, e] = dM[e]
                _impulse_derivative(phi, dphi[e], lags, Bs[t], dW[e], dBs[t, e])
        if t == n - 1 or steady:
            continue
        # Steady state: once a step would change F (and each dF) by less than a rounding
        # unit, P has converged (a pure AR after p steps, exactly; an MA geometrically):
        # F, K and their derivatives stay as they are, and W, M are no longer needed.
        wmax = 0.0
        for i in range(r):
            wmax = max(wmax, abs(W[i]))
        steady = abs(M) * wmax * wmax <= STEADY * F
        for e in range(kx, kd):
            dwmax = 0.0
            for i in range(r):
                dwmax = max(dwmax, abs(dW[e, i]))
            steady = steady and (abs(dM[e]) * wmax + 2.0 * abs(M) * dwmax) * wmax \
                <= STEADY * (F + abs(dF[e]))
        if steady:
            if n_ahead:
                n_terms = t + 1  # the later terms M_t B_t B_t' are below rounding too
            continue
        # the Chandrasekhar step (module docstring), derivatives first: they read the old values
        z = W[0]
        F_new = F + M * z * z
        for i in range(r):
            TW[i] = phi[i] * W[0] + W[i + 1]
        for e in range(kx, kd):
            dz = dW[e, 0]
            dF_new = dF[e] + dM[e] * z * z + 2.0 * M * z * dz
            dMz = dM[e] * z + M * dz
            for i in range(r):
                dTW[i] = dphi[e, i] * W[0] + phi[i] * dz + dW[e, i + 1]
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
    mu = np.zeros(n_ahead)
    dmu = np.zeros((kd, n_ahead))
    if n_ahead:
        _impulse(phi, lags, a, mu)
        for e in range(kd):
            _impulse_derivative(phi, dphi[e], lags, mu, da[e], dmu[e])
    return llf, grad, mu, dmu, Bs[:n_terms], dBs[:n_terms], Ms[:n_terms], dMs[:n_terms], gammas


@njit(cache=True, nogil=True)
def diffuse_loadings(dims):
    """How the first nd = d + D s observations load on the initial differencing states
    (H, nd x nd: row t is Z_d T_d^t) and on the ARMA values x_1 .. x_nd (C, unit lower
    triangular: x_j enters the differencing states through T's ARMA column); returns
    (H^-1, H^-1 C)."""
    s, d, D = dims[5], dims[6], dims[7]
    nd = d + D * s
    if nd == 0:
        return np.zeros((0, 0)), np.zeros((0, 0))
    T, _, Z = system(np.zeros(1), np.zeros(0), dims)
    H = np.zeros((nd, nd))
    Td = np.ascontiguousarray(T[:nd, :nd])
    h = Z[:nd].copy()
    for t in range(nd):
        H[t] = h
        h = h @ Td
    C = np.eye(nd)
    col = T[:nd, nd]
    for t in range(nd):
        for j in range(t):
            acc = 0.0
            for i in range(nd):
                acc += H[t - 1 - j, i] * col[i]
            C[t, j] = acc
    H_inv = np.linalg.inv(H)
    return H_inv, H_inv @ C


@njit(cache=True, nogil=True)
def _spd_inverse(Q):
    """(Q^-1, log|Q|) of a small symmetric positive definite Q by Cholesky, Q = L L'
    (plain loops: for these n_diff x n_diff matrices a LAPACK call costs more)."""
    n = Q.shape[0]
    L = np.zeros((n, n))
    logdet = 0.0
    for j in range(n):
        acc = Q[j, j]
        for c in range(j):
            acc -= L[j, c] * L[j, c]
        L[j, j] = np.sqrt(acc)
        logdet += 2.0 * np.log(L[j, j])
        for i in range(j + 1, n):
            acc = Q[i, j]
            for c in range(j):
                acc -= L[i, c] * L[j, c]
            L[i, j] = acc / L[j, j]
    Li = np.zeros((n, n))  # L^-1, lower triangular
    for j in range(n):
        Li[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, n):
            acc = 0.0
            for c in range(j, i):
                acc -= L[i, c] * Li[c, j]
            Li[i, j] = acc / L[i, i]
    inv = np.zeros((n, n))  # L^-T L^-1
    for i in range(n):
        for j in range(i, n):
            acc = 0.0
            for c in range(j, n):
                acc += Li[c, i] * Li[c, j]
            inv[i, j] = acc
            inv[j, i] = acc
    return inv, logdet


@njit(cache=True, nogil=True)
def diffuse_correction(z, X_head, params, dims, kappa, H_inv, G, mu_rev, dmu_rev, Bs, dBs, Ms,
                       dMs, gammas, with_derivatives):
    """log p(z | w) - log p(z) for the first nd observations z (regressors ``X_head``):
    what statsmodels' finite kappa adds to the differenced series' log L (module
    docstring), and its gradient in the parameters.

    z = H delta + C x_{1:nd} + X beta with delta ~ N(0, kappa I); in H^-1 z that is
    kappa I + G Cov(x) G' (G = H^-1 C): x_{1:nd} given w (its backcast, the forecast of the
    reversed series, from ``filter_differenced``'s pieces) against x_{1:nd} alone. With
    Q = kappa I + G S G', ``d (log|Q| + e' Q^-1 e) = <G' Q^-1 G - g g', dS> - 2 g' d(G mu)``
    (g = G' Q^-1 e), so the derivatives of S enter only through one inner product per term
    of its sum."""
    nd, kx = z.shape[0], dims[0]
    kd = dmu_rev.shape[0]
    zt = z.copy()
    for t in range(nd):
        for j in range(kx):
            zt[t] -= X_head[t, j] * params[j]
    zt = H_inv @ zt
    S_rev = np.zeros((nd, nd))
    for t in range(Ms.shape[0]):
        for h in range(nd):
            f = Ms[t] * Bs[t, h]
            for g in range(h, nd):
                S_rev[h, g] += f * Bs[t, g]
    mu = np.empty(nd)
    Sx = np.empty((nd, nd))
    Gx = np.empty((nd, nd))
    for i in range(nd):
        mu[i] = mu_rev[nd - 1 - i]  # the backcast runs backwards in time
        for j in range(nd):
            h, g = min(nd - 1 - i, nd - 1 - j), max(nd - 1 - i, nd - 1 - j)
            Gx[i, j] = gammas[0, abs(i - j)]
            Sx[i, j] = Gx[i, j] + S_rev[h, g]
    Q1 = G @ Sx @ G.T
    Q0 = G @ Gx @ G.T
    for i in range(nd):
        Q1[i, i] += kappa
        Q0[i, i] += kappa
    inv1, ld1 = _spd_inverse(Q1)
    inv0, ld0 = _spd_inverse(Q0)
    e1 = zt - G @ mu
    f1, f0 = inv1 @ e1, inv0 @ zt
    corr = -0.5 * (ld1 - ld0 + e1 @ f1 - zt @ f0)
    grad = np.zeros(kd)
    if not with_derivatives:
        return corr, grad
    g1, g0 = G.T @ f1, G.T @ f0
    O1 = G.T @ inv1 @ G  # tr(Q^-1 G dS G') = <G' Q^-1 G, dS>
    O0 = G.T @ inv0 @ G
    for i in range(nd):
        for j in range(nd):
            O1[i, j] -= g1[i] * g1[j]
            O0[i, j] -= g0[i] * g0[j]
    O_rev = np.empty((nd, nd))  # O1 in the reversed order of S_rev's terms
    for h in range(nd):
        for g in range(nd):
            O_rev[h, g] = O1[nd - 1 - h, nd - 1 - g]
    # <O_rev, d sum_t M_t B_t B_t'> = sum_t dM_t B_t' O B_t + 2 M_t dB_t' O B_t
    y = np.empty(nd)
    for t in range(Ms.shape[0]):
        for h in range(nd):
            acc = 0.0
            for g in range(nd):
                acc += O_rev[h, g] * Bs[t, g]
            y[h] = acc
        quad = 0.0
        for h in range(nd):
            quad += Bs[t, h] * y[h]
        for e in range(kx, kd):
            acc = 0.0
            for h in range(nd):
                acc += dBs[t, e, h] * y[h]
            grad[e] += dMs[t, e] * quad + 2.0 * Ms[t] * acc
    dzt = np.zeros(nd)
    dmu = np.empty(nd)
    for e in range(kd):
        acc = grad[e]  # the S-sum part, gathered above
        if e < kx:  # d z~ = -H^-1 X[:, e]; covariances do not move
            for t in range(nd):
                dzt[t] = -X_head[t, e]
            dzt = H_inv @ dzt
            acc += 2.0 * (f1 @ dzt) - 2.0 * (f0 @ dzt)
        for i in range(nd):
            dmu[i] = dmu_rev[e, nd - 1 - i]
        acc -= 2.0 * (g1 @ dmu)
        if e >= kx:
            for i in range(nd):
                for j in range(nd):
                    dGam = gammas[e + 1, abs(i - j)]
                    acc += O1[i, j] * dGam - O0[i, j] * dGam
        grad[e] = -0.5 * acc
    return corr, grad


@njit(cache=True, nogil=True)
def loglike_exact(w_rev, X_rev, z, X_head, params, dims, kappa, H_inv, G, with_derivatives):
    """statsmodels' log L (kappa = ``kappa``, the first nd observations left out) and its
    gradient in ``params``: the reversed differenced series' log L (the same as the
    series', a stationary Gaussian process reads the same backwards) plus
    ``diffuse_correction``, whose backcast the reversed pass supplies."""
    nd = z.shape[0]
    if not params[params.shape[0] - 1] > 0.0:  # sigma2 = u^2 reached 0: no likelihood
        return -np.inf, np.zeros(params.shape[0] if with_derivatives else 0)
    llf, grad, mu, dmu, Bs, dBs, Ms, dMs, gammas = filter_differenced(
        w_rev, X_rev, params, dims, with_derivatives, np.empty((0, 0)), nd)
    if nd == 0:
        return llf, grad
    corr, dcorr = diffuse_correction(z, X_head, params, dims, kappa, H_inv, G, mu, dmu, Bs,
                                     dBs, Ms, dMs, gammas, with_derivatives)
    return llf + corr, grad + dcorr


@njit(cache=True, nogil=True)
def loglike_and_gradient(w_rev, X_rev, z, X_head, u, dims, kappa, H_inv, G):
    """statsmodels' log L at unconstrained ``u`` and d log L / d u (``loglike_exact``)."""
    params = constrain(u, dims)
    llf, g = loglike_exact(w_rev, X_rev, z, X_head, params, dims, kappa, H_inv, G, True)
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
    if params[k - 1] > 0.0:  # (else no likelihood: no information either)
        filter_differenced(w, X, params, dims, True, scores, 0)
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
def _batch_item(i, w_flat, X_flat, offsets, Z_head, X_head, U, dims, kappas, H_inv, G,
                want_info, values, grads, info):
    w = w_flat[offsets[i]:offsets[i + 1]]
    X = X_flat[offsets[i]:offsets[i + 1]]
    if want_info:
        info[i] = information(w, X, U[i], dims)
    else:
        values[i], grads[i] = loglike_and_gradient(w, X, Z_head[i], X_head[i], U[i], dims,
                                                   kappas[i], H_inv, G)


# Serial and parallel drivers are separate functions: Numba's cache keys on the function,
# so one function compiled both ways would mix up its cache entries.
@njit(cache=True, nogil=True)
def _batch_serial(w_flat, X_flat, offsets, Z_head, X_head, U, dims, kappas, H_inv, G,
                  want_info):
    N, k = U.shape
    values, grads = np.empty(N), np.empty((N, k))
    info = np.empty((N if want_info else 0, k, k))
    for i in range(N):
        _batch_item(i, w_flat, X_flat, offsets, Z_head, X_head, U, dims, kappas, H_inv, G,
                    want_info, values, grads, info)
    return values, grads, info


@njit(cache=True, nogil=True, parallel=True)
def _batch_parallel(w_flat, X_flat, offsets, Z_head, X_head, U, dims, kappas, H_inv, G,
                    want_info):
    N, k = U.shape
    values, grads = np.empty(N), np.empty((N, k))
    info = np.empty((N if want_info else 0, k, k))
    for i in prange(N):
        _batch_item(i, w_flat, X_flat, offsets, Z_head, X_head, U, dims, kappas, H_inv, G,
                    want_info, values, grads, info)
    return values, grads, info


# Threads pay off only for enough series; a small batch (a walk-forward) runs serially.
PARALLEL_MIN_SERIES = 64


def batch(data, U, want_info=False):
    """statsmodels' log L and its gradient (or, with ``want_info``, the OPG information of
    the differenced series) for many series of one specification at once, in parallel
    over series, at unconstrained ``U[i]``. ``data``: ``stack``'s."""
    fn = _batch_parallel if U.shape[0] >= PARALLEL_MIN_SERIES else _batch_serial
    return fn(*data[:5], U, *data[5:], want_info)


def stack(items):
    """Many series' ``ARIMA.objective_data`` tuples as ``batch`` takes them: the reversed
    differenced series (and regressors) end to end with their offsets, the first n_diff
    observations (and regressors) one row a series, the dims, kappas and the loadings."""
    w_flat = np.concatenate([it[0] for it in items])
    X_flat = np.ascontiguousarray(np.concatenate([it[1] for it in items]))
    offsets = np.r_[0, np.cumsum([len(it[0]) for it in items])].astype(np.int64)
    Z_head = np.ascontiguousarray(np.array([it[2] for it in items]))
    X_head = np.ascontiguousarray(np.array([it[3] for it in items]))
    kappas = np.array([it[5] for it in items])
    first = items[0]
    return w_flat, X_flat, offsets, Z_head, X_head, first[4], kappas, first[6], first[7]

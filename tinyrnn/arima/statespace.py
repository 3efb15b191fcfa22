"""Seasonal ARIMA with regressors in state-space form, its exact likelihood and score.

The representation is statsmodels' SARIMAX one (``simple_differencing=False``, regression
with ARIMA errors as ``statsmodels.tsa.arima.model.ARIMA`` sets it up), so that
log-likelihoods agree to rounding::

    y_t = x_t' beta + Z alpha_t                  (trend columns are regressors too)
    alpha_{t+1} = T alpha_t + R eta_t,   eta_t ~ N(0, sigma2)

The state holds ``n_diff = d + D s`` differencing states (d levels, then D blocks of the
last s seasonal levels) and ``r = max(p + sP, q + sQ + 1)`` ARMA states. The ARMA block is
a companion matrix of the *reduced* AR polynomial ``(1 - phi(L))(1 - Phi(L^s))`` with the
reduced MA polynomial ``(1 + theta(L))(1 + Theta(L^s))`` in R. The ARMA block starts from
its stationary distribution, the differencing states from an approximate diffuse prior
(variance ``kappa`` = 1e6), and the first ``n_diff`` observations are left out of log L.

Steady state: like statsmodels' filter, the filter stops updating P once a step changes
it by a squared Frobenius norm below ``tolerance`` (1e-19), and from then on reuses that
step's F_t, K_t and P_t. With regressors too: statsmodels' filter does not switch there
(their intercept is time-varying), but P, F and K do not depend on the intercept, and what
the switch leaves out -- changes of P below 3e-10 -- moves log L by ~1e-10 (relative), far
inside the 1e-7 to which the two agree; it saves most of the work of a long seasonal series.

``kalman`` is the one filter: it optionally carries the forward-mode derivatives of its
state with respect to every parameter (the exact score), in the same pass. With
' = d/d theta_i, and T', R' non-zero only in the ARMA block::

    v' = -(x_t' beta' + Z a'),   F' = Z P' Z',   K' = (T P' Z' + T' P Z') / F - K F' / F
    a_{t+1}' = T a' + T' a + K' v + K v'
    P_{t+1}' = T P' T' + T' P T' + T P T'' - (K' F K' + K F' K' + K F K'')
               + sigma2' R R' + sigma2 (R' R' + R R'')      ('' : the transposed derivative)
    log L_t' = -1/2 (F' / F + 2 v v' / F - v^2 F' / F^2)
"""
from __future__ import annotations

from functools import partial

import numpy as np

from ..jit import njit as _tiered_njit
from .transforms import constrain_stationary

# Compiled in a background process on the first run (see tinyrnn/jit.py); plain Python
# till then.
njit = partial(_tiered_njit, group="arima")

LOG_2PI = float(np.log(2 * np.pi))
KAPPA = 1e6        # statsmodels' approximate-diffuse variance
TOLERANCE = 1e-19  # statsmodels' steady-state tolerance on the squared change of P


# --------------------------------------------------------------------------- parameters
@njit(cache=True, nogil=True)
def constrain(u, dims):
    """Unconstrained optimiser vector -> parameters (statsmodels order): regressors as
    they are, stationary AR and invertible MA polynomials, sigma2 = u^2."""
    k_regr, p, q, P, Q = dims[0], dims[1], dims[2], dims[3], dims[4]
    out = u.copy()
    i = k_regr
    for n, sign in ((p, 1.0), (q, -1.0), (P, 1.0), (Q, -1.0)):
        if n:
            c = constrain_stationary(u[i:i + n].copy())
            for j in range(n):
                out[i + j] = sign * c[j]
        i += n
    out[i] = u[i] * u[i]
    return out


@njit(cache=True, nogil=True)
def constrain_jacobian(u, dims):
    """d constrain(u) / d u (k x k) by complex steps through the transforms."""
    k = u.shape[0]
    J = np.zeros((k, k))
    h = 1e-30
    uc = u.astype(np.complex128)
    for i in range(k):
        uc[i] += 1j * h
        col = constrain(uc, dims)
        for j in range(k):
            J[j, i] = col[j].imag / h
        uc[i] -= 1j * h
    return J


@njit(cache=True, nogil=True)
def reduced_arma(params, dims):
    """The reduced AR and MA coefficients and their Jacobians in the parameters.

    phi_red (p + sP): ``1 - phi_red(L) = (1 - phi(L))(1 - Phi(L^s))``;
    theta_red (q + sQ): ``1 + theta_red(L) = (1 + theta(L))(1 + Theta(L^s))``;
    dphi (k, p + sP) and dtheta (k, q + sQ): their derivatives in each parameter."""
    k_regr, p, q, P, Q, s = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]
    k = params.shape[0]
    i_ar, i_ma = k_regr, k_regr + p
    i_sar, i_sma = k_regr + p + q, k_regr + p + q + P
    nar, nma = p + s * P, q + s * Q
    # lag polynomials as coefficient arrays (index = power of L)
    a = np.zeros(p + 1)
    a[0] = 1.0
    A = np.zeros(s * P + 1)
    A[0] = 1.0
    b = np.zeros(q + 1)
    b[0] = 1.0
    B = np.zeros(s * Q + 1)
    B[0] = 1.0
    for j in range(p):
        a[j + 1] = -params[i_ar + j]
    for j in range(P):
        A[s * (j + 1)] = -params[i_sar + j]
    for j in range(q):
        b[j + 1] = params[i_ma + j]
    for j in range(Q):
        B[s * (j + 1)] = params[i_sma + j]
    phi = np.zeros(nar)
    theta = np.zeros(nma)
    for i in range(p + 1):
        for j in range(s * P + 1):
            if i + j > 0:
                phi[i + j - 1] -= a[i] * A[j]
    for i in range(q + 1):
        for j in range(s * Q + 1):
            if i + j > 0:
                theta[i + j - 1] += b[i] * B[j]
    dphi = np.zeros((k, nar))
    dtheta = np.zeros((k, nma))
    for j in range(p):  # d/d phi_j of -(a A): L^{j+1} A(L)
        for l in range(s * P + 1):
            dphi[i_ar + j, j + l] += A[l]
    for j in range(P):  # L^{s(j+1)} a(L)
        for l in range(p + 1):
            dphi[i_sar + j, s * (j + 1) + l - 1] += a[l]
    for j in range(q):  # L^{j+1} B(L)
        for l in range(s * Q + 1):
            dtheta[i_ma + j, j + l] += B[l]
    for j in range(Q):  # L^{s(j+1)} b(L)
        for l in range(q + 1):
            dtheta[i_sma + j, s * (j + 1) + l - 1] += b[l]
    return phi, theta, dphi, dtheta


@njit(cache=True, nogil=True)
def system(phi, theta, dims):
    """(T, R, Z) for reduced AR ``phi`` and MA ``theta`` coefficients (statsmodels'
    SARIMAX layout: d levels, D seasonal blocks of s, then the ARMA companion block)."""
    s, d, D = dims[5], dims[6], dims[7]
    nd = d + D * s
    r = max(phi.shape[0], theta.shape[0] + 1)
    m = nd + r
    T = np.zeros((m, m))
    R = np.zeros(m)
    Z = np.zeros(m)
    for i in range(d):
        Z[i] = 1.0
        for j in range(i, d):
            T[i, j] = 1.0
        for b in range(D):
            T[i, d + b * s + s - 1] = 1.0
        T[i, nd] = 1.0
    for b in range(D):
        start = d + b * s
        Z[start + s - 1] = 1.0
        T[start, start + s - 1] = 1.0
        for j in range(1, s):
            T[start + j, start + j - 1] = 1.0
        if b < D - 1:
            T[start, start + 2 * s - 1] = 1.0
        T[start, nd] = 1.0
    Z[nd] = 1.0
    for i in range(phi.shape[0]):
        T[nd + i, nd] = phi[i]
    for i in range(r - 1):
        T[nd + i, nd + i + 1] = 1.0
    R[nd] = 1.0
    for j in range(theta.shape[0]):
        R[nd + 1 + j] = theta[j]
    return T, R, Z


# --------------------------------------------------------------------------- initial state
@njit(cache=True, nogil=True, inline="always")
def _matmul(X, Y, out):
    """out = X @ Y with plain loops: these matrices are tiny, a BLAS call costs more."""
    n, k, m = X.shape[0], X.shape[1], Y.shape[1]
    for i in range(n):
        for j in range(m):
            s = 0.0
            for l in range(k):
                s += X[i, l] * Y[l, j]
            out[i, j] = s
    return out


@njit(cache=True, nogil=True)
def lu_factor(M):
    """LU factorisation of the square M in place, with partial pivoting; the row swaps."""
    n = M.shape[0]
    piv = np.empty(n, dtype=np.int64)
    for j in range(n):
        best, arg = abs(M[j, j]), j
        for i in range(j + 1, n):
            if abs(M[i, j]) > best:
                best, arg = abs(M[i, j]), i
        piv[j] = arg
        if arg != j:
            for c in range(n):
                M[j, c], M[arg, c] = M[arg, c], M[j, c]
        for i in range(j + 1, n):
            M[i, j] /= M[j, j]
            f = M[i, j]
            if f != 0.0:
                for c in range(j + 1, n):
                    M[i, c] -= f * M[j, c]
    return piv


@njit(cache=True, nogil=True)
def lu_solve(LU, piv, x):
    """Solve M x_new = x in place, from ``lu_factor``'s LU and swaps."""
    n = LU.shape[0]
    for j in range(n):
        if piv[j] != j:
            x[j], x[piv[j]] = x[piv[j]], x[j]
    for j in range(n):
        for c in range(j):
            x[j] -= LU[j, c] * x[c]
    for j in range(n - 1, -1, -1):
        for c in range(j + 1, n):
            x[j] -= LU[j, c] * x[c]
        x[j] /= LU[j, j]


@njit(cache=True, nogil=True)
def lyapunov_direct(A, Qs):
    """Solve ``X_i = A X_i A' + Qs[i]`` as the linear system ``(I - A kron A) vec X_i =
    vec Qs[i]``: one LU factorisation with partial pivoting (r^6 / 3 operations) for all
    right-hand sides. Backward stable, so accurate to eps times the system's condition
    number, which doubling is not when A's powers grow before they decay (several AR
    roots near the unit circle: AR(3) with inverse roots 0.97-0.99 loses 1e-6 of log L
    to doubling)."""
    k, r = Qs.shape[0], A.shape[0]
    n = r * r
    M = np.empty((n, n))
    for a in range(r):
        for b in range(r):
            for c in range(r):
                for e in range(r):
                    M[a * r + b, c * r + e] = -A[a, c] * A[b, e]
    for i in range(n):
        M[i, i] += 1.0
    piv = lu_factor(M)
    X = np.empty((k, r, r))
    x = np.empty(n)
    for i in range(k):
        for a in range(r):
            for b in range(r):
                x[a * r + b] = Qs[i, a, b]
        lu_solve(M, piv, x)
        for a in range(r):
            for b in range(r):
                X[i, a, b] = 0.5 * (x[a * r + b] + x[b * r + a])
    return X


# The direct solve up to this many ARMA states (36 unknowns: ~2e4 operations); doubling
# above (seasonal models: r = 13 would take 1.6e6), whose powers of A reach rounding fast
# when the many roots of a seasonal factor share its modulus.
DIRECT_MAX_STATES = 6


@njit(cache=True, nogil=True)
def lyapunov(A, Qs):
    """Solve ``X_i = A X_i A' + Qs[i]`` for every i (A stable): directly for small A
    (``lyapunov_direct``), else by doubling: ``X = sum_k A^k Q A'^k`` summed as
    ``X <- X + A_j X A_j'``, ``A_j <- A_j^2`` (shared powers), which takes log2 of the
    number of terms iterations."""
    k, r = Qs.shape[0], A.shape[0]
    if r <= DIRECT_MAX_STATES:
        return lyapunov_direct(A, Qs)
    X = Qs.copy()
    Aj = A.copy()
    AX = np.empty((r, r))
    tmp = np.empty((r, r))
    for _ in range(64):
        for i in range(k):
            _matmul(Aj, X[i], AX)
            for a in range(r):
                for b in range(r):
                    acc = 0.0
                    for c in range(r):
                        acc += AX[a, c] * Aj[b, c]
                    tmp[a, b] = acc
            for a in range(r):
                for b in range(r):
                    X[i, a, b] += tmp[a, b]
        _matmul(Aj, Aj, tmp)
        Aj, tmp = tmp, Aj
        largest = 0.0
        for a in range(r):
            for b in range(r):
                largest = max(largest, abs(Aj[a, b]))
        if largest < 1e-13:  # the remaining terms are below rounding of X
            break
    return X


@njit(cache=True, nogil=True)
def initial_state(T, R, dTcol, dR, dsig, nd, sigma2):
    """a_0 = 0, the finite part B_0 = diag(0_nd, stationary ARMA covariance) of
    P_0 = kappa A_0 + B_0 (A_0 = diag(I_nd, 0), see ``kalman``), and the derivatives
    of P_0 (the Lyapunov equation differentiated) for each of the ``dTcol.shape[0]``
    derivative directions."""
    m, kd = T.shape[0], dTcol.shape[0]
    r = m - nd
    A = T[nd:, nd:].copy()
    Rr = R[nd:].copy()
    rhs = np.zeros((kd + 1, r, r))
    for a in range(r):
        for b in range(r):
            rhs[kd, a, b] = sigma2 * Rr[a] * Rr[b]
    X = lyapunov(A, rhs[kd:])[0]
    P = np.zeros((m, m))  # the finite part B of P_0; the filter adds kappa A_0 itself
    for a in range(r):
        for b in range(r):
            P[nd + a, nd + b] = X[a, b]
    dP = np.zeros((kd, m, m))
    if kd:
        AX = np.empty((r, r))
        _matmul(A, X, AX)
        for i in range(kd):  # dA X A' + A X dA' + d(sigma2 Rr Rr'), dA = dTcol e_0'
            for a in range(r):
                for b in range(r):
                    rhs[i, a, b] = (dTcol[i, nd + a] * AX[b, 0] + AX[a, 0] * dTcol[i, nd + b]
                                    + dsig[i] * Rr[a] * Rr[b]
                                    + sigma2 * (dR[i, nd + a] * Rr[b] + Rr[a] * dR[i, nd + b]))
        dX = lyapunov(A, rhs[:kd])
        for i in range(kd):
            for a in range(r):
                for b in range(r):
                    dP[i, nd + a, nd + b] = dX[i, a, b]
    return np.zeros(m), P, np.zeros((m, kd)), dP


@njit(cache=True, nogil=True)
def _sparse_rows(T):
    """T's non-zeros row by row (CSR): products with T cost O(m nnz) instead of O(m^3)."""
    m = T.shape[0]
    ptr = np.zeros(m + 1, dtype=np.int64)
    cols = np.empty(m * m, dtype=np.int64)
    vals = np.empty(m * m)
    n = 0
    for i in range(m):
        for j in range(m):
            if T[i, j] != 0:
                cols[n] = j
                vals[n] = T[i, j]
                n += 1
        ptr[i + 1] = n
    return ptr, cols, vals


# --------------------------------------------------------------------------- the filter
@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def kalman(y, X, beta, T, R, Z, sigma2, kappa, a, P, burn, tolerance, dTcol, dR, dsig, da,
           dP, llf_obs, scores, fitted, F_out):
    """Run the filter over y from the predicted state (a, kappa A_0 + P), in place; return
    log L. ``A_0 = diag(I_burn, 0)`` is the diffuse part: with ``burn`` = 0, P is the
    whole covariance.

    The diffuse part is carried apart, ``P_t = kappa A_t + B_t``, through the ``burn``
    steps it takes the first observations to resolve it: with ``f = Z A Z'``,
    ``g = Z B Z'``, ``c = 1 / F = 1 / (kappa f + g)``, ``a_A = T A Z'``, ``b = T B Z'``,
    the update ``T P T' - K F K' + sigma2 R R'`` splits exactly into::

        A <- T A T' - a_A a_A' / f
        B <- T B T' + sigma2 R R' + (kappa g c / f) a_A a_A' - kappa c (a_A b' + b a_A')
             - c b b'

    (expand ``kappa^2 c = kappa / f - kappa g c / f``). Every term of B's update is of B's
    size (kappa c < 1 / f), where the one-piece update subtracts numbers of kappa's size
    and loses ``kappa eps / sigma2`` of relative accuracy -- 1e-3 for sigma2 ~ 3e-7 of a
    unit-variance series, in statsmodels' filter too. A_t lives on the differencing states,
    where T is constant, so it has no derivatives and reaches 0 (exactly, in exact
    arithmetic) after the ``burn`` observations that identify those states; the derivative
    recursion for P is then the one for B, and there its terms are of B's size too.

    ``X @ beta`` is the observation intercept. Writes per-observation log-likelihoods (0
    inside the burn-in), one-step predictions and their variances. (a, P) end as the
    prediction for the step after the last observation. With ``kd = dTcol.shape[0] > 0``
    derivative directions (the first ``X.shape[1]`` of them the regression coefficients;
    ``dTcol[i]`` the derivative of T's ARMA column, ``dR[i]`` of R, ``dsig[i]`` of sigma2)
    it carries ``da`` (m, kd) and ``dP`` (kd, m, m) along and writes ``scores[t, i] = d log L_t / d theta_i``.
    ``tolerance`` < 0: never switch to the steady state."""
    n, m, kd, kx = y.shape[0], T.shape[0], dTcol.shape[0], X.shape[1]
    nd = burn  # the differencing states come first; the ARMA column is nd
    ptr, cols, vals = _sparse_rows(T)
    llf = 0.0
    TP = np.empty((m, m))
    P_new = np.empty((m, m))
    PZ = np.empty(m)
    K = np.empty(m)
    a_new = np.empty(m)
    dPZ = np.empty((kd, m))
    dF = np.empty(kd)
    dv = np.empty(kd)
    dK = np.empty((m, kd))      # state-major (m, kd), like da: the per-step updates of
    da_new = np.empty((m, kd))  # the means run over parameters in the inner loops
    # P, F and K do not depend on the regression coefficients (the first kx directions):
    # their derivatives there stay 0, and the covariance work skips those directions.
    dF[:kx] = 0.0
    dK[:, :kx] = 0.0
    dTc = np.ascontiguousarray(dTcol.T)
    TdP = np.empty((m, m))
    g = np.empty(m)
    nz_Z = 0
    for i in range(m):
        nz_Z += Z[i] != 0
    zi = np.empty(nz_Z, dtype=np.int64)  # Z's few non-zeros: P Z' costs m nnz(Z), not m^2
    nz_Z = 0
    for i in range(m):
        if Z[i] != 0:
            zi[nz_Z] = i
            nz_Z += 1
    A = np.zeros((m, m))  # the diffuse part of P (see above), zero from t = burn on
    for i in range(nd):
        A[i, i] = 1.0
    AZ = np.zeros(m)
    aA = np.zeros(m)
    b = np.zeros(m)
    converged = False  # P (and dP) no longer change
    frozen = False     # F, K (and dF, dK) computed from the converged P
    F = 1.0
    fA = g_B = 0.0
    for t in range(n):
        diffuse = t < nd
        c = 0.0
        for j in range(kx):
            c += X[t, j] * beta[j]
        yhat = c
        for i in zi:
            yhat += Z[i] * a[i]
        v = y[t] - yhat
        if not frozen:
            for i in range(m):
                acc = 0.0
                for j in zi:
                    acc += P[i, j] * Z[j]
                PZ[i] = acc
            F = 0.0
            for i in zi:
                F += Z[i] * PZ[i]
            if diffuse:  # F = kappa f + g; AZ = A Z' joins P Z' in K below
                g_B = F
                fA = 0.0
                for i in range(m):
                    acc = 0.0
                    for j in zi:
                        acc += A[i, j] * Z[j]
                    AZ[i] = acc
                    fA += Z[i] * acc
                F += kappa * fA
            for e in range(kx, kd):
                for i in range(m):
                    acc = 0.0
                    for j in zi:
                        acc += dP[e, i, j] * Z[j]
                    dPZ[e, i] = acc
                f = 0.0
                for i in zi:
                    f += Z[i] * dPZ[e, i]
                dF[e] = f
        for e in range(kd):
            dv[e] = -X[t, e] if e < kx else 0.0
        for i in range(m):
            if Z[i] != 0:
                for e in range(kd):
                    dv[e] -= Z[i] * da[i, e]
        fitted[t] = yhat
        F_out[t] = F
        if t >= burn:
            llf_obs[t] = -0.5 * (LOG_2PI + np.log(F) + v * v / F)
            llf += llf_obs[t]
            for e in range(kd):
                scores[t, e] = -0.5 * (dF[e] / F + 2 * v * dv[e] / F - v * v * dF[e] / (F * F))
        else:
            llf_obs[t] = 0.0
            for e in range(kd):
                scores[t, e] = 0.0
        # K = T P Z' / F;  a <- T a + K v  (and their derivatives)
        if not frozen:
            for i in range(m):
                acc = 0.0
                accA = 0.0
                for nz in range(ptr[i], ptr[i + 1]):
                    acc += vals[nz] * PZ[cols[nz]]
                    if diffuse:
                        accA += vals[nz] * AZ[cols[nz]]
                b[i] = acc
                aA[i] = accA
                K[i] = (acc + kappa * accA) / F
            for e in range(kx, kd):
                for i in range(m):
                    acc = dTcol[e, i] * PZ[nd]
                    for nz in range(ptr[i], ptr[i + 1]):
                        acc += vals[nz] * dPZ[e, cols[nz]]
                    dK[i, e] = acc / F - K[i] * dF[e] / F
        for i in range(m):
            acc = K[i] * v
            for nz in range(ptr[i], ptr[i + 1]):
                acc += vals[nz] * a[cols[nz]]
            a_new[i] = acc
        if kd:
            for i in range(m):
                for e in range(kd):
                    da_new[i, e] = dTc[i, e] * a[nd] + dK[i, e] * v + K[i] * dv[e]
                for nz in range(ptr[i], ptr[i + 1]):
                    c, w = cols[nz], vals[nz]
                    for e in range(kd):
                        da_new[i, e] += w * da[c, e]
            for i in range(m):
                for e in range(kd):
                    da[i, e] = da_new[i, e]
        for i in range(m):
            a[i] = a_new[i]
        if converged:
            frozen = True
            continue
        # P <- T P T' - K F K' + sigma2 R R'   (and the same for each derivative)
        for i in range(m):
            for j in range(m):
                acc = 0.0
                for nz in range(ptr[i], ptr[i + 1]):
                    acc += vals[nz] * P[cols[nz], j]
                TP[i, j] = acc
        change = 0.0
        # One expression for both cases, so the loop has no branch: after the burn-in
        # a_A = 0 and the last term is K F K'.
        if diffuse:
            c = 1.0 / F
            alpha, kc, cw, w = kappa * g_B * c / fA, kappa * c, c, b
        else:
            alpha, kc, cw, w = 0.0, 0.0, F, K
        for i in range(m):
            for j in range(i, m):
                acc = sigma2 * R[i] * R[j] + alpha * aA[i] * aA[j] \
                    - kc * (aA[i] * b[j] + b[i] * aA[j]) - cw * w[i] * w[j]
                for nz in range(ptr[j], ptr[j + 1]):
                    acc += TP[i, cols[nz]] * vals[nz]
                P_new[i, j] = acc
                P_new[j, i] = acc
                diff = acc - P[i, j]
                change += diff * diff if i == j else 2 * diff * diff
        if diffuse:  # A <- T A T' - a_A a_A' / f (TP is free again: T A goes there)
            for i in range(m):
                for j in range(m):
                    acc = 0.0
                    for nz in range(ptr[i], ptr[i + 1]):
                        acc += vals[nz] * A[cols[nz], j]
                    TdP[i, j] = acc
            for i in range(m):
                for j in range(m):
                    acc = -aA[i] * aA[j] / fA
                    for nz in range(ptr[j], ptr[j + 1]):
                        acc += TdP[i, cols[nz]] * vals[nz]
                    A[i, j] = acc
        converged = tolerance >= 0 and t > nd and change < tolerance
        if converged:  # statsmodels keeps the P_t (and so F_t, K_t) it converged at
            continue
        for i in range(m):
            for j in range(m):
                P[i, j] = P_new[i, j]
        for e in range(kx, kd):
            for i in range(m):  # T dP_e
                for j in range(m):
                    acc = 0.0
                    for nz in range(ptr[i], ptr[i + 1]):
                        acc += vals[nz] * dP[e, cols[nz], j]
                    TdP[i, j] = acc
            # (K F K')' = g K' + K g' with g = F K' + F' K / 2; the T', R' and sigma2'
            # terms only for the directions that have them.
            for i in range(m):
                g[i] = F * dK[i, e] + 0.5 * dF[e] * K[i]
            has_T = has_R = False
            for i in range(m):
                has_T = has_T or dTcol[e, i] != 0
                has_R = has_R or dR[e, i] != 0
            for i in range(m):  # T dP_e T' + the terms from T', K', F', R', sigma2'
                for j in range(i, m):
                    acc = 0.0
                    for nz in range(ptr[j], ptr[j + 1]):
                        acc += TdP[i, cols[nz]] * vals[nz]
                    acc -= g[i] * K[j] + K[i] * g[j]
                    if has_T:
                        acc += dTcol[e, i] * TP[j, nd] + TP[i, nd] * dTcol[e, j]
                    if has_R:
                        acc += sigma2 * (dR[e, i] * R[j] + R[i] * dR[e, j])
                    if dsig[e] != 0.0:
                        acc += dsig[e] * R[i] * R[j]
                    dP[e, i, j] = acc  # safe in place: only TdP is read from here on
                    dP[e, j, i] = acc
    return llf


@njit(cache=True, nogil=True)
def _directions(params, dims, m, nd, with_derivatives):
    phi, theta, dphi, dtheta = reduced_arma(params, dims)
    k = params.shape[0] if with_derivatives else 0
    dTcol = np.zeros((k, m))
    dR = np.zeros((k, m))
    dsig = np.zeros(k)
    for e in range(k):
        for i in range(phi.shape[0]):
            dTcol[e, nd + i] = dphi[e, i]
        for j in range(theta.shape[0]):
            dR[e, nd + 1 + j] = dtheta[e, j]
    if k:
        dsig[k - 1] = 1.0
    return phi, theta, dTcol, dR, dsig


@njit(cache=True, nogil=True)
def run(y, X, params, dims, kappa, tolerance, with_scores):
    """Filter y at ``params``: (log L, per-observation log L, scores (n, k) or (n, 0),
    predictions, their variances, and the final predicted state a, P)."""
    k_regr, s, d, D = dims[0], dims[5], dims[6], dims[7]
    nd = d + D * s
    n, k = y.shape[0], params.shape[0]
    p_red = dims[1] + s * dims[3]
    q_red = dims[2] + s * dims[4]
    m = nd + max(p_red, q_red + 1)
    phi, theta, dTcol, dR, dsig = _directions(params, dims, m, nd, with_scores)
    T, R, Z = system(phi, theta, dims)
    sigma2 = params[k - 1]
    a, P, da, dP = initial_state(T, R, dTcol, dR, dsig, nd, sigma2)
    llf_obs, fitted, F = np.empty(n), np.empty(n), np.empty(n)
    scores = np.empty((n, dTcol.shape[0]))
    llf = kalman(y, X, params[:k_regr], T, R, Z, sigma2, kappa, a, P, nd, tolerance, dTcol,
                 dR, dsig, da, dP, llf_obs, scores, fitted, F)
    return llf, llf_obs, scores, fitted, F, a, P


def loglike(y, X, params, dims, kappa, tolerance):
    """Exact log-likelihood at (constrained, statsmodels-ordered) ``params``. (Called from
    Python, not compiled: a compiled caller would compile ``run`` once more, for a literal
    ``False``.)"""
    return run(y, X, params, dims, kappa, tolerance, False)[0]


@njit(cache=True, nogil=True)
def loglike_and_gradient(y, X, u, dims, kappa, tolerance):
    """log L at unconstrained ``u`` and its exact gradient d log L / d u. (The optimisers
    take the same numbers from ``chandrasekhar``, at a fraction of the cost; this one is
    their reference in the tests.)"""
    params = constrain(u, dims)
    out = run(y, X, params, dims, kappa, tolerance, True)
    scores, J = out[2], constrain_jacobian(u, dims)
    k = u.shape[0]
    g = np.zeros(k)
    for t in range(scores.shape[0]):
        for i in range(k):
            g[i] += scores[t, i]
    grad = np.zeros(k)  # J' g
    for i in range(k):
        for j in range(k):
            grad[i] += J[j, i] * g[j]
    return out[0], grad

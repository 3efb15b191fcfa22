"""Many small L-BFGS-B minimisations stepped together, each with its own state.

``minimize_many(evaluate, X0, ...)`` minimises N independent functions f_i(x_i) (x_i in
R^k) from the rows of X0. Each problem keeps its own L-BFGS-B state -- its own curvature
pairs, line search, iteration count and stopping test -- so its iterates are exactly those
of ``scipy.optimize.minimize(f_i, x0_i, jac=True, method="L-BFGS-B")`` with the same
options; what the problems share is the evaluation: every round, each active problem is
advanced until it asks for f and grad f at a new point, and ``evaluate`` then computes
all of them in one call (for ARIMA candidates of one specification, one
``chandrasekhar.batch`` call over the series). Unlike one joint L-BFGS run over the
concatenated problem (``batch._joint_run``), an ill-conditioned problem neither shares
its curvature history with the others nor holds their iteration count back: it only
stays active longer.

The algorithm, per problem (L-BFGS-B of Byrd, Lu, Nocedal and Zhu, 1995, as SciPy ships
it; without bounds it is L-BFGS):

* the direction d = -H g, where H is the limited-memory inverse Hessian built from the
  last ``maxcor`` pairs s_j = x_{j+1} - x_j, y_j = g_{j+1} - g_j (with s_j' y_j > 0)
  from H_0 = (s'y / y'y) I -- what the two-loop recursion computes (q = g; for j newest
  first: a_j = s_j'q / s_j'y_j, q -= a_j y_j; r = H_0 q; for j oldest first:
  b = y_j'r / s_j'y_j, r += (a_j - b) s_j; d = -r), SciPy in its compact matrix form;
  the first step is along -g with length min(1 / |g|, stpmax);
* the step length t along d by Moré and Thuente's line search to the strong Wolfe
  conditions f(x + t d) <= f(x) + 1e-3 t g'd and |g(x + t d)'d| <= 0.9 |g'd|
  (at most ``maxls`` evaluations);
* it stops when max_i |g_i| <= gtol, when (f_j - f_{j+1}) / max(|f_j|, |f_{j+1}|, 1) <=
  ftol, after ``maxiter`` iterations (not converged), or when the line search fails
  twice in a row (after the first failure it drops the curvature pairs and retries along
  -g).

The per-problem state is advanced by SciPy's own L-BFGS-B routine through its
reverse-communication interface (``setulb``: it returns whenever it needs f and g),
which is what ``scipy.optimize.minimize`` drives one problem at a time. That interface
is private to SciPy; if it is missing or has changed (``driver_ok()`` is False), every
problem is solved by ``scipy.optimize.minimize`` in turn -- the same iterates, without
the shared evaluation.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

try:
    from scipy.optimize import _lbfgsb
except ImportError:  # pragma: no cover - a SciPy without the module
    _lbfgsb = None

# setulb's task codes (scipy.optimize._lbfgsb_py.status_messages)
FG, NEW_X, CONVERGENCE, STOP = 3, 1, 4, 5
STOP_MAXITER = 504


class Minimized:
    """The outcome of ``minimize_many``, row i for problem i."""

    def __init__(self, x, fun, jac, nit, success):
        self.x, self.fun, self.jac, self.nit, self.success = x, fun, jac, nit, success


def minimize_many(evaluate, X0, maxiter=1000, ftol=2.2204460492503131e-09, gtol=1e-5,
                  maxcor=10, maxls=20) -> Minimized:
    """Minimise N problems from the rows of ``X0`` (N, k), each by its own L-BFGS-B.

    ``evaluate(X, rows)``: the values (len(rows),) and gradients (len(rows), k) of the
    problems ``rows`` (an int array) at the points ``X`` (len(rows), k), which it must
    not modify; a problem whose value is not finite must return +inf (the line search
    then steps back). ``rows`` only ever shrinks from one call to the next. Options as
    ``scipy.optimize.minimize(..., method="L-BFGS-B")``'s."""
    X0 = np.array(X0, dtype=np.float64, ndmin=2)
    solve = _driven if driver_ok() else _one_by_one
    return solve(evaluate, X0, maxiter, ftol, gtol, maxcor, maxls)


def _driven(evaluate, X0, maxiter, ftol, gtol, maxcor, maxls):
    """The problems stepped together through SciPy's ``setulb``, each with its state."""
    N, k = X0.shape
    m, factr = int(maxcor), ftol / np.finfo(float).eps
    X = X0.copy()  # setulb moves each row in place
    F, G = np.zeros(N), np.zeros((N, k))
    lower, upper, nbd = np.zeros(k), np.zeros(k), np.zeros(k, np.int32)  # no bounds
    wa = np.zeros((N, 2 * m * k + 5 * k + 11 * m * m + 8 * m))
    iwa = np.zeros((N, 3 * k), np.int32)
    task, ln_task = np.zeros((N, 2), np.int32), np.zeros((N, 2), np.int32)
    lsave, isave = np.zeros((N, 4), np.int32), np.zeros((N, 44), np.int32)
    dsave = np.zeros((N, 29))
    nit = np.zeros(N, np.int64)
    # each problem's arrays (row views), built once: setulb updates them in place
    state = [(X[i], G[i], wa[i], iwa[i], task[i], lsave[i], isave[i], dsave[i], ln_task[i])
             for i in range(N)]
    setulb = _lbfgsb.setulb
    everyone = np.arange(N)
    pending = list(range(N))
    while pending:
        asks = []
        for i in pending:
            x, g, w, iw, t, ls, isv, ds, lt = state[i]
            while True:  # advance problem i until it asks for an evaluation or ends
                setulb(m, x, lower, upper, nbd, F[i], g, factr, gtol, w, iw, t, ls, isv, ds,
                       maxls, lt)
                if t[0] == FG:
                    asks.append(i)
                    break
                if t[0] != NEW_X:
                    break  # converged, stopped or failed
                nit[i] += 1
                if nit[i] >= maxiter:  # as SciPy: one more call sees the STOP and ends
                    t[0], t[1] = STOP, STOP_MAXITER
        pending = asks  # a subset of the last round's: a problem that ended stays ended
        if len(asks) == N:
            F[:], G[:] = evaluate(X, everyone)
        elif asks:
            rows = np.array(asks)
            F[rows], G[rows] = evaluate(X[rows], rows)
    return Minimized(X, F, G, nit, task[:, 0] == CONVERGENCE)


def single(objective):
    """``evaluate`` for one problem, from its ``objective(x) -> (value, gradient)``."""
    def evaluate(X, rows):
        value, grad = objective(X[0])
        return np.array([value]), grad[None, :]

    return evaluate


def _one_by_one(evaluate, X0, maxiter, ftol, gtol, maxcor, maxls):
    """The fallback: ``scipy.optimize.minimize`` per problem."""
    N, k = X0.shape
    X, F, G = X0.copy(), np.zeros(N), np.zeros((N, k))
    nit, success = np.zeros(N, np.int64), np.zeros(N, bool)
    options = dict(maxiter=maxiter, ftol=ftol, gtol=gtol, maxcor=maxcor, maxls=maxls)
    for i in range(N):
        rows = np.array([i])

        def fun(x, rows=rows):
            values, grads = evaluate(x[None, :], rows)
            return float(values[0]), grads[0]

        res = optimize.minimize(fun, X0[i], jac=True, method="L-BFGS-B", options=options)
        X[i], F[i], G[i], nit[i], success[i] = res.x, res.fun, res.jac, res.nit, res.success
    return Minimized(X, F, G, nit, success)


_DRIVER_OK = None


def driver_ok():
    """Whether SciPy's ``setulb`` is there with the interface ``_driven`` drives: checked
    once, on a quadratic, against ``scipy.optimize.minimize``."""
    global _DRIVER_OK
    if _DRIVER_OK is None:
        ok = False
        if _lbfgsb is not None:
            A = np.array([[3.0, 1.0], [1.0, 2.0]])
            b = np.array([1.0, -1.0])

            def quad(x):
                return 0.5 * x @ A @ x - b @ x, A @ x - b

            def evaluate(X, rows):
                return np.array([quad(x)[0] for x in X]), np.array([quad(x)[1] for x in X])

            try:
                ours = _driven(evaluate, np.array([[2.0, 3.0]]), 100, 1e-10, 1e-8, 10, 20)
                ref = optimize.minimize(quad, [2.0, 3.0], jac=True, method="L-BFGS-B",
                                        options=dict(maxiter=100, ftol=1e-10, gtol=1e-8))
                ok = bool(np.array_equal(ours.x[0], ref.x) and ours.nit[0] == ref.nit)
            except Exception:  # noqa: BLE001 - any change of the private interface
                ok = False
        _DRIVER_OK = ok
    return _DRIVER_OK

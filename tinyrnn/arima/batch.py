"""Many series at once: ``fit_many``, on this machine's cores or on a Dask cluster.

The N fits are independent, so their negative mean log-likelihoods add up to one separable
objective over all N*k parameters. One L-BFGS-B run (scipy) minimises it; each of its
evaluations computes every series' likelihood and exact gradient in one Numba call, in
parallel over series. Two things make the joint run converge like a single fit:

* each series is rescaled to unit variance, and its parameters are preconditioned by the
  Cholesky factor of its own information matrix (the outer product of its scores at the
  start), so the joint Hessian is close to the identity;
* afterwards each series is checked on its own: any whose gradient is not small is
  refitted alone (``ARIMA.fit``), so a difficult series never gets a worse answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..threads import blas_threads
from . import statespace as ss
from .model import ARIMA, MLE_OPTIONS, _check_order
from .score import batch_information, batch_loglike_gradient

# The joint run stops once every series' gradient (of its mean log-likelihood, in its
# preconditioned coordinates) is below JOINT_GTOL: measured on 1000 random walks, log L is
# then within 1e-6 of the single fits. A series left above ACCEPT_GRADIENT (the run ended
# early) is refitted alone.
JOINT_GTOL = 1e-4
ACCEPT_GRADIENT = 1e-3


@dataclass
class ManyResults:
    """Row i describes series i."""

    params: np.ndarray       # (N, k), statsmodels order
    llf: np.ndarray          # (N,)
    aic: np.ndarray
    bic: np.ndarray
    sigma2: np.ndarray
    converged: np.ndarray    # (N,) bool
    refitted: np.ndarray     # (N,) bool: fitted alone after the joint run
    param_names: list


def _as_series_list(Y):
    if isinstance(Y, np.ndarray):
        if Y.ndim != 2:
            raise ValueError(f"Y must be 2-D (N series, n observations) or a list of "
                             f"series, got shape {Y.shape}")
        return list(Y)
    series = list(Y)
    if not series:
        raise ValueError("Y must hold at least one series")
    return series


def fit_models(models, method="mle", gtol=None):
    """Fit models of one order together; rows of (params, llf, converged, refitted).

    ``gtol``: stop once every series' preconditioned gradient is below it (default
    ``JOINT_GTOL``; smaller values pin the estimates down further)."""
    if method != "mle":  # CSS needs no joint machinery: it is a least-squares fit each
        out = []
        for m in models:
            r = m.fit(method=method)
            out.append((r.params, r.llf, r.converged, False))
        return out
    with blas_threads(1):  # see tinyrnn/threads.py: spinning BLAS workers stall the loops
        return _fit_models_mle(models, JOINT_GTOL if gtol is None else gtol)


def _joint_run(ys, U, kappas, n_eff, spec, maxiter, gtol):
    """One L-BFGS-B run over the (scaled) series ``ys`` from unconstrained ``U``.

    Returns the new U and each series' largest gradient component in its preconditioned
    coordinates (of its mean log-likelihood)."""
    k_trend, p, d, q = spec
    N, k = U.shape
    y_flat = np.concatenate(ys)
    offsets = np.r_[0, np.cumsum([len(y) for y in ys])].astype(np.int64)
    info = batch_information(y_flat, offsets, U, kappas, k_trend, p, d, q) / n_eff[:, None,
                                                                                    None]
    ridge = 1e-6 * (np.trace(info, axis1=1, axis2=2) / k + 1.0)
    info += ridge[:, None, None] * np.eye(k)
    L_inv = np.linalg.inv(np.linalg.cholesky(info))  # u_i = U_i + L_inv_i' z_i
    last = {}

    def unpack(z):
        return U + np.einsum("nji,nj->ni", L_inv, z.reshape(N, k))

    def objective(z):
        values, grads = batch_loglike_gradient(y_flat, offsets, unpack(z), kappas,
                                               k_trend, p, d, q)
        if not np.all(np.isfinite(values)):
            return np.inf, np.zeros_like(z)
        g = -np.einsum("nij,nj->ni", L_inv, grads) / n_eff[:, None]
        last.update(z=z.copy(), g=np.abs(g).max(axis=1))
        return float(-np.sum(values / n_eff)), g.ravel()

    options = dict(MLE_OPTIONS, ftol=0.0, gtol=gtol, maxcor=20, maxiter=maxiter)
    res = optimize.minimize(objective, np.zeros(N * k), jac=True, method="L-BFGS-B",
                            options=options)
    if "z" not in last or not np.array_equal(last["z"], res.x):
        objective(res.x)
    return unpack(res.x), last["g"]


# Most series converge within ten evaluations, a few need many more: rather than evaluating
# every series until the slowest is done, each phase goes on with the unfinished ones only.
# A small batch is cheap to evaluate, and restarting would only lose L-BFGS's curvature.
PHASE_ITERATIONS = (10, 10, 1000)
PHASES_MIN_SERIES = 64


def _fit_models_mle(models, gtol):
    spec = models[0]._spec()
    k_trend, p, d, q = spec
    scaled = [m._scaled(m.endog, m._start_params(m.endog)) for m in models]
    ys = [s[0] for s in scaled]
    kappas = np.array([s[1] for s in scaled])
    scales = np.array([s[2] for s in scaled])
    U = np.array([s[3] for s in scaled])
    n_eff = np.array([m.nobs - d for m in models], dtype=float)
    g_pre = np.full(len(models), np.inf)
    active = np.arange(len(models))
    phases = PHASE_ITERATIONS if len(models) >= PHASES_MIN_SERIES else PHASE_ITERATIONS[-1:]
    for maxiter in phases:
        U[active], g_pre[active] = _joint_run([ys[i] for i in active], U[active],
                                              kappas[active], n_eff[active], spec, maxiter,
                                              gtol)
        active = active[g_pre[active] > gtol]
        if active.size == 0:
            break

    rows = []
    for i, m in enumerate(models):
        if g_pre[i] <= ACCEPT_GRADIENT:
            params = m._from_scaled(U[i], scales[i])  # constrained: valid by construction
            rows.append((params, float(ss.loglike(m.endog, params, k_trend, p, d, q, ss.KAPPA)),
                         True, False))
        else:
            r = m.fit(method="mle")
            rows.append((r.params, r.llf, r.converged, True))
    return rows


def _fit_chunk(series, order, method, trend):  # a Dask task
    return fit_models([ARIMA(y, order=order, trend=trend) for y in series], method)


def fit_many(Y, order, method: str = "mle", trend=None, scheduler=None,
             chunksize: int | None = None) -> ManyResults:
    """Fit ARIMA(order) to every series of ``Y`` (an (N, n) array or a list of 1-D series
    of any lengths).

    ``scheduler=None`` fits them here, all at once, with the likelihoods computed in
    parallel over this machine's cores. ``scheduler="dask"`` splits the series into chunks
    of ``chunksize`` (default 256) fitted as Dask tasks (the active ``distributed.Client``
    if there is one, else Dask's default scheduler); a ``distributed.Client`` may also be
    passed directly. Every series is validated before any work starts.
    """
    order = _check_order(order)
    if method not in ("mle", "css", "css-mle"):
        raise ValueError(f"method must be 'mle', 'css' or 'css-mle', got {method!r}")
    series = _as_series_list(Y)
    models = []
    for i, y in enumerate(series):  # fail fast, naming the series
        try:
            models.append(ARIMA(y, order=order, trend=trend))
        except (ValueError, TypeError) as e:
            raise type(e)(f"series {i}: {e}") from None
    start_method = "css" if method == "css" else "mle"
    if method == "css-mle":
        # CSS estimates as the start, then the exact MLE (each series alone).
        rows = [(r.params, r.llf, r.converged, True) for r in
                (m.fit(method="css-mle") for m in models)]
    elif scheduler is None:
        rows = fit_models(models, start_method)
    elif scheduler == "dask" or hasattr(scheduler, "submit"):
        try:
            import dask
        except ImportError as e:
            raise RuntimeError("scheduler='dask' needs Dask: pip install 'tinyrnn[dask]'") from e
        size = chunksize or 256
        tasks = [dask.delayed(_fit_chunk)(series[i:i + size], order, start_method, trend)
                 for i in range(0, len(series), size)]
        parts = dask.compute(*tasks) if scheduler == "dask" else \
            scheduler.gather(scheduler.compute(tasks))
        rows = [row for part in parts for row in part]
    else:
        raise ValueError(f"scheduler must be None, 'dask' or a distributed.Client, got "
                         f"{scheduler!r}")

    params = np.array([r[0] for r in rows])
    llf = np.array([r[1] for r in rows])
    k = params.shape[1]
    n_eff = np.array([m.nobs - m.order[1] for m in models])
    return ManyResults(params=params, llf=llf, aic=-2 * llf + 2 * k,
                       bic=-2 * llf + k * np.log(n_eff), sigma2=params[:, -1],
                       converged=np.array([r[2] for r in rows]),
                       refitted=np.array([r[3] for r in rows]),
                       param_names=models[0].param_names)

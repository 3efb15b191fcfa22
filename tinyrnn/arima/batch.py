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

import os
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..jit import ready
from ..threads import blas_threads
from . import chandrasekhar as ch
from . import statespace as ss
from .model import ARIMA, MLE_OPTIONS, FitResult, whitening
from .spec import check_order, check_seasonal_order

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


def as_series_list(Y):
    """The series of ``Y`` (a 2-D array, one series a row, or a list of series of any
    lengths) as a list, checked: what ``fit_many`` and ``auto_arima_many`` take."""
    if isinstance(Y, np.ndarray):
        if Y.ndim != 2:
            raise ValueError(f"Y must be 2-D (N series, n observations) or a list of "
                             f"series, got shape {Y.shape}")
        return list(Y)
    series = list(Y)
    if not series:
        raise ValueError("Y must hold at least one series")
    return series


# Series are fitted jointly in blocks of this many: a joint run lasts as long as its slowest
# series, and the slowest of more series is slower, so one run over everything would cost
# more per series the more series there are; in fixed blocks the cost per series is flat.
BLOCK = 512
# Up to this many series are fitted uncompiled (about 0.2 s each for 40 points) while the
# kernels compile in the background on a first run (about a minute); more wait for them.
UNCOMPILED_MAX_SERIES = 16


def fit_models(models, method="mle", gtol=None):
    """Fit models of one specification together: one ``FitResult`` per model (its
    ``start`` says "refit" where the model was fitted alone after the joint runs).

    ``gtol``: stop once every series' preconditioned gradient is below it (default
    ``JOINT_GTOL``; smaller values pin the estimates down further)."""
    if method == "css":  # CSS needs no joint machinery: it is a least-squares fit each
        return [m.fit_css() for m in models]
    gtol = JOINT_GTOL if gtol is None else gtol
    # Many series are too much work to run uncompiled while the first run's background
    # compilation goes on: wait for it (tinyrnn/jit.py).
    ready("arima", wait=len(models) > UNCOMPILED_MAX_SERIES)
    out = []
    with blas_threads(1):  # see tinyrnn/threads.py: spinning BLAS workers stall the loops
        for i in range(0, len(models), BLOCK):
            out += _fit_models_mle(models[i:i + BLOCK], method, gtol)
    return out


def _joint_run(items, U, n_eff, maxiter, gtol):
    """One L-BFGS-B run over the series whose ``ARIMA.objective_data`` are ``items`` from
    unconstrained ``U``.

    Returns the new U and each series' largest gradient component in its preconditioned
    coordinates (of its mean log-likelihood)."""
    N, k = U.shape
    data = ch.stack(items)
    info = ch.batch(data, U, True)[2]
    L_inv = whitening(info / n_eff[:, None, None])  # u_i = U_i + L_inv_i' z_i
    last = {}

    def unpack(z):
        return U + np.einsum("nji,nj->ni", L_inv, z.reshape(N, k))

    def objective(z):
        values, grads, _ = ch.batch(data, unpack(z))
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


def _joint_fit(models, starts, scalings, gtol):
    """Joint MLE of ``models`` from ``starts``: (params, llf, accepted) per model."""
    dims = models[0].spec.dims
    items = [m.objective_data(sc) for m, sc in zip(models, scalings)]
    U = np.array([m.to_unconstrained(s, sc) for m, s, sc in zip(models, starts, scalings)])
    n_eff = np.array([m.nobs_effective for m in models], dtype=float)
    g_pre = np.full(len(models), np.inf)
    active = np.arange(len(models))
    phases = PHASE_ITERATIONS if len(models) >= PHASES_MIN_SERIES else PHASE_ITERATIONS[-1:]
    for maxiter in phases:
        U[active], g_pre[active] = _joint_run([items[i] for i in active], U[active],
                                              n_eff[active], maxiter, gtol)
        active = active[g_pre[active] > gtol]
        if active.size == 0:
            break
    out = []
    for m, u, sc, g in zip(models, U, scalings, g_pre):
        params = m.from_unconstrained(u, sc)  # constrained: valid by construction
        out.append((params, float(ss.loglike(m.endog, m.regressors, params, dims, ss.KAPPA,
                                             ss.TOLERANCE)), g <= ACCEPT_GRADIENT))
    return out


def _fit_models_mle(models, method, gtol):
    """Every distinct start of every model (``ARIMA.start_candidates``), run jointly start
    by start; each model keeps its best. A model whose best run did not converge is
    refitted alone (``ARIMA.fit``), so a difficult series never gets a worse answer."""
    scalings = [m.scaling() for m in models]
    candidates = [m.start_candidates(method) for m in models]
    best = [None] * len(models)
    for rank in range(max(len(c) for c in candidates)):
        idx = [i for i, c in enumerate(candidates) if rank < len(c)]
        rows = _joint_fit([models[i] for i in idx], [candidates[i][rank][1] for i in idx],
                          [scalings[i] for i in idx], gtol)
        for i, (params, llf, ok) in zip(idx, rows):
            if best[i] is None or llf > best[i].llf:
                best[i] = FitResult(params, llf, bool(ok), candidates[i][rank][0])
    for i, m in enumerate(models):
        if not best[i].converged:
            r = m.fit(method=method)
            best[i] = FitResult(r.params, r.llf, r.converged, "refit")
    return best


def _fit_chunk(series, exogs, kwargs, method):  # a Dask task
    return fit_models([ARIMA(y, exog=x, **kwargs) for y, x in zip(series, exogs)], method)


def fit_many(Y, order, method: str = "mle", trend=None, scheduler=None,
             chunksize: int | None = None, seasonal_order=None, exog=None) -> ManyResults:
    """Fit ARIMA(order) x seasonal_order to every series of ``Y`` (an (N, n) array or a
    list of 1-D series of any lengths); ``exog``: None, or one regressor array per series.

    ``scheduler=None`` fits them here, all at once, with the likelihoods computed in
    parallel over this machine's cores. ``scheduler="dask"`` splits the series into chunks
    of ``chunksize`` (default: the series spread evenly over the cluster's workers, at most
    1000 a chunk) fitted as Dask tasks (the active ``distributed.Client`` if there is one,
    else Dask's default scheduler); a ``distributed.Client`` may also be passed directly.
    Every series is validated before any work starts.
    """
    order = check_order(order)
    seasonal_order = check_seasonal_order(seasonal_order)
    if method not in ("mle", "css", "css-mle"):
        raise ValueError(f"method must be 'mle', 'css' or 'css-mle', got {method!r}")
    series = as_series_list(Y)
    if exog is None:
        exogs = [None] * len(series)
    else:
        exogs = list(exog)
        if len(exogs) != len(series):
            raise ValueError(f"exog must hold one regressor array per series: {len(series)} "
                             f"series, {len(exogs)} exog")
    kwargs = dict(order=order, seasonal_order=seasonal_order, trend=trend)
    models = []
    for i, (y, x) in enumerate(zip(series, exogs)):  # fail fast, naming the series
        try:
            models.append(ARIMA(y, exog=x, **kwargs))
        except (ValueError, TypeError) as e:
            raise type(e)(f"series {i}: {e}") from None
    if len({m.spec for m in models}) > 1:
        raise ValueError("every series must have the same regressors (exog columns)")
    if scheduler is None:
        rows = fit_models(models, method)
    elif scheduler == "dask" or hasattr(scheduler, "submit"):
        try:
            import dask
        except ImportError as e:
            raise RuntimeError("scheduler='dask' needs Dask: pip install 'tinyrnn[dask]'") from e
        size = chunksize or chunk_size(len(series), scheduler)
        tasks = [dask.delayed(_fit_chunk)(series[i:i + size], exogs[i:i + size], kwargs,
                                          method)
                 for i in range(0, len(series), size)]
        parts = dask.compute(*tasks) if scheduler == "dask" else \
            scheduler.gather(scheduler.compute(tasks))
        rows = [row for part in parts for row in part]
    else:
        raise ValueError(f"scheduler must be None, 'dask' or a distributed.Client, got "
                         f"{scheduler!r}")

    params = np.array([r.params for r in rows])
    llf = np.array([r.llf for r in rows])
    k = params.shape[1]
    n_eff = np.array([m.nobs_effective for m in models])
    return ManyResults(params=params, llf=llf, aic=-2 * llf + 2 * k,
                       bic=-2 * llf + k * np.log(n_eff), sigma2=params[:, -1],
                       converged=np.array([r.converged for r in rows]),
                       refitted=np.array([r.start == "refit" for r in rows]),
                       param_names=models[0].param_names)


def chunk_size(n_series, scheduler):
    """Series per Dask task: an even share per worker thread (so every worker gets work),
    at most 1000 (so a task's memory stays small)."""
    workers = None
    client = scheduler if hasattr(scheduler, "submit") else None
    if client is None:
        try:
            from distributed import get_client
            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        try:
            workers = sum(client.nthreads().values())
        except Exception:  # noqa: BLE001 - a client without worker information
            workers = None
    workers = workers or os.cpu_count() or 1
    return max(1, min(1000, -(-n_series // workers)))

"""Many series at once: ``fit_many``, on this machine's cores or on a Dask cluster."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .model import ARIMA, _check_order


@dataclass
class ManyResults:
    """Row i describes series i."""

    params: np.ndarray       # (N, k), statsmodels order
    llf: np.ndarray          # (N,)
    aic: np.ndarray
    bic: np.ndarray
    sigma2: np.ndarray
    converged: np.ndarray    # (N,) bool
    param_names: list


def _fit_chunk(series, order, method, trend):
    rows = []
    for y in series:
        r = ARIMA(y, order=order, trend=trend).fit(method=method)
        rows.append((r.params, r.llf, r.aic, r.bic, r.sigma2, r.converged))
    return rows


def _as_series_list(Y):
    if isinstance(Y, np.ndarray) and Y.ndim == 2:
        return list(Y)
    if isinstance(Y, np.ndarray) and Y.ndim != 2:
        raise ValueError(f"Y must be 2-D (N series, n observations) or a list of series, "
                         f"got shape {Y.shape}")
    series = list(Y)
    if not series:
        raise ValueError("Y must hold at least one series")
    return series


def fit_many(Y, order, method: str = "mle", trend=None, scheduler=None, n_jobs=None,
             chunksize: int | None = None) -> ManyResults:
    """Fit ARIMA(order) to every series of ``Y`` (an (N, n) array or a list of 1-D series).

    ``scheduler=None`` spreads chunks of series over ``n_jobs`` threads (default: one per
    core); the compiled Kalman filter releases the GIL, so the threads run in parallel.
    ``scheduler="dask"`` sends the same chunks to Dask (the active ``distributed.Client``
    if there is one, else Dask's default scheduler); a ``distributed.Client`` may be passed
    directly. Every series is validated before any work starts.
    """
    order = _check_order(order)
    series = _as_series_list(Y)
    for i, y in enumerate(series):  # fail fast, naming the series
        try:
            ARIMA(y, order=order, trend=trend)
        except (ValueError, TypeError) as e:
            raise type(e)(f"series {i}: {e}") from None
    n_jobs = n_jobs or os.cpu_count() or 1
    chunksize = chunksize or max(1, -(-len(series) // (4 * n_jobs)))
    chunks = [series[i:i + chunksize] for i in range(0, len(series), chunksize)]

    if scheduler is None:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            parts = list(pool.map(lambda c: _fit_chunk(c, order, method, trend), chunks))
    elif scheduler == "dask" or hasattr(scheduler, "submit"):
        try:
            import dask
        except ImportError as e:
            raise RuntimeError("scheduler='dask' needs Dask: pip install 'tinyrnn[dask]'") from e
        tasks = [dask.delayed(_fit_chunk)(c, order, method, trend) for c in chunks]
        if scheduler == "dask":
            parts = list(dask.compute(*tasks))
        else:
            parts = scheduler.gather(scheduler.compute(tasks))
    else:
        raise ValueError(f"scheduler must be None, 'dask' or a distributed.Client, got "
                         f"{scheduler!r}")

    rows = [row for part in parts for row in part]
    params = np.array([r[0] for r in rows])
    return ManyResults(params=params, llf=np.array([r[1] for r in rows]),
                       aic=np.array([r[2] for r in rows]), bic=np.array([r[3] for r in rows]),
                       sigma2=np.array([r[4] for r in rows]),
                       converged=np.array([r[5] for r in rows]),
                       param_names=ARIMA(series[0], order=order, trend=trend).param_names)

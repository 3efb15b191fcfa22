"""The chapter's walk-forward experiment: refit on a growing history, forecast one step."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..workflows.progress import progress, stage
from .batch import fit_models
from .model import ARIMA
from .spec import check_endog, check_exog


@dataclass
class WalkForwardResult:
    """One-step forecasts against what happened, with their MSE and RMSE."""

    predictions: np.ndarray
    expected: np.ndarray
    mse: float
    rmse: float
    train_size: int

    def plot(self, path=None, title="Walk-forward one-step forecasts"):
        """Plot expected vs predicted; saved to ``path`` if given (matplotlib optional)."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise RuntimeError("plotting needs matplotlib: pip install matplotlib") from e
        fig, ax = plt.subplots(figsize=(8, 4))
        steps = np.arange(self.train_size, self.train_size + len(self.expected))
        ax.plot(steps, self.expected, "o-", label="expected")
        ax.plot(steps, self.predictions, "s--", color="red", label="predicted")
        ax.set_title(f"{title} (RMSE {self.rmse:.3f})")
        ax.set_xlabel("t")
        ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig


def walk_forward(y, order=(5, 1, 0), train_frac: float = 0.66, trend=None,
                 method: str = "mle", seasonal_order=None, exog=None,
                 show_progress: bool = False) -> WalkForwardResult:
    """Train on the first ``int(len(y) * train_frac)`` points; then, for each later point,
    fit the model on everything seen so far, forecast one step, and add the point::

        size = int(len(y) * train_frac); history = y[:size]
        for t in test: yhat = ARIMA(history, order).fit().forecast()[0]; history += [t]

    ``exog`` (one row per observation of y) are regressors known in advance: the forecast
    for step t uses row t. ``show_progress`` reports the stages on stderr (a tqdm bar over
    the forecasts when tqdm is installed; ``workflows.progress``).
    """
    y = check_endog(y)
    X = check_exog(exog, len(y))[0] if exog is not None else None
    if not 0 < train_frac < 1:
        raise ValueError(f"train_frac must be in (0, 1), got {train_frac}")
    size = int(len(y) * train_frac)
    if size < 1 or size >= len(y):
        raise ValueError(f"train_frac={train_frac} leaves no training or no test data for "
                         f"{len(y)} points")
    # The refits are independent (each from its own starts), so they are fitted together,
    # as one batch: the same estimates as one fit after another.
    models = [ARIMA(y[:t], exog=None if X is None else X[:t], order=order,
                    seasonal_order=seasonal_order, trend=trend) for t in range(size, len(y))]
    # Tighter than fit_many's default: a forecast moves with the estimates, not only with
    # log L (on shampoo, gradient tolerance 1e-5 / 1e-7 / 1e-8: MSE 7924.578 / 7924.637 /
    # 7924.6373, with log L equal to 1e-9; the refits took 16-25 ms at each).
    stage(f"walk-forward: fitting {len(models)} {models[0].spec.describe()} refits "
          f"(histories of {size} to {len(y) - 1} points) as one batch", show_progress)
    rows = fit_models(models, method, gtol=1e-7)
    steps = progress(zip(range(size, len(y)), models, rows),
                     f"walk-forward: {len(models)} one-step forecasts", show_progress,
                     total=len(models))
    predictions = np.array([
        m.filter(r.params).forecast(1, exog=None if X is None else X[t:t + 1])[0]
        for t, m, r in steps])
    expected = y[size:]
    mse = float(np.mean((expected - predictions) ** 2))
    return WalkForwardResult(predictions, expected, mse, float(np.sqrt(mse)), size)

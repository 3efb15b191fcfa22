"""Forecasting: a many-to-one RNN on sliding windows against ARIMA, on the same test points.

Both forecast each test point one step ahead from the true values before it, as in the
chapter's walk-forward: ARIMA is refitted at every step (``tinyrnn.arima.walk_forward``);
the RNN is trained once on the training part. The RNN reads windows of first differences,
scaled by the training part's spread, and predicts the next difference:

    d_t = y_t - y_{t-1},   x = (d_{t-w+1} .. d_t) / s,   y_hat_{t+1} = y_t + s * f(x)

where f is Embedding-free: RNN(1 -> H) -> h at the last step -> Linear(H -> 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tinyrnn as tr
import tinyrnn.nn.functional as F
from tinyrnn import nn

from ..arima import walk_forward
from ..arima import check_endog
from .progress import progress, stage


class RNNForecaster(nn.Module):
    """Many-to-one: a window (B, w, 1) -> the next value (B, 1)."""

    def __init__(self, hidden_size=32, num_layers=1):
        super().__init__()
        self.rnn = nn.RNN(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, windows):
        _, h_n = self.rnn(windows)
        return self.fc(h_n[-1])


def sliding_windows(x, window: int):
    """(inputs (N, window), targets (N,)): each run of ``window`` values and the next one."""
    x = np.asarray(x, dtype=np.float64)
    if window < 1 or len(x) <= window:
        raise ValueError(f"window must be in [1, {len(x) - 1}] for {len(x)} values, got {window}")
    idx = np.arange(window)[None, :] + np.arange(len(x) - window)[:, None]
    return x[idx], x[window:]


@dataclass
class RNNForecast:
    predictions: np.ndarray
    expected: np.ndarray
    mse: float
    rmse: float


def rnn_walk_forward(y, window: int = 6, train_frac: float = 0.66, hidden: int = 32,
                     layers: int = 1, epochs: int = 300, lr: float = 1e-2, seed: int = 0,
                     show_progress: bool = False):
    """Train on the first ``int(len(y) * train_frac)`` points, then predict each later point
    one step ahead from the true history."""
    y = check_endog(y)
    size = int(len(y) * train_frac)
    if size <= window + 1 or size >= len(y):
        raise ValueError(f"train_frac={train_frac} leaves {size} training points: need more "
                         f"than window + 1 = {window + 1} and at least one test point")
    d = np.diff(y)
    scale = float(np.std(d[:size - 1])) or 1.0
    z = d / scale
    inputs, targets = sliding_windows(z[:size - 1], window)
    tr.manual_seed(seed)
    model = RNNForecaster(hidden, layers).double()
    opt = tr.optim.Adam(model.parameters(), lr=lr)
    X, Y = tr.tensor(inputs[:, :, None]), tr.tensor(targets[:, None])
    epoch_iter = progress(range(epochs), f"training the RNN forecaster ({epochs} epochs)",
                          show_progress)
    for _ in epoch_iter:  # full batch: the series are short
        opt.zero_grad()
        loss = F.mse_loss(model(X), Y)
        loss.backward()
        tr.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    # Window ending at difference t-1 (i.e. y_{t-1} - y_{t-2}) predicts y_t - y_{t-1}.
    test_windows = np.stack([z[t - 1 - window:t - 1] for t in range(size, len(y))])
    with tr.no_grad():
        steps = model(tr.tensor(test_windows[:, :, None])).data[:, 0] * scale
    predictions = y[size - 1:-1] + steps
    expected = y[size:]
    mse = float(np.mean((expected - predictions) ** 2))
    return RNNForecast(predictions, expected, mse, float(np.sqrt(mse)))


def builtin_series():
    """name -> (values, ARIMA order): shampoo, and series shipped with statsmodels."""
    import statsmodels.api as sm

    from ..arima import load_shampoo
    return {
        "shampoo": (load_shampoo(), (5, 1, 0)),
        "nile": (sm.datasets.nile.load_pandas().data["volume"].to_numpy(float), (1, 1, 1)),
        "sunspots": (sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(float),
                     (3, 0, 0)),
    }


def compare(series: dict, window: int = 6, train_frac: float = 0.66, epochs: int = 300,
            hidden: int = 32, seed: int = 0, plot: str | None = None,
            show_progress: bool = False) -> list[dict]:
    """ARIMA walk-forward, the RNN forecaster and the naive last-value forecast on each
    series; returns one row per series (with their RMSEs) and optionally plots them.
    ``show_progress`` reports each stage on stderr (``workflows.progress``)."""
    rows, curves = [], []
    for i, (name, (y, order)) in enumerate(series.items(), 1):
        stage(f"{name} ({i}/{len(series)}): ARIMA{tuple(order)} walk-forward", show_progress)
        arima = walk_forward(y, order=order, train_frac=train_frac)
        rnn = rnn_walk_forward(y, window, train_frac, hidden=hidden, epochs=epochs, seed=seed,
                               show_progress=show_progress)
        naive = y[arima.train_size - 1:-1]
        rows.append({"series": name, "n": len(y), "test_points": len(arima.expected),
                     "arima_order": list(order), "arima_rmse": arima.rmse,
                     "rnn_rmse": rnn.rmse,
                     "naive_rmse": float(np.sqrt(np.mean((arima.expected - naive) ** 2)))})
        curves.append((name, arima, rnn))
    if plot:
        _plot(curves, plot)
    return rows


def _plot(curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from e
    fig, axes = plt.subplots(len(curves), 1, figsize=(9, 3.2 * len(curves)), squeeze=False)
    for ax, (name, arima, rnn) in zip(axes[:, 0], curves):
        t = np.arange(arima.train_size, arima.train_size + len(arima.expected))
        ax.plot(t, arima.expected, "k.-", label="expected")
        ax.plot(t, arima.predictions, "r--", label=f"ARIMA (RMSE {arima.rmse:.1f})")
        ax.plot(t, rnn.predictions, "b:", label=f"RNN (RMSE {rnn.rmse:.1f})")
        ax.set_title(f"{name}: one-step forecasts")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_table(rows) -> str:
    lines = ["| series | n | test points | ARIMA order | ARIMA RMSE | RNN RMSE | naive RMSE |",
             "|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['series']} | {r['n']} | {r['test_points']} | "
                     f"{tuple(r['arima_order'])} | {r['arima_rmse']:.3f} | {r['rnn_rmse']:.3f} | "
                     f"{r['naive_rmse']:.3f} |")
    return "\n".join(lines)

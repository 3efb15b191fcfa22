"""AR, MA, ARMA and ARIMA(p, d, q) with statsmodels 0.15's conventions, in NumPy and Numba.

    from tinyrnn.arima import ARIMA, walk_forward, fit_many
    res = ARIMA(y, order=(5, 1, 0)).fit()
    res.params, res.llf, res.aic, res.forecast(3), res.get_forecast(3).conf_int()
"""
from .batch import fit_many
from .datasets import load_shampoo
from .model import ARIMA
from .results import ARIMAResults, Forecast
from .walk_forward import WalkForwardResult, walk_forward

__all__ = ["ARIMA", "ARIMAResults", "Forecast", "walk_forward", "WalkForwardResult",
           "fit_many", "load_shampoo"]

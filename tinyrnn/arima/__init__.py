"""ARIMA, seasonal ARIMA and regression with ARIMA errors, with statsmodels 0.15's
conventions, in NumPy and Numba.

    from tinyrnn.arima import ARIMA, walk_forward, fit_many
    res = ARIMA(y, order=(5, 1, 0)).fit()
    res = ARIMA(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit()
    res.params, res.llf, res.aic, res.forecast(3), res.get_forecast(3).conf_int()
    res.predict(start, end, dynamic=...), res.get_prediction(...).summary_frame()
    res.append(new_y), res.extend(new_y), res.apply(other_y), res.test_serial_correlation()

pandas in, pandas out: a model of a pandas Series gives its results as pandas objects on
the series' index (forecasts on the dates that continue it), as statsmodels does.
"""
from ..jit import announce
from .auto import AutoSummary, auto_arima, auto_arima_many
from .batch import ManyResults, fit_many
from .datasets import load_airpassengers, load_shampoo
from .model import ARIMA, FitResult, Scaling
from .prediction import PredictionResults
from .results import ARIMAResults, Forecast
from .spec import Spec, check_endog, check_exog, check_order, check_seasonal_order
from .unit_root import kpss, ndiffs, nsdiffs, ocsb
from .walk_forward import WalkForwardResult, walk_forward

__all__ = ["ARIMA", "ARIMAResults", "Forecast", "PredictionResults", "walk_forward",
           "WalkForwardResult", "fit_many", "ManyResults", "FitResult", "Scaling", "Spec",
           "check_endog", "check_exog", "check_order", "check_seasonal_order", "load_shampoo",
           "load_airpassengers", "auto_arima", "auto_arima_many", "AutoSummary", "kpss", "ocsb",
           "ndiffs", "nsdiffs"]

announce()  # the first compilation of the ARIMA kernels says so on stderr

"""The pandas boundary of the ARIMA results: pandas in, pandas out, as statsmodels does it.

A model built from a pandas ``Series`` (or a one-column ``DataFrame``) remembers its index
and name here; its results then hand back pandas objects: parameters as Series named by
``param_names``, residuals and predictions as Series on the input's index, forecasts on
the dates (or integers) that continue it. A model built from arrays keeps arrays, and
nothing imports pandas (it is an optional dependency).

The index rules are statsmodels' ones:

* a ``DatetimeIndex`` or ``PeriodIndex`` with a frequency (given, or inferred from the
  dates) supports dates: out-of-sample predictions get the next dates, and ``start`` /
  ``end`` may be dates (strings, ``datetime`` or ``Timestamp``);
* a ``RangeIndex`` (or integers that make one) continues as integers;
* any other index (strings, irregular dates, integers with gaps) labels the in-sample
  results, and asking for anything out of sample is an error, as in statsmodels.

Integer ``start`` / ``end`` are always positions (0 = the first observation), whatever the
index says.
"""
from __future__ import annotations

import numbers
import warnings
from datetime import date, datetime

import numpy as np


def is_pandas(obj) -> bool:
    """True for pandas objects, found without importing pandas."""
    return type(obj).__module__.split(".")[0] == "pandas"


class PandasData:
    """The index and names of a model's pandas input, and how to wrap results in them."""

    def __init__(self, index, endog_name):
        import pandas as pd

        self.pd = pd
        self.endog_name = "y" if endog_name is None else str(endog_name)
        self.freq = None
        self.kind = None  # "date", "range" or None (unsupported: in-sample only)
        if isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
            freq = index.freq
            if freq is None and len(index) >= 3:
                with warnings.catch_warnings():  # pandas 3 announces a new return type
                    warnings.simplefilter("ignore")
                    inferred = pd.infer_freq(index)
                if inferred is not None:
                    freq = pd.tseries.frequencies.to_offset(inferred)
            if freq is not None:
                self.kind, self.freq = "date", freq
                index = (pd.DatetimeIndex(index, freq=freq) if isinstance(index, pd.DatetimeIndex)
                         else index)
        elif isinstance(index, pd.RangeIndex):
            self.kind = "range"
        elif index.dtype.kind in "iu" and len(index) and np.array_equal(
                np.asarray(index), np.arange(index[0], index[0] + len(index))):
            index = pd.RangeIndex(int(index[0]), int(index[0]) + len(index))
            self.kind = "range"
        self.index = index

    @classmethod
    def capture(cls, endog):
        """A ``PandasData`` for a pandas ``endog`` (Series or one-column DataFrame); None
        for anything else."""
        if not is_pandas(endog) or not hasattr(endog, "index"):
            return None
        if hasattr(endog, "columns"):
            name = endog.columns[0] if len(endog.columns) == 1 else None
        else:
            name = endog.name
        return cls(endog.index, name)

    @property
    def nobs(self):
        return len(self.index)

    # ------------------------------------------------------------------ positions
    def index_for(self, start: int, end: int):
        """The labels of positions start .. end (inclusive), past the sample when needed."""
        pd, n = self.pd, self.nobs
        if end < n:
            return self.index[start:end + 1]
        if self.kind == "date":
            if isinstance(self.index, pd.PeriodIndex):
                full = pd.period_range(self.index[0], periods=end + 1, freq=self.freq)
            else:
                full = pd.date_range(self.index[0], periods=end + 1, freq=self.freq)
            return full[start:end + 1]
        if self.kind == "range":
            ix = self.index
            return pd.RangeIndex(ix.start + start * ix.step, ix.start + (end + 1) * ix.step,
                                 ix.step)
        raise ValueError(
            f"positions {start}..{end} reach past the {n} observations, but the data's "
            f"index ({type(self.index).__name__}) has no frequency to continue it: give the "
            "series a DatetimeIndex or PeriodIndex with a freq, or a RangeIndex, to forecast "
            "(statsmodels refuses this too)")

    def loc(self, key, what: str) -> int:
        """The position of ``key``: an integer is a position already; a date (string,
        ``datetime``, ``Timestamp``, ``Period``) is looked up in the index or in its
        continuation."""
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            return int(key)
        pd = self.pd
        if self.kind == "date" and isinstance(key, (str, date, datetime, pd.Timestamp,
                                                    pd.Period, np.datetime64)):
            try:
                if isinstance(self.index, pd.PeriodIndex):
                    key = pd.Period(key, freq=self.freq)
                else:
                    key = pd.Timestamp(key)
            except (ValueError, TypeError) as e:
                raise ValueError(f"{what}={key!r} is not a date: {e}") from None
            if key in self.index:
                return int(self.index.get_loc(key))
            if key > self.index[-1]:
                # Continue the index far enough to reach the date.
                span = self.nobs
                while True:
                    full = self.index_for(0, span)
                    if key in full:
                        return int(full.get_loc(key))
                    if full[-1] > key:
                        break
                    span *= 2
            raise ValueError(f"{what}={key!r} is not a date of the data's index or of its "
                             f"continuation at frequency {self.freq}")
        if key in self.index:
            loc = self.index.get_loc(key)
            if isinstance(loc, (int, np.integer)):
                return int(loc)
        raise ValueError(f"{what} must be an integer position"
                         + (" or a date" if self.kind == "date" else "")
                         + f" ({'a label of the index, ' if self.kind is None else ''}"
                           f"the data has a {type(self.index).__name__}), got {key!r}")

    def check_continues(self, new, start: int, what: str):
        """A pandas ``new`` (appended data) must carry the labels that continue the index
        at ``start``; arrays get them."""
        if not is_pandas(new) or not hasattr(new, "index"):
            return
        expected = self.index_for(start, start + len(new) - 1)
        if not expected.equals(new.index):
            raise ValueError(f"the index of {what} must continue the data's index: expected "
                             f"{list(expected[:3])}... ({len(expected)} labels), got "
                             f"{list(new.index[:3])}...")

    # ------------------------------------------------------------------ wrapping
    def series(self, values, start: int = 0, name=None):
        """A Series of ``values`` at positions start, start + 1, ..."""
        values = np.asarray(values)
        return self.pd.Series(values, index=self.index_for(start, start + len(values) - 1),
                              name=name)

    def frame(self, values, start: int, columns, columns_name=None):
        values = np.asarray(values)
        out = self.pd.DataFrame(values, index=self.index_for(start, start + len(values) - 1),
                                columns=columns)
        out.columns.name = columns_name
        return out


def params_series(values, names):
    import pandas as pd

    return pd.Series(np.asarray(values), index=list(names))


def params_frame(values, names, columns=None):
    import pandas as pd

    return pd.DataFrame(np.asarray(values), index=list(names),
                        columns=list(names) if columns is None else columns)


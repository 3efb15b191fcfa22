"""The series shipped with tinyrnn."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def load_shampoo() -> np.ndarray:
    """Monthly shampoo sales over three years (36 values; Makridakis, Wheelwright and
    Hyndman, 1998), the series of the chapter's ARIMA(5,1,0) walk-forward example."""
    with open(Path(__file__).with_name("shampoo.csv"), newline="") as f:
        return np.array([float(row["sales"]) for row in csv.DictReader(f)])


def load_airpassengers() -> np.ndarray:
    """Monthly international airline passengers (thousands), January 1949 to December
    1960: the 144 values of Box and Jenkins' series G, the "airline model"'s data."""
    with open(Path(__file__).with_name("airpassengers.csv"), newline="") as f:
        return np.array([float(row["passengers"]) for row in csv.DictReader(f)])

"""Parameter initialisation, PyTorch's defaults, drawn from tinyrnn's seeded generator."""
from __future__ import annotations

import math

import numpy as np

from ..random import generator
from .module import Parameter


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


def uniform(shape, bound, dtype=np.float32) -> Parameter:
    """U(-bound, bound): PyTorch's default for Linear (bound 1/sqrt(fan_in)) and RNN (1/sqrt(H))."""
    return Parameter(generator().uniform(-bound, bound, size=shape).astype(dtype))


def normal(shape, dtype=np.float32) -> Parameter:
    return Parameter(generator().standard_normal(shape).astype(dtype))


def fan_in_bound(fan_in: int) -> float:
    return 1.0 / math.sqrt(fan_in)

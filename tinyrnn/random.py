"""The random state behind parameter initialisation and dropout masks."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed tinyrnn's generator (initialisation, dropout, data shuffling defaults)."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    return _generator

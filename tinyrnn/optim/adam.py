"""Adam (Kingma & Ba), with PyTorch's L2 ``weight_decay``."""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    """``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps <= 0 or weight_decay < 0:
            raise ValueError("eps must be > 0 and weight_decay >= 0")
        self.betas, self.eps, self.weight_decay = (b1, b2), eps, weight_decay

    def _update(self, p, grad, state):
        xp = get_array_module(p.data)
        b1, b2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if not state:
            state.update(step=0, m=xp.zeros_like(p.data), v=xp.zeros_like(p.data))
        state["step"] += 1
        m, v, t = state["m"], state["v"], state["step"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        step_size = self.lr / (1 - b1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + self.eps
        p.data -= (step_size * m / denom).astype(p.dtype, copy=False)

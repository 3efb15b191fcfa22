"""Stochastic gradient descent with momentum, PyTorch's formulation."""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """``g = grad + wd * p``; ``v = mu * v + (1 - dampening) * g``; ``p -= lr * v``
    (Nesterov: ``p -= lr * (g + mu * v)``)."""

    def __init__(self, params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError("momentum and weight_decay must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.momentum:
            if "velocity" not in state:
                state["velocity"] = grad.copy()
            else:
                state["velocity"] = self.momentum * state["velocity"] + \
                    (1 - self.dampening) * grad
            v = state["velocity"]
            grad = grad + self.momentum * v if self.nesterov else v
        p.data -= self.lr * grad

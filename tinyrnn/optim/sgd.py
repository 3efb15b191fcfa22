"""Stochastic gradient descent with momentum, PyTorch's formulation."""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """``g = grad + wd * p``; ``v = mu * v + (1 - dampening) * g`` (``v = g`` at the first
    step); ``p -= lr * v`` (Nesterov: ``p -= lr * (g + mu * v)``)."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_group(self, group):
        super()._check_group(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise ValueError("momentum and weight_decay must be >= 0, got "
                             f"{group['momentum']} and {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def _update(self, p, grad, state, group):
        mu, wd = group["momentum"], group["weight_decay"]
        if wd:
            grad = grad + wd * p.data
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                state["momentum_buffer"] = mu * state["momentum_buffer"] + \
                    (1 - group["dampening"]) * grad
            v = state["momentum_buffer"]
            grad = grad + mu * v if group["nesterov"] else v
        p.data -= group["lr"] * grad

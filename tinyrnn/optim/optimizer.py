"""Optimizer base: a list of parameters and per-parameter state."""
from __future__ import annotations

from ..tensor import Tensor


class Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("params must be a non-empty iterable of Tensors")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"params[{i}] must be a Tensor with requires_grad=True")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        self.lr = float(lr)
        self.state = [dict() for _ in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, p.grad, state)

    def _update(self, p, grad, state):
        raise NotImplementedError

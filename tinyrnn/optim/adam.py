"""Adam (Kingma & Ba) with PyTorch's L2 ``weight_decay``, and AdamW (Loshchilov & Hutter)
with decoupled weight decay."""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    """``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.

    ``weight_decay`` adds ``wd * p`` to the gradient (L2); ``amsgrad`` divides by the
    running maximum of ``v`` instead. State per parameter as torch names it: ``step``,
    ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``).
    """

    decoupled = False  # AdamW: decay the weights directly, outside the moments

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_group(self, group):
        super()._check_group(group)
        b1, b2 = group["betas"]
        if not (0 <= b1 < 1 and 0 <= b2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {group['betas']}")
        if not group["eps"] > 0 or group["weight_decay"] < 0:
            raise ValueError(f"eps must be > 0 and weight_decay >= 0, got {group['eps']} "
                             f"and {group['weight_decay']}")

    def _update(self, p, grad, state, group):
        xp = get_array_module(p.data)
        (b1, b2), lr, wd = group["betas"], group["lr"], group["weight_decay"]
        if wd and self.decoupled:
            p.data *= 1 - lr * wd
        elif wd:
            grad = grad + wd * p.data
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p.data),
                         exp_avg_sq=xp.zeros_like(p.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = lr / (1 - b1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + group["eps"]
        p.data -= (step_size * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * wd`` before the Adam step, the
    gradient untouched; PyTorch's default ``weight_decay=0.01``."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)

"""Gradient clipping by global norm."""
from __future__ import annotations

import math

from ..backend import get_array_module


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale all gradients in place so that their joint norm is at most ``max_norm``.

    Returns the total norm before clipping, as PyTorch does. Raises on a non-finite norm
    rather than spreading NaNs into the parameters.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    if not grads:
        return 0.0
    xp = get_array_module(grads[0])
    if norm_type == math.inf:
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if not math.isfinite(total):
        raise FloatingPointError(f"the gradient norm is {total}; cannot clip")
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= scale
    return total

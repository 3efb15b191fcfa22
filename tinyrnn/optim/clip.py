"""Gradient clipping by global norm or by value (also exported as ``tinyrnn.nn.utils``)."""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):  # torch accepts a single tensor too
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = True, foreach=None) -> float:
    """Scale all gradients in place so that their joint norm is at most ``max_norm``.

    As PyTorch: the scale is ``max_norm / (norm + 1e-6)``, applied only when below 1, and
    the total norm before clipping is returned (here as a float). Unlike PyTorch's default,
    a non-finite norm raises unless ``error_if_nonfinite=False``: spreading NaNs into
    every parameter is never what a training loop wants. ``foreach`` is accepted for
    torch's signature and has no effect.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    xp = get_array_module(grads[0])
    if norm_type == math.inf:
        total = max(float(xp.abs(g).max()) for g in grads)
    else:
        total = sum(float((xp.abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(f"the gradient norm is {total}; cannot clip "
                                 "(error_if_nonfinite=False scales by it anyway)")
    scale = max_norm / (total + 1e-6)
    if not scale >= 1:  # also NaN, as torch does with error_if_nonfinite=False
        for g in grads:
            g *= scale
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    if not clip_value > 0:
        raise ValueError(f"clip_value must be > 0, got {clip_value}")
    for g in _grads(parameters):
        get_array_module(g).clip(g, -clip_value, clip_value, out=g)

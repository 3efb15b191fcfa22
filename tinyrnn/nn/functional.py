"""Stateless functions: activations, dropout, linear/embedding, losses, and the fused RNN.

Names, arguments, defaults and reductions follow ``torch.nn.functional``.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from ..tensor import Tensor, _axis, _log_softmax, _sigmoid
from .dropout import dropout  # noqa: F401  (re-exported)
from .fused_rnn import gru, lstm, rnn  # noqa: F401  (re-exported)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Softmax along ``axis`` or ``dim`` (default: the last axis)."""
    return x.softmax(_axis(axis, dim, -1))


def log_softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Log-softmax along ``axis`` or ``dim`` (default: the last axis)."""
    return x.log_softmax(_axis(axis, dim, -1))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = x W^T + b``."""
    y = x @ weight.T
    return y + bias if bias is not None else y


def _integer_array(values, name, xp):
    values = values.data if isinstance(values, Tensor) else values
    values = xp.asarray(values)
    if values.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {values.dtype}")
    return values


def embedding(indices, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by integer ``indices``; the padding row gets no gradient."""
    xp = get_array_module(weight.data)
    idx = _integer_array(indices, "indices", xp)
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise ValueError(f"indices must lie in [0, {n - 1}] (num_embeddings={n}), got "
                         f"min {int(idx.min())}, max {int(idx.max())}")
    w = weight.data

    def backward(g):
        gw = xp.zeros_like(w)
        xp.add.at(gw, idx.reshape(-1), g.reshape(-1, w.shape[1]))
        if padding_idx is not None:
            gw[padding_idx] = 0
        return (gw,)

    return Tensor._op(w[idx], (weight,), backward)


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(reduction)
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _constant(values, name, xp, dtype, shape=None):
    """A float array that takes no gradient (class weights, pos_weight), checked."""
    values = values.data if isinstance(values, Tensor) else values
    values = xp.asarray(values, dtype=dtype)
    if shape is not None and values.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(values.shape)}")
    return values


class _ClassTargets:
    """Class-index targets against class scores on axis 1 (axis 0 for one sample),
    checked and flattened to rows: ``scores`` (M, C), ``safe`` (M,) class per row
    (0 where ignored), ``keep`` (M,) bool, ``w`` (C,) class weights, ``w_t`` (M,) the
    weight of each row's target (0 where ignored)."""

    def __init__(self, input: Tensor, target, weight, ignore_index: int, what: str):
        xp = self.xp = get_array_module(input.data)
        if input.ndim < 1:
            raise ValueError(f"input must be {what} of shape (C,), (N, C) or "
                             "(N, C, d1, ...), got a scalar")
        t = _integer_array(target, "target (class indices)", xp)
        self.axis = 0 if input.ndim == 1 else 1
        C = self.C = input.shape[self.axis]
        self.shape = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
        if t.shape != self.shape:
            raise ValueError(f"target must have shape {self.shape} for input of shape "
                             f"{input.shape} (classes on axis {self.axis}), got "
                             f"{tuple(t.shape)}")
        self.moved = xp.moveaxis(input.data, self.axis, -1)  # classes last
        self.scores, t = self.moved.reshape(-1, C), t.reshape(-1)
        self.keep = t != ignore_index
        kept = t[self.keep]
        if kept.size and (int(kept.min()) < 0 or int(kept.max()) >= C):
            raise ValueError(f"target must lie in [0, {C - 1}] ({C} classes) or equal "
                             f"ignore_index={ignore_index}, got min {int(kept.min())}, "
                             f"max {int(kept.max())}")
        self.w = (xp.ones(C, dtype=input.dtype) if weight is None
                  else _constant(weight, "weight", xp, input.dtype, (C,)))
        self.safe = xp.where(self.keep, t, 0)  # ignored rows gather a real class, weigh 0
        self.rows = xp.arange(len(t))
        self.w_t = self.w[self.safe] * self.keep

    def grad_to_input(self, grad_rows):
        """(M, C) row gradients back to the input's layout."""
        return self.xp.moveaxis(grad_rows.reshape(self.moved.shape), -1, self.axis)

    def reduce(self, out: Tensor, reduction: str) -> Tensor:
        if reduction == "mean":  # the weighted mean over the targets kept, as PyTorch
            # asarray keeps a float64 total float64 (a bare NumPy scalar becomes float32).
            return out.sum() / Tensor(self.xp.asarray(self.w_t.sum()))
        return _reduce(out, reduction)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """``-w_t input[target]``: the loss after ``log_softmax(x, dim=1)``, as PyTorch.

    Shapes, ``weight``, ``ignore_index`` and the weighted ``"mean"`` as ``cross_entropy``.
    """
    _check_reduction(reduction)
    c = _ClassTargets(input, target, weight, ignore_index, "log-probabilities")
    losses = -c.w_t * c.scores[c.rows, c.safe]

    def backward(g):
        grad = c.xp.zeros_like(c.scores)
        grad[c.rows, c.safe] = -c.w_t * g.reshape(-1)  # rows are distinct: no scatter-add
        return (c.grad_to_input(grad),)

    out = Tensor._op(losses.astype(input.dtype, copy=False).reshape(c.shape), (input,),
                     backward)
    return c.reduce(out, reduction)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """``-log softmax(input)[target]`` over the class axis 1, as ``torch.nn.functional``.

    input: logits (C,), (N, C) or (N, C, d1, ...); target: class indices (), (N,) or
    (N, d1, ...). ``weight`` (C,) scales each target's term; targets equal to
    ``ignore_index`` add nothing; ``"mean"`` divides by the summed weights of the targets
    kept (their count without ``weight``). With label smoothing ``e`` the loss is
    ``(1 - e) nll + e/C * sum_c w_c (-log p_c)``, as in PyTorch.

    A floating-point target of the input's shape holds class probabilities instead (soft
    labels); see ``_cross_entropy_soft``.

    Log-softmax is a shifted log-sum-exp, so large logits never overflow. Per element
    the gradient is ``(1-e) w_t (p - onehot_t) + e/C (sum(w) p - w)``.
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if getattr(target, "dtype", None) is not None and target.dtype.kind == "f":
        return _cross_entropy_soft(input, target, weight, reduction, float(label_smoothing))
    c = _ClassTargets(input, target, weight, ignore_index, "logits")
    xp, rows, safe, keep, w, w_t = c.xp, c.rows, c.safe, c.keep, c.w, c.w_t
    e, C = float(label_smoothing), c.C
    logp = _log_softmax(c.scores, axis=1)
    losses = -(1 - e) * w_t * logp[rows, safe]
    if e:
        losses = losses - (e / C) * keep * (logp * w).sum(axis=1)

    def backward(g):
        p = xp.exp(logp)
        grad = p * w_t[:, None]
        grad[rows, safe] -= w_t
        grad *= 1 - e
        if e:
            grad += (e / C) * keep[:, None] * (p * w.sum() - w)
        grad *= g.reshape(-1)[:, None]
        return (c.grad_to_input(grad),)

    out = Tensor._op(losses.astype(input.dtype, copy=False).reshape(c.shape), (input,),
                     backward)
    return c.reduce(out, reduction)


def _cross_entropy_soft(input: Tensor, target, weight, reduction: str, e: float) -> Tensor:
    """Cross-entropy against class probabilities ``y`` of the input's shape, as PyTorch:
    ``-sum_c w_c y'_c log p_c`` with ``y' = (1 - e) y + e/C``; ``"mean"`` divides by the
    number of predictions (not by weights). The gradient is ``p sum_c(w_c y'_c) - w y'``
    for the logits and ``-(1 - e) w log p`` for a target that requires one."""
    xp = get_array_module(input.data)
    if not isinstance(target, Tensor):
        target = Tensor(xp.asarray(target, dtype=input.dtype))
    if target.shape != input.shape or input.ndim < 1:
        raise ValueError(f"class-probability targets must have the input's shape "
                         f"{input.shape}, got {target.shape}")
    axis = 0 if input.ndim == 1 else 1
    C = input.shape[axis]
    w = xp.ones(C, dtype=input.dtype) if weight is None else \
        _constant(weight, "weight", xp, input.dtype, (C,))
    w = w.reshape((C,) + (1,) * (input.ndim - axis - 1))  # broadcast along the class axis
    logp = _log_softmax(input.data, axis)
    y = target.data.astype(input.dtype, copy=False) * (1 - e) + e / C
    wy = w * y
    losses = -(wy * logp).sum(axis=axis)

    def backward(g):
        g = xp.expand_dims(g, axis)
        gx = g * (xp.exp(logp) * wy.sum(axis=axis, keepdims=True) - wy)
        return gx, g * -(1 - e) * w * logp

    out = Tensor._op(losses, (input, target), backward)
    if reduction == "mean":
        return out.sum() * (C / input.data.size)
    return _reduce(out, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """``-w [pw y log s(x) + (1 - y) log(1 - s(x))]``, s the sigmoid, as PyTorch.

    Written ``(1 - y) x + (1 + (pw - 1) y) softplus(-x)`` with a softplus that never
    overflows. ``weight`` broadcasts to the input, ``pos_weight`` along the last
    (class) axis; ``"mean"`` is the plain mean over elements. The target may itself
    require a gradient (soft labels), as in PyTorch.
    """
    _check_reduction(reduction)
    xp = get_array_module(input.data)
    if not isinstance(target, Tensor):
        target = Tensor(xp.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"target must have the input's shape {input.shape}, got "
                         f"{target.shape}")
    x, y = input.data, target.data.astype(input.dtype, copy=False)
    w = 1 if weight is None else _constant(weight, "weight", xp, input.dtype)
    pw = 1 if pos_weight is None else _constant(pos_weight, "pos_weight", xp, input.dtype)
    for name, c in (("weight", w), ("pos_weight", pw)):
        try:
            fits = np.broadcast_shapes(np.shape(c), x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name} of shape {np.shape(c)} does not broadcast to the "
                             f"input's shape {x.shape}")
    softplus_neg = xp.logaddexp(0, -x)  # log(1 + exp(-x)) without overflow
    scale = 1 + (pw - 1) * y
    losses = w * ((1 - y) * x + scale * softplus_neg)

    def backward(g):
        gx = g * w * ((1 - y) - scale * _sigmoid(-x))
        gy = g * w * ((pw - 1) * softplus_neg - x)
        return gx, gy

    return _reduce(Tensor._op(losses, (input, target), backward), reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``."""
    if not isinstance(target, Tensor):
        target = Tensor(get_array_module(input.data).asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"target must have shape {input.shape}, got {target.shape}")
    diff = input - target
    return _reduce(diff * diff, reduction)


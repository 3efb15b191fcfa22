"""Stateless functions: activations, dropout, linear/embedding, losses, and the fused RNN."""
from __future__ import annotations


from ..backend import get_array_module
from ..tensor import Tensor, _log_softmax
from .dropout import dropout  # noqa: F401  (re-exported)
from .fused_rnn import gru, lstm, rnn  # noqa: F401  (re-exported)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.log_softmax(axis)


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


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """``-log softmax(input)[target]``; input (N, C) logits, target (N,) class indices.

    Computed from a shifted log-sum-exp, so large logits never overflow; the backward is
    ``softmax(input) - onehot(target)``.
    """
    xp = get_array_module(input.data)
    if input.ndim not in (1, 2):
        raise ValueError(f"input must be (N, C) or (C,) logits, got shape {input.shape}")
    logits = input.data if input.ndim == 2 else input.data[None]
    t = _integer_array(target, "target", xp).reshape(-1)
    N, C = logits.shape
    if t.shape != (N,):
        raise ValueError(f"target must have shape ({N},), got {tuple(t.shape)}")
    if N and (int(t.min()) < 0 or int(t.max()) >= C):
        raise ValueError(f"target must lie in [0, {C - 1}] ({C} classes), got min "
                         f"{int(t.min())}, max {int(t.max())}")
    logp = _log_softmax(logits, axis=1)
    rows = xp.arange(N)

    def backward(g):
        grad = xp.exp(logp)
        grad[rows, t] -= 1
        grad *= g[:, None]
        return (grad.reshape(input.shape),)

    losses = Tensor._op(-logp[rows, t], (input,), backward)
    if input.ndim == 1:
        losses = losses.reshape(())
    return _reduce(losses, reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``."""
    if not isinstance(target, Tensor):
        target = Tensor(get_array_module(input.data).asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"target must have shape {input.shape}, got {target.shape}")
    diff = input - target
    return _reduce(diff * diff, reduction)


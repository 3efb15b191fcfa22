"""The fused RNN op: one GEMM for the input projection, a kernel for the time loop, GEMMs
for the weight gradients.

For layer l, direction d, step t::

    h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)

The input projection ``xw = X W_ih^T + b_ih + b_hh`` of all T*B rows is one GEMM; only the
recurrence ``h_t = f(xw_t + h_{t-1} W_hh^T)`` is sequential and runs in the selected kernel
(``tinyrnn.kernels``). Backward, with ``d_a`` the gradient of the pre-activations from the
kernel::

    dW_ih = sum_t d_a_t^T x_t        dW_hh = sum_t d_a_t^T h_{t-1}
    db_ih = db_hh = sum_t d_a_t      dX = d_a W_ih

Stacked layers, both directions, inter-layer dropout and ``h_n`` are composed from these
direction ops with the generic autodiff engine.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, is_cuda_array, resolve_kernel
from ..tensor import Tensor, concat, stack
from ..threads import blas_threads
from . import functional as F

from tinyrnn.kernels.validate import check_lengths, check_nonlinearity, check_truncate


def _reverse_index(xp, T, B, lengths):
    """Index (T, B) that reverses each sequence within its own length (an involution)."""
    t = xp.arange(T)[:, None]
    if lengths is None:
        return xp.broadcast_to(T - 1 - t, (T, B))
    return xp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def _gather_time(a, index):
    return get_array_module(a).take_along_axis(a, index[:, :, None], axis=0)


def rnn_direction(x, h0, w_ih, w_hh, b_ih, b_hh, *, nonlinearity="tanh", lengths=None,
                  truncate=None, reverse=False) -> Tensor:
    """One direction of one layer: ``x`` (T, B, I), ``h0`` (B, H) -> outputs (T, B, H).

    ``lengths`` is an int64 array already validated; in the reverse direction each
    sequence is processed from its last real step back to step 0.
    """
    xp = get_array_module(x.data)
    kernel = resolve_kernel(is_cuda_array(x.data))
    T, B, I = x.shape
    H = w_hh.shape[0]
    order = _reverse_index(xp, T, B, lengths) if reverse else None
    xs = xp.ascontiguousarray(_gather_time(x.data, order) if reverse else x.data)
    x2 = xs.reshape(T * B, I)
    threads = kernel.blas_threads(B, H)
    with blas_threads(threads):
        xw = x2 @ w_ih.data.T
        if b_ih is not None:
            xw += b_ih.data + b_hh.data
        hs = kernel.forward(xw.reshape(T, B, H), w_hh.data, h0.data, nonlinearity, lengths)
    out = _gather_time(hs, order) if reverse else hs

    def backward(g):
        g_hs = _gather_time(g, order) if reverse else g
        with blas_threads(threads):
            d_a, d_h0 = kernel.backward(xp.ascontiguousarray(g_hs), hs, h0.data, w_hh.data,
                                        nonlinearity, truncate, lengths, None)
            d_a2 = d_a.reshape(T * B, H)
            d_x = None
            if x.requires_grad:
                d_x = (d_a2 @ w_ih.data).reshape(T, B, I)
                d_x = _gather_time(d_x, order) if reverse else d_x
            d_w_ih = d_a2.T @ x2
            # sum_t d_a_t^T h_{t-1}: h_{-1} = h0, the rest are the stored outputs.
            d_w_hh = d_a[0].T @ h0.data
            if T > 1:
                d_w_hh += d_a[1:].reshape(-1, H).T @ hs[:-1].reshape(-1, H)
            d_b = d_a2.sum(axis=0) if b_ih is not None else None
        return d_x, d_h0, d_w_ih, d_w_hh, d_b, d_b

    parents = (x, h0, w_ih, w_hh) + ((b_ih, b_hh) if b_ih is not None else ())
    return Tensor._op(out, parents, backward)


def _as_tensor(value, name):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a tinyrnn Tensor, got {type(value).__name__}")
    return value


def rnn(input, hx, weights, *, nonlinearity="tanh", batch_first=False, dropout_p=0.0,
        training=False, bidirectional=False, lengths=None, truncate=None):
    """Multi-layer Elman RNN, PyTorch's ``nn.RNN`` semantics (see DESIGN.md).

    ``weights`` lists ``(W_ih, W_hh, b_ih, b_hh)`` per layer and direction in PyTorch's
    order (l0, l0_reverse, l1, ...); the biases may be None. ``input`` is (T, B, I)
    ((B, T, I) with ``batch_first``) or unbatched (T, I); ``hx`` is (L*D, B, H) or None.
    Returns ``(output (T, B, D*H), h_n (L*D, B, H))``.
    """
    check_nonlinearity(nonlinearity)
    truncate = check_truncate(truncate)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout_p}")
    x = _as_tensor(input, "input")
    if x.dtype.kind != "f":
        raise TypeError(f"input must be floating point, got dtype {x.dtype}")
    num_directions = 2 if bidirectional else 1
    if len(weights) == 0 or len(weights) % num_directions:
        raise ValueError("weights must hold one (W_ih, W_hh, b_ih, b_hh) per layer and "
                         "direction")
    num_layers = len(weights) // num_directions
    H = weights[0][1].shape[0]

    if x.ndim not in (2, 3):
        raise ValueError(f"input must be 2-D (T, I) or 3-D ({'B, T' if batch_first else 'T, B'}"
                         f", I), got shape {x.shape}")
    unbatched = x.ndim == 2
    if unbatched:
        x = x.reshape(x.shape[0], 1, x.shape[1])
    elif batch_first:
        x = x.transpose(1, 0, 2)
    T, B, I = x.shape
    if T < 1 or B < 1 or I < 1:
        raise ValueError(f"input must be non-empty, got shape {input.shape}")
    if I != weights[0][0].shape[1]:
        raise ValueError(f"input must have {weights[0][0].shape[1]} features (input_size), "
                         f"got {I}")
    for w in weights:
        for p in w:
            if p is not None and p.dtype != x.dtype:
                raise TypeError(f"input has dtype {x.dtype} but the weights have {p.dtype}; "
                                f"cast one of them (module.to(dtype))")

    xp = get_array_module(x.data)
    if hx is None:
        hx = Tensor(xp.zeros((num_layers * num_directions, B, H), dtype=x.dtype))
    else:
        hx = _as_tensor(hx, "hx")
        expected = (num_layers * num_directions, H) if unbatched else \
                   (num_layers * num_directions, B, H)
        if hx.shape != expected:
            raise ValueError(f"hx must have shape {expected} (num_layers * num_directions, "
                             f"{'' if unbatched else 'batch, '}hidden_size), got {hx.shape}")
        if hx.dtype != x.dtype:
            raise TypeError(f"hx must have dtype {x.dtype}, got {hx.dtype}")
        if unbatched:
            hx = hx.reshape(num_layers * num_directions, 1, H)
    if lengths is not None:
        if unbatched:
            raise ValueError("lengths is only supported for batched input")
        if isinstance(lengths, Tensor):
            lengths = lengths.data
        if not hasattr(lengths, "dtype"):
            lengths = np.asarray(lengths)
            if lengths.size == 0 or lengths.dtype.kind not in "iu":
                raise TypeError(f"lengths must be a sequence of {B} integers, got {lengths!r}")
        lengths = check_lengths(lengths, T, B, xp)

    batch = xp.arange(B)
    layer_input, finals = x, []
    for layer in range(num_layers):
        outputs = []
        for d in range(num_directions):
            k = layer * num_directions + d
            w_ih, w_hh, b_ih, b_hh = weights[k]
            out = rnn_direction(layer_input, hx[k], w_ih, w_hh, b_ih, b_hh,
                                nonlinearity=nonlinearity, lengths=lengths,
                                truncate=truncate, reverse=d == 1)
            outputs.append(out)
            # The forward direction ends at each sequence's last real step, the reverse
            # direction at step 0.
            if d == 1:
                finals.append(out[0])
            else:
                finals.append(out[T - 1] if lengths is None else out[lengths - 1, batch])
        layer_input = outputs[0] if num_directions == 1 else concat(outputs, axis=2)
        if dropout_p > 0 and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout_p, training=True)
    output, h_n = layer_input, stack(finals, axis=0)
    if unbatched:
        return output.reshape(T, num_directions * H), h_n.reshape(-1, H)
    if batch_first:
        output = output.transpose(1, 0, 2)
    return output, h_n

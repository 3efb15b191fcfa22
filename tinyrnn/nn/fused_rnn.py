"""The fused recurrent op, one for every cell: a GEMM for the input projection, a kernel for
the time loop, GEMMs for the weight gradients.

For one layer and direction, with G gate blocks per unit (Elman 1, GRU 3, LSTM 4), the input
projection of all T*B rows is one GEMM, ``xw = X W_ih^T + b_ih (+ the part of b_hh that can
be folded in)`` (for a few input features the kernel forms it inside its loop instead:
``forward_projected``); only the recurrence runs step by step, in the kernel of the selected
back-end (``tinyrnn.kernels``; see ARCHITECTURE.md for the contract). The kernel's backward
pass gives ``d_xw`` (gradient of the input pre-activations) and ``d_hw`` (of the recurrent
ones, ``h_{t-1} W_hh^T + b_hh``; the same array except in the GRU), and then::

    dX = d_xw W_ih      dW_ih = sum_t d_xw_t^T x_t      db_ih = sum_t d_xw_t
    dW_hh = sum_t d_hw_t^T h_{t-1}                       db_hh = sum_t d_hw_t

Stacked layers, both directions, inter-layer dropout, ``lengths``, ``truncate`` and the final
states are composed here once for every cell, with the generic autodiff engine; arguments are
validated here once, and the kernels' unchecked entry points are called.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module, resolve_kernel
from ..tensor import Tensor, concat, stack
from ..threads import BLAS_ONE_THREAD_MAX_MACS, blas_threads, matmul_side_by_side
from .dropout import dropout

from tinyrnn.kernels.cells import Cell, cell as get_cell
from tinyrnn.kernels.validate import check_lengths, check_nonlinearity, check_truncate


def _reverse_index(xp, T, B, lengths):
    """Index (T, B) that reverses each sequence within its own length (an involution)."""
    t = xp.arange(T)[:, None]
    if lengths is None:
        return xp.broadcast_to(T - 1 - t, (T, B))
    return xp.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def _gather_time(a, index, axis=0):
    """``a[index[t, b], b]`` along the time axis ``axis`` of a (.., T, B, H) array."""
    shape = (1,) * axis + index.shape + (1,)
    return get_array_module(a).take_along_axis(a, index.reshape(shape), axis=axis)


# The input projection's bias rides in its GEMM, as a column of ones in X and a row in
# W_ih^T, for up to this many input features and from this many outputs (rows times G*H):
# adding a bias row by row after the GEMM costs more than the GEMM when rows are short and
# many (measured, I = 1: T*B = 1000, G*H = 32: 18.8 us with the add, 12.4 with the bias in
# the GEMM; the two are even near 4096 to 8192 outputs). For many features, or few rows,
# building the two larger operands costs more.
BIAS_IN_GEMM_MAX_INPUTS = 64
BIAS_IN_GEMM_MIN_OUTPUTS = 8192


def _input_projection(gemm, x2, w_ih, bias, xp):
    """``X W_ih^T + bias`` (``bias`` None: none) for the rows of X (T*B, I)."""
    if bias is None:
        return gemm(x2, w_ih.T)
    n, I = x2.shape
    if I > BIAS_IN_GEMM_MAX_INPUTS or n * w_ih.shape[0] < BIAS_IN_GEMM_MIN_OUTPUTS:
        out = gemm(x2, w_ih.T)
        out += bias
        return out
    x_ones = xp.empty((n, I + 1), dtype=x2.dtype)
    x_ones[:, :I] = x2
    x_ones[:, I] = 1
    w_bias = xp.empty((I + 1, w_ih.shape[0]), dtype=w_ih.dtype)
    w_bias[:I] = w_ih.T
    w_bias[I] = bias
    return gemm(x_ones, w_bias)


def recurrent_direction(cell: Cell, x, state0, w_ih, w_hh, b_ih, b_hh, *, options,
                        lengths=None, truncate=None, reverse=False) -> list:
    """One direction of one layer: ``x`` (T, B, I) and ``state0`` (S, B, H) (None: zeros) ->
    ``[h (T, B, H), final_0 (1, B, H), ..., final_{S-1}]``, one op with S + 1 outputs.

    ``h`` holds the outputs h_t; the finals are the states at each sequence's last real step
    (h_n; the LSTM's c_n too). Arguments are already validated (``lengths`` an int64 array);
    in the reverse direction each sequence runs from its last real step back to step 0, so
    its final states are those at step 0 of the output.
    """
    data = x.data
    xp = get_array_module(data)
    kernel = resolve_kernel(cell.name, xp is not np)
    T, B, I = data.shape
    H = w_hh.shape[1]
    S = cell.states
    GH = cell.gates * H
    order = _reverse_index(xp, T, B, lengths) if reverse else None
    xs = xp.ascontiguousarray(_gather_time(data, order) if reverse else data)
    x2 = xs.reshape(T * B, I)
    w_hh_data = xp.ascontiguousarray(w_hh.data)
    h0 = xp.zeros((S, B, H), data.dtype) if state0 is None else \
        xp.ascontiguousarray(state0.data)
    loop_options = options
    bias = None
    if b_ih is not None:
        bias = b_ih.data + b_hh.data
        if cell.name == "gru":
            # b_hn sits inside r * (W_hn h + b_hn): it stays in the time loop.
            bias[2 * H:] = b_ih.data[2 * H:]
            loop_options = dict(options, b_hn=xp.ascontiguousarray(b_hh.data[2 * H:]))
    around, loop = kernel.blas_threads(B, H)
    # BLAS held to one thread (its spinning pool would stall the compiled loop): the large
    # products around the loop then run side by side on helper threads that sleep when idle.
    # dot, not matmul, otherwise: for a few input features (I = 1) NumPy's matmul takes a
    # slow non-BLAS loop over the transposed view (measured: 6x slower at I = 1).
    gemm = matmul_side_by_side if around == 1 and xp is np else xp.dot
    # Each pass switches BLAS's thread count only where it would matter: not around a fused
    # loop (which calls no BLAS) whose products BLAS runs on one thread anyway, and inside
    # the loop only where its setting differs from the one around it (each switch costs
    # microseconds, which count at small sizes).
    fused = around == loop == 1
    pin_forward = None if fused and T * B * GH * I <= BLAS_ONE_THREAD_MAX_MACS else around
    pin_backward = None if fused and T * B * GH * max(I, H) <= BLAS_ONE_THREAD_MAX_MACS \
        else around
    in_loop = None if loop == around else loop
    # A few input features: the kernel projects them itself, step by step (no GEMM).
    if getattr(kernel, "projects", None) is not None and kernel.projects(B, I, H):
        ys, saved = kernel.forward_projected(xs, w_ih.data, bias, w_hh_data, h0, lengths,
                                             **loop_options)
    else:
        with blas_threads(pin_forward):
            xw = _input_projection(gemm, x2, w_ih.data, bias, xp)
            with blas_threads(in_loop):
                ys, saved = kernel.forward(xw.reshape(T, B, GH), w_hh_data, h0, lengths,
                                           **loop_options)
    # The kernel's step of each row's final state (in the reverse direction too: there it
    # ran the reversed sequence, whose last real step is step 0 of the output).
    if lengths is None:
        last, batch = T - 1, slice(None)
        finals = [ys[k, T - 1:T] for k in range(S)]
    else:
        last, batch = lengths - 1, xp.arange(B)
        finals = [ys[k, last, batch][None] for k in range(S)]
    hs = ys[0]
    out = _gather_time(hs, order) if reverse else hs

    def backward(g_h, *g_finals):
        if S == 1 and not reverse and g_h is not None and g_h.dtype == ys.dtype and \
                g_h.flags.c_contiguous and all(g is None for g in g_finals):
            g_ys = g_h.reshape(1, T, B, H)  # read only: the kernel needs no copy of it
        else:
            g_ys = xp.zeros((S, T, B, H), dtype=ys.dtype) if g_h is None or S > 1 else \
                xp.empty((S, T, B, H), dtype=ys.dtype)
            if g_h is not None:
                g_ys[0] = _gather_time(g_h, order) if reverse else g_h
            for k, g in enumerate(g_finals):
                if g is not None:
                    g_ys[k, last, batch] += g[0]
        with blas_threads(pin_backward):
            with blas_threads(in_loop):
                d_xw, d_hw, d_state0 = kernel.backward(g_ys, ys, saved, h0, w_hh_data,
                                                       truncate, lengths, **loop_options)
            d_xw2 = d_xw.reshape(T * B, GH)
            d_x = None
            if x.requires_grad:
                d_x = gemm(d_xw2, w_ih.data).reshape(T, B, I)
                d_x = _gather_time(d_x, order) if reverse else d_x
            d_w_ih = gemm(d_xw2.T, x2)
            # sum_t d_hw_t^T h_{t-1}: h_{-1} = h0, the rest are the stored outputs.
            d_w_hh = d_hw[0].T @ h0[0]
            if T > 1:
                d_w_hh += gemm(d_hw[1:].reshape(-1, GH).T, hs[:-1].reshape(-1, H))
            grads = (d_x, d_w_ih, d_w_hh) if state0 is None else \
                (d_x, d_state0, d_w_ih, d_w_hh)
            if b_ih is not None:
                # Column sums as a GEMV: several times faster than sum(axis=0) here.
                ones = xp.ones(T * B, dtype=d_xw.dtype)
                d_b_ih = ones @ d_xw2
                d_b_hh = d_b_ih if d_hw is d_xw else ones @ d_hw.reshape(T * B, GH)
                grads += (d_b_ih, d_b_hh)
        return grads

    parents = (x, w_ih, w_hh) if state0 is None else (x, state0, w_ih, w_hh)
    if b_ih is not None:
        parents += (b_ih, b_hh)
    return Tensor._op_many([out] + finals, parents, backward)


def _as_tensor(value, name):
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a tinyrnn Tensor, got {type(value).__name__}")
    return value


def _check_weights(cell, weights, num_directions, I, dtype):
    if len(weights) == 0 or len(weights) % num_directions:
        raise ValueError("weights must hold one (W_ih, W_hh, b_ih, b_hh) per layer and "
                         "direction")
    H = weights[0][1].shape[-1]
    GH = cell.gates * H
    for k, w in enumerate(weights):
        if len(w) != 4:
            raise ValueError("weights must hold one (W_ih, W_hh, b_ih, b_hh) per layer and "
                             "direction")
        fan_in = I if k < num_directions else num_directions * H
        w_ih, w_hh, b_ih, b_hh = w
        expected = [("W_ih", w_ih, (GH, fan_in)), ("W_hh", w_hh, (GH, H))]
        if (b_ih is None) != (b_hh is None):
            raise ValueError("b_ih and b_hh must both be given or both be None")
        if b_ih is not None:
            expected += [("b_ih", b_ih, (GH,)), ("b_hh", b_hh, (GH,))]
        for name, p, shape in expected:
            data = p.data
            if data.shape == shape and data.dtype == dtype:
                continue
            if p.shape != shape:
                if name == "W_ih" and k == 0:
                    raise ValueError(f"input must have {p.shape[-1]} features (input_size), "
                                     f"got {I}")
                raise ValueError(f"{name} of layer-direction {k} must have shape {shape} for "
                                 f"the {cell.name} cell, got {p.shape}")
            if p.dtype != dtype:
                raise TypeError(f"input has dtype {dtype} but the weights have {p.dtype}; "
                                f"cast one of them (module.to(dtype))")
    return H


def _initial_states(cell, hx, n, B, H, unbatched, dtype, xp):
    """The initial states of each of the n layer-directions, (S, B, H) each: from hx for RNN
    and GRU, from (h0, c0) for the LSTM; None (zeros) when hx is None."""
    if hx is None:
        return [None] * n
    expected = (n, H) if unbatched else (n, B, H)
    words = f"(num_layers * num_directions, {'' if unbatched else 'batch, '}hidden_size)"
    if cell.states == 2:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("hx must be None or a tuple (h0, c0) of tinyrnn Tensors for the "
                            f"LSTM, got {type(hx).__name__}")
        parts = [_as_tensor(hx[0], "h0"), _as_tensor(hx[1], "c0")]
        names = ("h0", "c0")
    else:
        if isinstance(hx, (tuple, list)):
            raise TypeError(f"hx must be a tinyrnn Tensor for the {cell.name} cell, not a "
                            f"{type(hx).__name__}")
        parts, names = [_as_tensor(hx, "hx")], ("hx",)
    for name, p in zip(names, parts):
        if p.shape != expected:
            raise ValueError(f"{name} must have shape {expected} {words}, got {p.shape}")
        if p.dtype != dtype:
            raise TypeError(f"{name} must have dtype {dtype}, got {p.dtype}")
    states = parts[0].reshape(1, n, B, H) if len(parts) == 1 else \
        stack([p.reshape(n, B, H) for p in parts], axis=0)
    return [states[:, k] for k in range(n)]


def _check_lengths_arg(lengths, T, B, unbatched, xp):
    if lengths is None:
        return None
    if unbatched:
        raise ValueError("lengths is only supported for batched input")
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    if not hasattr(lengths, "dtype"):
        lengths = np.asarray(lengths)
        if lengths.size == 0 or lengths.dtype.kind not in "iu":
            raise TypeError(f"lengths must be a sequence of {B} integers, got {lengths!r}")
    return check_lengths(lengths, T, B, xp)


def recurrent(cell_name, input, hx, weights, *, batch_first=False, dropout_p=0.0,
              training=False, bidirectional=False, lengths=None, truncate=None,
              nonlinearity="tanh"):
    """Multi-layer recurrence of any cell with PyTorch's semantics.

    Returns ``(output (T, B, D*H), finals)``: ``finals`` lists the final states, each
    (L*D, B, H): ``[h_n]``, or ``[h_n, c_n]`` for the LSTM (unbatched input: no B axis).
    """
    cell = get_cell(cell_name)
    options = {}
    if cell.name == "rnn":
        check_nonlinearity(nonlinearity)
        options["nonlinearity"] = nonlinearity
    truncate = check_truncate(truncate)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout_p}")
    x = _as_tensor(input, "input")
    if x.dtype.kind != "f":
        raise TypeError(f"input must be floating point, got dtype {x.dtype}")
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
    D = 2 if bidirectional else 1
    H = _check_weights(cell, weights, D, I, x.dtype)
    num_layers = len(weights) // D
    xp = get_array_module(x.data)
    states = _initial_states(cell, hx, num_layers * D, B, H, unbatched, x.dtype, xp)
    lengths = _check_lengths_arg(lengths, T, B, unbatched, xp)

    layer_input, finals = x, [[] for _ in range(cell.states)]
    for layer in range(num_layers):
        outputs = []
        for d in range(D):
            k = layer * D + d
            h, *last = recurrent_direction(cell, layer_input, states[k], *weights[k],
                                           options=options, lengths=lengths,
                                           truncate=truncate, reverse=d == 1)
            outputs.append(h)
            for state, f in zip(finals, last):
                state.append(f)
        layer_input = outputs[0] if D == 1 else concat(outputs, axis=2)
        if dropout_p > 0 and training and layer < num_layers - 1:
            layer_input = dropout(layer_input, dropout_p, training=True)
    output = layer_input
    finals = [f[0] if len(f) == 1 else concat(f, axis=0) for f in finals]
    if unbatched:
        return output.reshape(T, D * H), [f.reshape(-1, H) for f in finals]
    if batch_first:
        output = output.transpose(1, 0, 2)
    return output, finals


def rnn(input, hx, weights, *, nonlinearity="tanh", batch_first=False, dropout_p=0.0,
        training=False, bidirectional=False, lengths=None, truncate=None):
    """Multi-layer Elman RNN, PyTorch's ``nn.RNN`` semantics (see ARCHITECTURE.md).

    ``weights`` lists ``(W_ih, W_hh, b_ih, b_hh)`` per layer and direction in PyTorch's
    order (l0, l0_reverse, l1, ...); the biases may be None. ``input`` is (T, B, I)
    ((B, T, I) with ``batch_first``) or unbatched (T, I); ``hx`` is (L*D, B, H) or None.
    Returns ``(output (T, B, D*H), h_n (L*D, B, H))``.
    """
    output, finals = recurrent("rnn", input, hx, weights, nonlinearity=nonlinearity,
                               batch_first=batch_first, dropout_p=dropout_p, training=training,
                               bidirectional=bidirectional, lengths=lengths, truncate=truncate)
    return output, finals[0]


def gru(input, hx, weights, *, batch_first=False, dropout_p=0.0, training=False,
        bidirectional=False, lengths=None, truncate=None):
    """Multi-layer GRU, PyTorch's ``nn.GRU`` semantics; arguments as for ``rnn`` with
    (3H, .) weights in the gate order r, z, n. Returns ``(output, h_n)``."""
    output, finals = recurrent("gru", input, hx, weights, batch_first=batch_first,
                               dropout_p=dropout_p, training=training,
                               bidirectional=bidirectional, lengths=lengths, truncate=truncate)
    return output, finals[0]


def lstm(input, hx, weights, *, batch_first=False, dropout_p=0.0, training=False,
         bidirectional=False, lengths=None, truncate=None):
    """Multi-layer LSTM, PyTorch's ``nn.LSTM`` semantics; (4H, .) weights in the gate order
    i, f, g, o; ``hx`` is None or a tuple ``(h0, c0)``. Returns ``(output, (h_n, c_n))``."""
    output, finals = recurrent("lstm", input, hx, weights, batch_first=batch_first,
                               dropout_p=dropout_p, training=training,
                               bidirectional=bidirectional, lengths=lengths, truncate=truncate)
    return output, (finals[0], finals[1])

"""Shared builders for the recurrent-layer tests (every cell: "rnn", "gru", "lstm")."""
import numpy as np

import tinyrnn as tr

LAYERS = {"rnn": tr.nn.RNN, "gru": tr.nn.GRU, "lstm": tr.nn.LSTM}
CELLS = {"rnn": tr.nn.RNNCell, "gru": tr.nn.GRUCell, "lstm": tr.nn.LSTMCell}
STATES = {"rnn": 1, "gru": 1, "lstm": 2}


def random_lengths(rng, T, B):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T  # one full-length sequence, so the output keeps T steps
    return lengths


def make_layer(rng, cell, I, H, layers, bidirectional, nonlinearity="tanh", batch_first=False,
               bias=True, dtype=np.float64):
    tr.manual_seed(int(rng.integers(2**31)))
    kwargs = dict(num_layers=layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional)
    if cell == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    layer = LAYERS[cell](I, H, **kwargs).to(dtype)
    if cell == "rnn" and nonlinearity == "relu":
        # Keep relu networks away from exploding and from all-dead units.
        for p in layer.parameters():
            p.data *= 0.8
    return layer


def make_rnn(rng, I, H, layers, bidirectional, nonlinearity="tanh", batch_first=False,
             bias=True, dtype=np.float64):
    return make_layer(rng, "rnn", I, H, layers, bidirectional, nonlinearity, batch_first, bias,
                      dtype)


def cell_of(layer):
    return {tr.nn.RNN: "rnn", tr.nn.GRU: "gru", tr.nn.LSTM: "lstm"}[type(layer)]


def run(layer, x, states=None, **kwargs):
    """``layer(x, ...)`` with the initial states as a list ([h0] or [h0, c0], or None);
    returns ``(out, [h_n] or [h_n, c_n])``: one calling convention for every cell."""
    hx = None if states is None else (tuple(states) if len(states) == 2 else states[0])
    out, finals = layer(x, hx, **kwargs)
    return out, list(finals) if isinstance(finals, tuple) else [finals]


def unrolled(layer, x, states, lengths=None, truncate=None):
    """The same network run step by step with its cell (RNNCell, GRUCell, LSTMCell) through
    the generic autodiff engine.

    Independent of the fused op and its kernels: masking with lengths is arithmetic,
    truncation is ``detach()`` of the carried states at every chunk start.
    x: (T, B, I) Tensor, states: [h0] or [h0, c0], each (L*D, B, H). Returns (out (T, B, D*H),
    [h_n] or [h_n, c_n]).
    """
    name = cell_of(layer)
    T, B, _ = x.shape
    D = 2 if layer.bidirectional else 1
    H = layer.hidden_size
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(x.dtype)[:, :, None]
    rev = np.where(mask[:, :, 0] > 0, lengths[None, :] - 1 - np.arange(T)[:, None],
                   np.arange(T)[:, None])
    layer_in, finals = x, [[] for _ in states]
    for index in range(layer.num_layers):
        outs = []
        for d in range(D):
            sfx = "_reverse" if d else ""
            kwargs = {"nonlinearity": layer.nonlinearity} if name == "rnn" else {}
            cell = CELLS[name](layer_in.shape[2], H, bias=layer.bias, **kwargs)
            # Share the very parameter objects so gradients land in the layer's parameters.
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                setattr(cell, p, getattr(layer, f"{p}_l{index}{sfx}", None))
            seq = layer_in[rev, np.arange(B)[None, :]] if d else layer_in
            state = [s[index * D + d] for s in states]
            steps = [[] for _ in states]
            for t in range(T):
                if truncate is not None and t > 0 and t % truncate == 0:
                    state = [s.detach() for s in state]
                new = cell(seq[t], tuple(state) if len(state) == 2 else state[0])
                new = list(new) if isinstance(new, tuple) else [new]
                m = tr.tensor(mask[t])
                for k in range(len(state)):
                    steps[k].append(new[k] * m)
                state = [n * m + s * (1 - m) for n, s in zip(new, state)]
            for k, seq_k in enumerate(steps):
                seq_k = tr.stack(seq_k, axis=0)
                if d:
                    seq_k = seq_k[rev, np.arange(B)[None, :]]
                if k == 0:
                    outs.append(seq_k)
                finals[k].append(seq_k[lengths - 1, np.arange(B)] if d == 0 else seq_k[0])
        layer_in = outs[0] if D == 1 else tr.concat(outs, axis=2)
    return layer_in, [tr.stack(f, axis=0) for f in finals]

"""Shared builders for the RNN tests."""
import numpy as np

import tinyrnn as tr


def random_lengths(rng, T, B):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[rng.integers(B)] = T  # one full-length sequence, so the output keeps T steps
    return lengths


def make_rnn(rng, I, H, layers, bidirectional, nonlinearity="tanh", batch_first=False,
             bias=True, dtype=np.float64):
    tr.manual_seed(int(rng.integers(2**31)))
    rnn = tr.nn.RNN(I, H, num_layers=layers, nonlinearity=nonlinearity, bias=bias,
                    batch_first=batch_first, bidirectional=bidirectional).to(dtype)
    if nonlinearity == "relu":
        # Keep relu networks away from exploding and from all-dead units.
        for p in rnn.parameters():
            p.data *= 0.8
    return rnn


def unrolled_rnn(rnn, x, hx, lengths=None, truncate=None):
    """The same network run step by step with RNNCell through the generic autodiff engine.

    Independent of the fused op and its kernels: masking with lengths is arithmetic,
    truncation is `detach()` of the carried state at every chunk start.
    x: (T, B, I) Tensor, hx: (L*D, B, H) Tensor. Returns (out (T, B, D*H), h_n).
    """
    T, B, _ = x.shape
    D = 2 if rnn.bidirectional else 1
    H = rnn.hidden_size
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    mask = (np.arange(T)[:, None] < lengths[None, :]).astype(x.dtype)[:, :, None]
    rev = np.where(mask[:, :, 0] > 0, lengths[None, :] - 1 - np.arange(T)[:, None],
                   np.arange(T)[:, None])
    layer_in, finals = x, []
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(D):
            sfx = "_reverse" if d else ""
            cell = tr.nn.RNNCell(layer_in.shape[2], H, bias=rnn.bias,
                                 nonlinearity=rnn.nonlinearity)
            # Share the very parameter objects so gradients land in rnn's parameters.
            cell.weight_ih = getattr(rnn, f"weight_ih_l{layer}{sfx}")
            cell.weight_hh = getattr(rnn, f"weight_hh_l{layer}{sfx}")
            cell.bias_ih = getattr(rnn, f"bias_ih_l{layer}{sfx}", None)
            cell.bias_hh = getattr(rnn, f"bias_hh_l{layer}{sfx}", None)
            seq = layer_in[rev, np.arange(B)[None, :]] if d else layer_in
            h = hx[layer * D + d]
            steps = []
            for t in range(T):
                if truncate is not None and t > 0 and t % truncate == 0:
                    h = h.detach()
                h_new = cell(seq[t], h)
                m = tr.tensor(mask[t])
                steps.append(h_new * m)
                h = h_new * m + h * (1 - m)
            out = tr.stack(steps, axis=0)
            if d:
                out = out[rev, np.arange(B)[None, :]]
            outs.append(out)
            finals.append(out[lengths - 1, np.arange(B)] if d == 0 else out[0])
        layer_in = outs[0] if D == 1 else tr.concat(outs, axis=2)
    return layer_in, tr.stack(finals, axis=0)

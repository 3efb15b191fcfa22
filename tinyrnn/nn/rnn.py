"""Multi-layer recurrent layers: RNN (Elman), GRU and LSTM, with PyTorch's interface.

One base class holds what the three share: PyTorch's constructor arguments, parameter names
(``weight_ih_l{k}{_reverse}`` ...), shapes (G*H rows per matrix: 1, 3 or 4 gate blocks) and
U(-1/sqrt(H), 1/sqrt(H)) initialisation, so a PyTorch state dict loads unchanged; the forward
pass is the one fused op of every cell (``tinyrnn/nn/fused_rnn.py``). The chapter's Elman step
``h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)`` is ``RNN``; the gate equations are in
``tinyrnn/nn/cells.py``.
"""
from __future__ import annotations

from ..tensor import Tensor
from .fused_rnn import recurrent
from .init import _check_size, fan_in_bound, uniform
from .module import Module

from tinyrnn.kernels.cells import cell as get_cell
from tinyrnn.kernels.validate import check_nonlinearity


class RNNBase(Module):
    """``out, h_n = layer(x, hx=None, *, lengths=None, truncate=None)`` (LSTM: ``out,
    (h_n, c_n)``): x (T, B, I) ((B, T, I) with ``batch_first``; or unbatched (T, I)), hx
    (L*D, B, H); out (T, B, D*H). ``lengths`` gives each sequence's real length (outputs
    past it are zero, the final states are those at its last real step); ``truncate=k``
    cuts the gradient from step t to step t-1 at every positive multiple t of k (truncated
    BPTT)."""

    cell_name = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0):
        super().__init__()
        if proj_size:
            raise ValueError(f"proj_size is not supported (got {proj_size}); use a Linear "
                             "layer on the outputs instead")
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        k = fan_in_bound(hidden_size)
        D = 2 if bidirectional else 1
        GH = get_cell(self.cell_name).gates * hidden_size
        for layer in range(num_layers):
            fan = input_size if layer == 0 else D * hidden_size
            for suffix in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{layer}{suffix}", uniform((GH, fan), k))
                setattr(self, f"weight_hh_l{layer}{suffix}", uniform((GH, hidden_size), k))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", uniform((GH,), k))
                    setattr(self, f"bias_hh_l{layer}{suffix}", uniform((GH,), k))

    def _weights(self):
        """``(W_ih, W_hh, b_ih, b_hh)`` per layer and direction, in PyTorch's order."""
        names = self.__dict__.get("_weight_names")
        if names is None:  # once: the names do not change, and this runs on every call
            suffixes = ("", "_reverse")[:2 if self.bidirectional else 1]
            names = [tuple(f"{name}_l{layer}{suffix}"
                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                     for layer in range(self.num_layers) for suffix in suffixes]
            object.__setattr__(self, "_weight_names", names)
        return [tuple(getattr(self, name, None) for name in group) for group in names]

    def _run(self, input, hx, lengths, truncate, **options):
        return recurrent(self.cell_name, input, hx, self._weights(),
                         batch_first=self.batch_first, dropout_p=self.dropout,
                         training=self.training, bidirectional=self.bidirectional,
                         lengths=lengths, truncate=truncate, **options)

    def forward(self, input: Tensor, hx: Tensor | None = None, *, lengths=None, truncate=None):
        output, finals = self._run(input, hx, lengths, truncate)
        return output, finals[0]

    def extra_repr(self):
        opts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            opts.append(f"num_layers={self.num_layers}")
        for name, default in (("nonlinearity", "tanh"), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name, default) != default:
                opts.append(f"{name}={getattr(self, name)!r}")
        return ", ".join(opts)


class RNN(RNNBase):
    """Multi-layer Elman RNN, ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` with
    f = tanh (or relu), PyTorch's ``nn.RNN`` interface."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None, *, lengths=None, truncate=None):
        output, finals = self._run(input, hx, lengths, truncate,
                                   nonlinearity=self.nonlinearity)
        return output, finals[0]


class GRU(RNNBase):
    """Multi-layer GRU (gate rows r, z, n; see ``GRUCell``), PyTorch's ``nn.GRU`` interface:
    ``out, h_n = gru(x, hx=None, *, lengths=None, truncate=None)``."""

    cell_name = "gru"


class LSTM(RNNBase):
    """Multi-layer LSTM (gate rows i, f, g, o; see ``LSTMCell``), PyTorch's ``nn.LSTM``
    interface: ``out, (h_n, c_n) = lstm(x, hx=None, *, lengths=None, truncate=None)`` with
    ``hx`` None or a tuple ``(h0, c0)``, each (L*D, B, H). ``proj_size`` is not supported."""

    cell_name = "lstm"

    def forward(self, input: Tensor, hx=None, *, lengths=None, truncate=None):
        output, finals = self._run(input, hx, lengths, truncate)
        return output, (finals[0], finals[1])

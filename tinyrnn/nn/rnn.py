"""The Elman RNN: a single step (RNNCell) and the fused multi-layer layer (RNN).

Both compute ``h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (the chapter's
``h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)``) with PyTorch's parameter names, shapes and
U(-1/sqrt(H), 1/sqrt(H)) initialisation, so a PyTorch state dict loads unchanged.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..tensor import Tensor
from . import functional as F
from .init import _check_size, fan_in_bound, uniform
from .module import Module

from tinyrnn.kernels.validate import check_nonlinearity


class RNNCell(Module):
    """One step ``h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh)`` through the generic autodiff
    engine: input (B, I) or (I,), hx (B, H) or (H,) (zeros when None) -> h' (B, H)."""

    _optional_parameters = ("bias_ih", "bias_hh")

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        super().__init__()
        check_nonlinearity(nonlinearity)
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.nonlinearity = nonlinearity
        k = fan_in_bound(hidden_size)
        self.weight_ih = uniform((hidden_size, input_size), k)
        self.weight_hh = uniform((hidden_size, hidden_size), k)
        self.bias_ih = uniform((hidden_size,), k) if bias else None
        self.bias_hh = uniform((hidden_size,), k) if bias else None

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {input.shape}")
        batch_shape = input.shape[:-1]
        if hx is None:
            xp = get_array_module(input.data)
            hx = Tensor(xp.zeros(batch_shape + (self.hidden_size,), dtype=input.dtype))
        elif hx.shape != batch_shape + (self.hidden_size,):
            raise ValueError(f"hx must have shape {batch_shape + (self.hidden_size,)}, "
                             f"got {hx.shape}")
        a = F.linear(input, self.weight_ih, self.bias_ih) + \
            F.linear(hx, self.weight_hh, self.bias_hh)
        return a.tanh() if self.nonlinearity == "tanh" else a.relu()

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class RNN(Module):
    """Multi-layer Elman RNN with PyTorch's ``nn.RNN`` interface.

    ``out, h_n = rnn(x, hx=None, *, lengths=None, truncate=None)``: x (T, B, I) ((B, T, I)
    with ``batch_first``; or unbatched (T, I)), hx (L*D, B, H); out (T, B, D*H),
    h_n (L*D, B, H). ``lengths`` gives each sequence's real length (outputs past it are
    zero, h_n is the state at its last real step); ``truncate=k`` cuts the gradient from
    h_t to h_{t-1} at every positive multiple t of k (truncated BPTT).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        check_nonlinearity(nonlinearity)
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        self.num_layers = _check_size("num_layers", num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.nonlinearity, self.bias = nonlinearity, bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        k = fan_in_bound(hidden_size)
        D = 2 if bidirectional else 1
        for layer in range(num_layers):
            fan = input_size if layer == 0 else D * hidden_size
            for suffix in ("", "_reverse")[:D]:
                setattr(self, f"weight_ih_l{layer}{suffix}", uniform((hidden_size, fan), k))
                setattr(self, f"weight_hh_l{layer}{suffix}",
                        uniform((hidden_size, hidden_size), k))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", uniform((hidden_size,), k))
                    setattr(self, f"bias_hh_l{layer}{suffix}", uniform((hidden_size,), k))

    def _weights(self):
        D = 2 if self.bidirectional else 1
        out = []
        for layer in range(self.num_layers):
            for suffix in ("", "_reverse")[:D]:
                get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
                out.append((get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")))
        return out

    def forward(self, input: Tensor, hx: Tensor | None = None, *, lengths=None, truncate=None):
        return F.rnn(input, hx, self._weights(), nonlinearity=self.nonlinearity,
                     batch_first=self.batch_first, dropout_p=self.dropout,
                     training=self.training, bidirectional=self.bidirectional,
                     lengths=lengths, truncate=truncate)

    def extra_repr(self):
        opts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            opts.append(f"num_layers={self.num_layers}")
        for name, default in (("nonlinearity", "tanh"), ("bias", True), ("batch_first", False),
                              ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                opts.append(f"{name}={getattr(self, name)!r}")
        return ", ".join(opts)

"""Single-step recurrent cells (RNNCell, GRUCell, LSTMCell) through the generic autodiff engine.

PyTorch's names, shapes, defaults and U(-1/sqrt(H), 1/sqrt(H)) initialisation, so a PyTorch
state dict loads unchanged. Each cell is one step of its layer (``tinyrnn/nn/rnn.py``); the
layers run the same math in a fused op, and the tests check that the two derivations agree.
"""
from __future__ import annotations

from ..backend import get_array_module
from ..tensor import Tensor
from . import functional as F
from .init import _check_size, fan_in_bound, uniform
from .module import Module

from tinyrnn.kernels.validate import check_nonlinearity


class _CellBase(Module):
    """Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,)
    and the shape checks shared by the three cells."""

    _optional_parameters = ("bias_ih", "bias_hh")
    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size = _check_size("input_size", input_size)
        self.hidden_size = _check_size("hidden_size", hidden_size)
        k = fan_in_bound(hidden_size)
        GH = self.gates * hidden_size
        self.weight_ih = uniform((GH, input_size), k)
        self.weight_hh = uniform((GH, hidden_size), k)
        self.bias_ih = uniform((GH,), k) if bias else None
        self.bias_hh = uniform((GH,), k) if bias else None

    def _check_input(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"input must be a tinyrnn Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got {input.shape}")
        return input.shape[:-1] + (self.hidden_size,)

    def _state(self, input, value, name, shape):
        if value is None:
            xp = get_array_module(input.data)
            return Tensor(xp.zeros(shape, dtype=input.dtype))
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a tinyrnn Tensor, got {type(value).__name__}")
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
        if value.dtype != input.dtype:
            raise TypeError(f"{name} must have dtype {input.dtype}, got {value.dtype}")
        return value

    def _projections(self, input, h):
        return (F.linear(input, self.weight_ih, self.bias_ih),
                F.linear(h, self.weight_hh, self.bias_hh))

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + \
            ("" if self.bias_ih is not None else ", bias=False")


class RNNCell(_CellBase):
    """``h' = f(x W_ih^T + b_ih + h W_hh^T + b_hh)``, f = tanh or relu: input (B, I) or (I,),
    hx (B, H) or (H,) (zeros when None) -> h' (B, H)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        h = self._state(input, hx, "hx", self._check_input(input))
        gi, gh = self._projections(input, h)
        a = gi + gh
        return a.tanh() if self.nonlinearity == "tanh" else a.relu()

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class GRUCell(_CellBase):
    """Gate rows r, z, n::

        r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h

    input (B, I) or (I,), hx (B, H) or (H,) (zeros when None) -> h'."""

    gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        h = self._state(input, hx, "hx", self._check_input(input))
        gi, gh = self._projections(input, h)
        H = self.hidden_size
        r = (gi[..., :H] + gh[..., :H]).sigmoid()
        z = (gi[..., H:2 * H] + gh[..., H:2 * H]).sigmoid()
        n = (gi[..., 2 * H:] + r * gh[..., 2 * H:]).tanh()
        return (1 - z) * n + z * h


class LSTMCell(_CellBase):
    """Gate rows i, f, g, o::

        i, f, g, o = σ, σ, tanh, σ of (x W_ih^T + b_ih + h W_hh^T + b_hh)
        c' = f * c + i * g,   h' = o * tanh(c')

    ``h1, c1 = cell(x, (h, c))``; the state defaults to zeros."""

    gates = 4

    def forward(self, input: Tensor, hx=None):
        shape = self._check_input(input)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx must be None or a tuple (h, c), got {type(hx).__name__}")
        h = self._state(input, hx[0], "h", shape)
        c = self._state(input, hx[1], "c", shape)
        gi, gh = self._projections(input, h)
        a = gi + gh
        H = self.hidden_size
        i, f, o = (a[..., k * H:(k + 1) * H].sigmoid() for k in (0, 1, 3))
        g = a[..., 2 * H:3 * H].tanh()
        c1 = f * c + i * g
        return o * c1.tanh(), c1

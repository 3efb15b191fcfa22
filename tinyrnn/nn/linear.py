"""Linear layer ``y = x W^T + b``."""
from __future__ import annotations

from . import functional as F
from .init import _check_size, fan_in_bound, uniform
from .module import Module


class Linear(Module):
    """``y = x W^T + b`` with W (out_features, in_features), initialised U(±1/sqrt(in))."""

    _optional_parameters = ("bias",)

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        bound = fan_in_bound(in_features)
        self.weight = uniform((out_features, in_features), bound)
        self.bias = uniform((out_features,), bound) if bias else None

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input must have {self.in_features} features in its last axis, "
                             f"got shape {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"

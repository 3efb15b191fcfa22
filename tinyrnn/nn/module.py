"""Module and Parameter: named, nested collections of trainable tensors, as in PyTorch."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..backend import to_device
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (``requires_grad=True``)."""

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data, requires_grad=requires_grad)


class Module:
    """Base class: assigning a Parameter or a Module as an attribute registers it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError("call Module.__init__() before assigning attributes")
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        elif value is None and name in getattr(type(self), "_optional_parameters", ()):
            params[name] = None
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix=""):
        for module_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if p is not None:
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self):
        # The same order as named_parameters, without building the names: zero_grad and
        # the optimisers call this on every training step.
        out, stack = [], [self]
        while stack:
            m = stack.pop()
            out.extend(p for p in m._parameters.values() if p is not None)
            stack.extend(reversed(m._modules.values()))
        return out

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def to(self, target):
        """Move every parameter to "cpu"/"cuda", or cast it to a floating dtype, in place."""
        for p in self.parameters():
            if isinstance(target, str):
                p.data = to_device(p.data, target)
            else:
                dtype = np.dtype(target)
                if dtype.kind != "f":
                    raise TypeError(f"parameters must stay floating point, got dtype {dtype}")
                p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter copies as NumPy arrays, keyed like PyTorch (``layer.weight``)."""
        return OrderedDict((name, np.array(to_device(p.data, "cpu")))
                           for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays into the parameters, keeping each parameter's dtype and device.

        Keys and shapes are checked before anything is written; with ``strict`` the keys
        must match exactly. Returns ``(missing_keys, unexpected_keys)``.
        """
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"state_dict keys do not match {type(self).__name__}: "
                             f"missing {missing}, unexpected {unexpected}")
        updates = []
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.numpy() if isinstance(value, Tensor) else to_device(value, "cpu")
            value = np.asarray(value)
            if value.dtype.kind not in "fiu":
                raise TypeError(f"state_dict[{name!r}] must be numeric, got dtype {value.dtype}")
            if value.shape != p.shape:
                raise ValueError(f"state_dict[{name!r}] must have shape {p.shape}, "
                                 f"got {value.shape}")
            updates.append((p, value))
        for p, value in updates:  # all checks passed: now write
            device = p.device
            p.data = to_device(value.astype(p.dtype, copy=True), device)
        return missing, unexpected

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ")
                 for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")

"""The autodiff engine: a Tensor over a NumPy or CuPy array, reverse mode in topological order.

Every op builds its output with ``Tensor._op(data, parents, backward)`` where
``backward(g)`` maps the gradient of the output to one gradient per parent (``None``
where a parent needs none). Each op's backward sits right beside its forward.
"""
from __future__ import annotations

import contextlib
import itertools
import operator
import threading

import numpy as np

from .backend import get_array_module, is_cuda_array, to_device

class _GradMode(threading.local):
    enabled = True  # per thread; the class attribute is every new thread's default


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


@contextlib.contextmanager
def no_grad():
    """Build no graph inside the block (inference, optimiser updates)."""
    previous = is_grad_enabled()
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def _as_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if is_cuda_array(data):
        array = data if dtype is None else data.astype(dtype, copy=False)
    else:
        array = np.asarray(data, dtype=dtype)
        if array.dtype == np.float16 or array.dtype.kind not in "fiub":
            raise TypeError(f"data must be a numeric array, got dtype {array.dtype}")
        if dtype is None and array.dtype.kind in "f" and not isinstance(data, np.ndarray):
            array = array.astype(np.float32)  # Python floats become float32, as in PyTorch
    return array


def _axis(axis, dim, default=None):
    """The axis given as NumPy's ``axis`` or PyTorch's ``dim`` (either, not both)."""
    if axis is not None and dim is not None:
        raise TypeError(f"give axis or dim, not both (got axis={axis!r}, dim={dim!r})")
    chosen = axis if dim is None else dim
    return default if chosen is None else chosen


def _keep(keepdims, keepdim):
    """``keepdims`` (NumPy) or ``keepdim`` (PyTorch); either may be given."""
    if keepdim is not None and keepdims is not None and bool(keepdim) != bool(keepdims):
        raise TypeError(f"keepdims={keepdims!r} and keepdim={keepdim!r} disagree")
    return bool(keepdims if keepdim is None else keepdim)


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the backward of NumPy broadcasting."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


_created = itertools.count(1)           # numbers the outputs of ops as they are made
_creation_order = operator.attrgetter("_seq")


class _Slots(list):
    """The gradients of a several-output op's outputs, one slot each (``Tensor._op_many``);
    the sweep sums two of them slot by slot."""

    def __add__(self, other):
        return _Slots(b if a is None else a if b is None else a + b
                      for a, b in zip(self, other))


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    ``t.backward()`` fills ``.grad`` of every leaf with ``requires_grad=True`` that ``t``
    depends on; gradients accumulate across calls until ``zero_grad``.
    """

    __array_priority__ = 1000  # ndarray + Tensor dispatches to Tensor.__radd__
    _seq = 0  # creation order of an op's output (below); leaves keep 0

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError("only floating-point tensors can require gradients, "
                            f"got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._parents: tuple = ()
        self._backward = None

    # ------------------------------------------------------------------ graph plumbing
    @classmethod
    def _op(cls, data, parents, backward):
        out = cls.__new__(cls)
        out.data, out.grad = data, None
        needs = False
        if _grad_mode.enabled:
            for p in parents:
                if p.requires_grad:
                    needs = True
                    break
        out.requires_grad = needs
        if needs:
            out._parents, out._backward, out._seq = tuple(parents), backward, next(_created)
        else:
            out._parents, out._backward = (), None
        return out

    @classmethod
    def _op_many(cls, datas, parents, backward):
        """An op with several outputs: ``backward(g_0, g_1, ...)`` gets one gradient per
        output (None for an output nothing depended on) and returns one per parent.

        The outputs hang off one hidden node; each passes its gradient to its own slot of
        that node's, so no output's gradient is ever padded to the size of another.
        """
        n = len(datas)
        hub = cls._op(None, parents, lambda slots: backward(*slots))

        def part(i):
            def to_slot(g):
                slots = _Slots([None] * n)
                slots[i] = g
                return (slots,)
            return to_slot

        return [cls._op(d, (hub,), part(i)) for i, d in enumerate(datas)]

    def backward(self, grad=None):
        """Reverse-mode sweep from this tensor; ``grad`` defaults to 1 for a scalar."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise ValueError("grad must be given for a non-scalar tensor "
                                 f"(shape {self.shape})")
            # (a 0-d array directly: ones_like costs five times as much)
            grad = xp.array(1, dtype=self.data.dtype) if self.data.ndim == 0 else \
                xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad,
                              dtype=self.data.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"grad must have shape {self.shape}, got {grad.shape}")

        # Every tensor the sweep reaches (a loop: RNN graphs are too deep for recursion),
        # visited children first: an op's output is created after its inputs, so
        # descending creation order is a topological order.
        nodes = {id(self): self}
        stack = [self]
        while stack:
            for p in stack.pop()._parents:
                if p.requires_grad and id(p) not in nodes:
                    nodes[id(p)] = p
                    stack.append(p)

        grads = {id(self): grad}
        pop, get = grads.pop, grads.get
        for node in sorted(nodes.values(), key=_creation_order, reverse=True):
            g = pop(id(node), None)
            if g is None:
                continue
            backward = node._backward
            if backward is None:  # a leaf
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, backward(g)):
                if pg is not None and parent.requires_grad:
                    key = id(parent)
                    prev = get(key)
                    grads[key] = pg if prev is None else prev + pg

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def numpy(self):
        return to_device(self.data, "cpu")

    def item(self):
        return self.data.item()

    def to(self, target) -> "Tensor":
        """A copy on device "cpu"/"cuda", or cast to a NumPy dtype; a leaf keeps requires_grad."""
        if isinstance(target, str):
            data = to_device(self.data, target)
        else:
            data = self.data.astype(target)
        return Tensor(data, requires_grad=self.requires_grad)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self) -> str:
        return "cuda" if is_cuda_array(self.data) else "cpu"

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({self.data!r}{flag})"

    # ------------------------------------------------------------------ arithmetic
    def _lift(self, other) -> "Tensor":
        if isinstance(other, Tensor):
            return other
        xp = get_array_module(self.data)
        return Tensor(xp.asarray(other, dtype=self.data.dtype))

    def __add__(self, other):
        other = self._lift(other)
        a, b = self.shape, other.shape
        return Tensor._op(self.data + other.data, (self, other),
                          lambda g: (_unbroadcast(g, a), _unbroadcast(g, b)))

    def __sub__(self, other):
        other = self._lift(other)
        a, b = self.shape, other.shape
        return Tensor._op(self.data - other.data, (self, other),
                          lambda g: (_unbroadcast(g, a), _unbroadcast(-g, b)))

    def __mul__(self, other):
        other = self._lift(other)
        x, y = self.data, other.data
        return Tensor._op(x * y, (self, other),
                          lambda g: (_unbroadcast(g * y, x.shape), _unbroadcast(g * x, y.shape)))

    def __truediv__(self, other):
        other = self._lift(other)
        x, y = self.data, other.data
        return Tensor._op(x / y, (self, other),
                          lambda g: (_unbroadcast(g / y, x.shape),
                                     _unbroadcast(-g * x / (y * y), y.shape)))

    def __radd__(self, other):
        return self._lift(other) + self

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self._lift(other) * self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __neg__(self):
        return Tensor._op(-self.data, (self,), lambda g: (-g,))

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            raise TypeError("exponent must be a Python number")
        x = self.data
        return Tensor._op(x ** exponent, (self,),
                          lambda g: (g * exponent * x ** (exponent - 1),))

    def __matmul__(self, other):
        other = self._lift(other)
        x, y = self.data, other.data
        if x.ndim < 1 or y.ndim < 1:
            raise ValueError("matmul needs at least 1-D operands")
        xp = get_array_module(x)

        def backward(g):
            # Promote vectors to matrices so one formula serves every rank.
            x2 = x[None, :] if x.ndim == 1 else x
            y2 = y[:, None] if y.ndim == 1 else y
            g2 = g
            if x.ndim == 1:
                g2 = xp.expand_dims(g2, -2)
            if y.ndim == 1:
                g2 = xp.expand_dims(g2, -1)
            gx = g2 @ xp.swapaxes(y2, -1, -2)
            gy = xp.swapaxes(x2, -1, -2) @ g2
            gx = gx[..., 0, :] if x.ndim == 1 else gx
            gy = gy[..., 0] if y.ndim == 1 else gy
            return _unbroadcast(gx, x.shape), _unbroadcast(gy, y.shape)

        return Tensor._op(x @ y, (self, other), backward)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        """Sum over ``axis`` (or ``dim``; all axes when neither is given)."""
        axis, keepdims = _axis(axis, dim), _keep(keepdims, keepdim)
        if isinstance(axis, list):
            axis = tuple(axis)
        x = self.data
        xp = get_array_module(x)

        def backward(g):
            if g.ndim == 0 and xp is np:
                # a full sum: a fill costs a fifth of broadcast_to and copy on small arrays
                out = np.empty(x.shape, dtype=g.dtype)
                out.fill(g)
                return (out,)
            if not keepdims and axis is not None:
                g = xp.expand_dims(g, axis)
            return (xp.broadcast_to(g, x.shape).copy(),)

        return Tensor._op(x.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        """Mean over ``axis`` (or ``dim``; all axes when neither is given)."""
        axis, keepdims = _axis(axis, dim), _keep(keepdims, keepdim)
        if isinstance(axis, list):
            axis = tuple(axis)
        n = self.data.size if axis is None else int(np.prod(
            [self.data.shape[a] for a in np.atleast_1d(axis)]))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / n)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        old = self.shape
        return Tensor._op(self.data.reshape(shape), (self,), lambda g: (g.reshape(old),))

    def view(self, *shape):
        """PyTorch's name for ``reshape`` (NumPy arrays need no contiguity check)."""
        return self.reshape(*shape)

    def unsqueeze(self, dim: int):
        """A new axis of length 1 at ``dim`` (negative counts from the new end)."""
        dim = dim + self.ndim + 1 if dim < 0 else dim
        if not 0 <= dim <= self.ndim:
            raise ValueError(f"dim must be in [{-self.ndim - 1}, {self.ndim}], got {dim}")
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        """Drop axes of length 1 (only ``dim``, when given; a longer one stays, as torch)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = dim % max(self.ndim, 1)
        if self.ndim == 0 or self.shape[dim] != 1:
            return self.reshape(self.shape)
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def size(self, dim=None):
        """The shape, or the length of axis ``dim``, as in PyTorch."""
        return self.shape if dim is None else self.shape[dim]

    def transpose(self, *axes):
        """NumPy's: axes in a new order (reversed when none are given). Two axes of a
        tensor with more than two are swapped, as ``torch.transpose(dim0, dim1)`` (NumPy
        would refuse them)."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if len(axes) == 2 and self.ndim > 2:
            order = list(range(self.ndim))
            order[axes[0]], order[axes[1]] = order[axes[1]], order[axes[0]]
            axes = order
        return self.permute(*axes) if axes else self.permute(*reversed(range(self.ndim)))

    def permute(self, *dims):
        """The axes in the order ``dims``, as ``torch.Tensor.permute``."""
        axes = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = tuple(int(a) + self.ndim if -self.ndim <= a < 0 else int(a) for a in axes)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"dims must order all {self.ndim} axes once each, got {dims}")
        inverse = tuple(np.argsort(axes))
        return Tensor._op(self.data.transpose(axes), (self,),
                          lambda g: (g.transpose(inverse),))

    @property
    def T(self):
        return self.transpose()

    def __getitem__(self, index):
        """Basic and advanced indexing; integer-array indexing is a gather."""
        if isinstance(index, Tensor):
            index = index.data
        x = self.data
        xp = get_array_module(x)

        parts = index if isinstance(index, tuple) else (index,)
        basic = all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))
                    for p in parts)

        def backward(g):
            gx = xp.zeros_like(x)
            if basic:  # a view: each element is picked at most once
                gx[index] = g
            else:
                xp.add.at(gx, index, g)  # scatter-add: repeated indices accumulate
            return (gx,)

        return Tensor._op(x[index], (self,), backward)

    # ------------------------------------------------------------------ dtypes and indices
    def astype(self, dtype) -> "Tensor":
        """A differentiable cast to a floating dtype; the gradient is cast back."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"astype keeps tensors floating point, got dtype {dtype}; "
                            "use long() for integer indices")
        old = self.data.dtype
        return Tensor._op(self.data.astype(dtype), (self,), lambda g: (g.astype(old),))

    def float(self) -> "Tensor":
        """float32, as ``torch.Tensor.float``; differentiable."""
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        """float64, as ``torch.Tensor.double``; differentiable."""
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        """int64 (truncating), outside the graph: integers carry no gradient."""
        return Tensor(self.data.astype(np.int64))

    def argmax(self, axis=None, keepdims=None, *, dim=None, keepdim=None) -> "Tensor":
        """Indices of the maxima (of the flattened tensor when no axis is given), int64."""
        return self._arg("argmax", _axis(axis, dim), _keep(keepdims, keepdim))

    def argmin(self, axis=None, keepdims=None, *, dim=None, keepdim=None) -> "Tensor":
        """Indices of the minima (of the flattened tensor when no axis is given), int64."""
        return self._arg("argmin", _axis(axis, dim), _keep(keepdims, keepdim))

    def _arg(self, name, axis, keepdims):
        xp = get_array_module(self.data)
        idx = getattr(xp, name)(self.data, axis=axis)
        if keepdims:  # torch keeps every axis as size 1 when flattening too
            idx = xp.expand_dims(idx, axis) if axis is not None else idx.reshape(
                (1,) * self.ndim)
        return Tensor(idx.astype(np.int64))

    # ------------------------------------------------------------------ elementwise
    def tanh(self):
        xp = get_array_module(self.data)
        y = xp.tanh(self.data)
        return Tensor._op(y, (self,), lambda g: (g * (1 - y * y),))

    def sigmoid(self):
        y = _sigmoid(self.data)
        return Tensor._op(y, (self,), lambda g: (g * y * (1 - y),))

    def relu(self):
        x = self.data
        return Tensor._op(x * (x > 0), (self,), lambda g: (g * (x > 0),))

    def exp(self):
        y = get_array_module(self.data).exp(self.data)
        return Tensor._op(y, (self,), lambda g: (g * y,))

    def log(self):
        x = self.data
        return Tensor._op(get_array_module(x).log(x), (self,), lambda g: (g / x,))

    def softmax(self, axis=None, *, dim=None):
        """Softmax along ``axis`` or ``dim`` (default: the last axis)."""
        axis = _axis(axis, dim, -1)
        y = _softmax(self.data, axis)
        return Tensor._op(y, (self,),
                          lambda g: (y * (g - (g * y).sum(axis=axis, keepdims=True)),))

    def log_softmax(self, axis=None, *, dim=None):
        """Log-softmax along ``axis`` or ``dim`` (default: the last axis)."""
        axis = _axis(axis, dim, -1)
        y = _log_softmax(self.data, axis)
        xp = get_array_module(y)
        return Tensor._op(y, (self,),
                          lambda g: (g - xp.exp(y) * g.sum(axis=axis, keepdims=True),))


def _sigmoid(x):
    xp = get_array_module(x)
    # Two branches so that exp never overflows.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _log_softmax(x, axis):
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax(x, axis):
    xp = get_array_module(x)
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Wrap a NumPy or CuPy array (or nested lists) as a Tensor."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def concat(tensors, axis=None, *, dim=None) -> Tensor:
    """Join tensors along an existing axis (``axis`` or ``dim``, default 0)."""
    axis = _axis(axis, dim, 0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("tensors must be a non-empty sequence")
    xp = get_array_module(tensors[0].data)
    ends = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return Tensor._op(xp.concatenate([t.data for t in tensors], axis=axis), tensors,
                      lambda g: tuple(xp.split(g, ends, axis=axis)))


def stack(tensors, axis=None, *, dim=None) -> Tensor:
    """Join tensors along a new axis (``axis`` or ``dim``, default 0)."""
    axis = _axis(axis, dim, 0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("tensors must be a non-empty sequence")
    xp = get_array_module(tensors[0].data)
    n = len(tensors)
    return Tensor._op(xp.stack([t.data for t in tensors], axis=axis), tensors,
                      lambda g: tuple(xp.moveaxis(g, axis, 0)[i] for i in range(n)))


cat = concat  # PyTorch's name


# ---------------------------------------------------------------------- factories
# PyTorch's defaults: float32 for zeros/ones/randn; arange is int64 unless a bound is a float.

def _size(size, name):
    size = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in size):
        raise ValueError(f"{name}() needs non-negative integer sizes, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _made(array, dtype, device, requires_grad):
    if dtype is not None:
        array = array.astype(dtype)
    return Tensor(to_device(array, device), requires_grad=requires_grad)


def zeros(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A tensor of zeros, float32 unless ``dtype`` says otherwise."""
    return _made(np.zeros(_size(size, "zeros"), np.float32), dtype, device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """A tensor of ones, float32 unless ``dtype`` says otherwise."""
    return _made(np.ones(_size(size, "ones"), np.float32), dtype, device, requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """Standard normal samples from tinyrnn's generator (``tr.manual_seed``), float32."""
    from .random import generator
    sample = generator().standard_normal(_size(size, "randn"), dtype=np.float32)
    return _made(sample, dtype, device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device="cpu", requires_grad=False):
    """``[start, end)`` in steps, as ``torch.arange``; ``arange(n)`` counts from 0."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange() needs a non-zero step")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    array = np.arange(start, end, step, dtype=np.int64 if integral else np.float32)
    return _made(array, dtype, device, requires_grad)


def from_numpy(array) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype, as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy() needs a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)

"""Central-difference gradient checks in float64."""
from __future__ import annotations

import numpy as np

from .backend import to_device
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with the numeric one."""


def _scalarize(out, weights):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    total = None
    for o, w in zip(outs, weights):
        term = (o * Tensor(w)).sum()
        total = term if total is None else total + term
    return total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central differences.

    The outputs (a Tensor or a tuple of them) are reduced to the scalar
    ``L = sum_k <w_k, out_k>`` with fixed random weights ``w_k``, so every output element
    is checked at once. For each input x with ``requires_grad`` and each element x_i::

        dL/dx_i  ~  (L(x_i + eps) - L(x_i - eps)) / (2 eps)

    and the analytic gradient must satisfy ``|analytic - numeric| <= atol + rtol |numeric|``
    element-wise (a relative test that is safe where the gradient is zero).
    Inputs must be float64. Returns True or raises ``GradcheckError`` naming the input and
    the worst element.
    """
    inputs = list(inputs)
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("inputs must contain at least one Tensor with requires_grad=True")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck needs float64 inputs, got {t.dtype}")

    rng = np.random.default_rng(seed)
    first = fn(*inputs)
    outs = first if isinstance(first, (tuple, list)) else (first,)
    weights = []
    for o in outs:
        w = rng.standard_normal(o.shape)
        weights.append(to_device(w, o.device))

    for t in checked:
        t.grad = None
    loss = _scalarize(first, weights)
    loss.backward()
    analytic = [to_device(t.grad, "cpu") if t.grad is not None else np.zeros(t.shape)
                for t in checked]

    def evaluate() -> float:
        from .tensor import no_grad
        with no_grad():
            return float(_scalarize(fn(*inputs), weights).item())

    for k, t in enumerate(checked):
        numeric = np.zeros(t.shape)
        if not t.data.flags.c_contiguous:
            t.data = t.data.copy()
        flat = t.data.reshape(-1)  # a view: perturb in place
        for i in range(flat.size):
            original = flat[i].item()
            flat[i] = original + eps
            plus = evaluate()
            flat[i] = original - eps
            minus = evaluate()
            flat[i] = original
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        err = np.abs(analytic[k] - numeric)
        bound = atol + rtol * np.abs(numeric)
        if np.any(err > bound) or not np.all(np.isfinite(analytic[k])):
            i = int(np.argmax(err - bound))
            idx = np.unravel_index(i, t.shape) if t.shape else ()
            raise GradcheckError(
                f"gradient of input {k} (shape {t.shape}) disagrees at {idx}: "
                f"analytic {analytic[k].reshape(-1)[i]:.10g}, numeric "
                f"{numeric.reshape(-1)[i]:.10g}")
    return True

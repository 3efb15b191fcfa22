"""Vectorisable tanh and sigmoid for float32 time loops in Numba.

``np.tanh`` and ``np.exp`` compile to a libm call per element (about 9 ns here), which is
most of the cost of a small recurrent step and keeps LLVM from vectorising the loop. For
float32 data these compute, in float64 arithmetic with no calls and no branches LLVM cannot
flatten::

    tanh(x) = sign(x) * (1 - 2 / (exp(2|x|) + 1)),     exp(2|x|) = exp(|x|/16)^32
    σ(x) = 1 / (1 + exp(-|x|)) for x >= 0 (1 - that for x < 0),   exp(|x|) = exp(|x|/32)^32

with ``exp(z)``, z in [0, 5/8], from its Taylor series to degree 10 (error < 2e-10), and
the odd Taylor series of tanh for |x| < 1/4, where the first form would cancel. |x| is
clamped where the float32 result no longer changes (tanh: 10; σ: 20, beyond which σ(-|x|)
is below 2e-9). Results are within 1 ulp of the correctly rounded float32 values (checked
in tests/test_numba_kernel.py). float64 data keeps ``np.tanh``/``np.exp``: gradient checks
need the full precision.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10 = [1.0 / math.factorial(k)
                                                           for k in range(11)]
# tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 + ...
_T3, _T5, _T7, _T9, _T11, _T13 = (-1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925,
                                  21844 / 6081075)


@njit(cache=True)
def _exp_pow32(z):
    """exp(32 z) for z in [0, 5/8]: a Taylor polynomial, then squared five times."""
    e = _E0 + z * (_E1 + z * (_E2 + z * (_E3 + z * (_E4 + z * (_E5 + z * (
        _E6 + z * (_E7 + z * (_E8 + z * (_E9 + z * _E10)))))))))
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return e * e


def tanh(x):
    """``np.tanh`` in Python; inside Numba code, the fast form for float32 arguments."""
    return np.tanh(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` in Python; inside Numba code, the fast form for float32."""
    return 1.0 / (1.0 + np.exp(-x))


@overload(tanh)
def _tanh_overload(x):
    if x != types.float32:
        return lambda x: np.tanh(x)

    def fast_tanh32(x):
        ax = min(abs(np.float64(x)), 10.0)
        e = _exp_pow32(ax * 0.0625)
        large = 1.0 - 2.0 / (e + 1.0)
        s = ax * ax
        small = ax + ax * s * (_T3 + s * (_T5 + s * (_T7 + s * (_T9 + s * (_T11 + s * _T13)))))
        r = small if ax < 0.25 else large
        return np.float32(math.copysign(r, x))

    return fast_tanh32


@overload(sigmoid)
def _sigmoid_overload(x):
    if x != types.float32:
        return lambda x: 1.0 / (1.0 + np.exp(-x))

    def fast_sigmoid32(x):
        x64 = np.float64(x)
        e = _exp_pow32(min(abs(x64), 20.0) * 0.03125)  # exp(|x|)
        low = 1.0 / (1.0 + e)                         # σ(-|x|), no cancellation
        return np.float32(1.0 - low if x64 >= 0 else low)

    return fast_sigmoid32

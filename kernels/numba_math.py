"""Vectorisable tanh and sigmoid for float32 time loops in Numba.

``np.tanh`` and ``np.exp`` compile to a libm call per element (about 9 ns here), which is
most of the cost of a small recurrent step and keeps LLVM from vectorising the loop. For
float32 data these use an exp written in float32 arithmetic, eight lanes to an AVX2
register, with no calls and no branches LLVM cannot flatten::

    exp(x) = 2^k exp(r),   k = round(x / ln 2),   r = x - k ln 2 in [-ln 2 / 2, ln 2 / 2]

``k ln 2`` is subtracted in two parts (Cody and Waite: ``ln 2 = LN2_HI + LN2_LO`` with
``LN2_HI`` short enough that ``k LN2_HI`` is exact), exp(r) is its Taylor polynomial of
degree 7 (truncation error below 6e-9) and 2^k is built from its exponent bits. The result
is within 1 ulp. Then, all in float32::

    σ(x) = 1 / (1 + exp(-x))
    tanh(x) = sign(x) (1 - 2 / (exp(2|x|) + 1))      for |x| >= 5/8
    tanh(x) = x + x s P(s),  s = x^2                 for |x| < 5/8

where the first tanh form would cancel. P is a degree-4 polynomial fitted by least squares
to (tanh(x)/x - 1)/s on 400 Chebyshev nodes of s in [0, (5/8)^2], weighted by s (relative
error of tanh below 5e-9). In σ the rounding of ``d = 1 + e`` would be amplified (a plain
float32 σ is 2.3 ulp off), so the sum is carried exactly, ``d + d_lo`` (Fast2Sum: both
terms are positive), and the quotient gets one Newton step with a fused multiply-add::

    q = 1 / d,   q' = q + q (1 - q d - q d_lo)

tanh needs no such step: its quotient is at most 0.45 and its error is halved in the
result's ulp. Results are within 1.5 ulp of the correctly rounded float32 values (checked
in tests/test_numba_kernels.py); the float64 tail they replace took twice as long (its
divisions run four lanes to a register, not eight). float64 data keeps
``np.tanh``/``np.exp``: gradient checks need the full precision.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_F = np.float32
_LOG2E = _F(1 / math.log(2))
_LN2_HI = _F(0.693359375)          # 9 significant bits: k * _LN2_HI is exact for |k| < 2^14
_LN2_LO = _F(math.log(2) - 0.693359375)
_ROUND = _F(1.5 * 2 ** 23)         # x + _ROUND - _ROUND rounds x to an integer (|x| < 2^22)
_X_MIN, _X_MAX = _F(-87.0), _F(88.0)  # 2^k stays a normal float32
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7 = [_F(1 / math.factorial(k)) for k in range(8)]
_P0, _P1, _P2, _P3, _P4 = [_F(p) for p in (-0.3333328128411306, 0.13331431753508313,
                                            -0.05373915650356053, 0.020637861488960654,
                                            -0.005704042524655959)]
_ONE, _TWO = _F(1), _F(2)
_SMALL_TANH = _F(0.625)
_TANH_ONE = _F(10.0)               # tanh(10) rounds to 1 in float32 (tanh(9) does not)

# FMA contraction only: every other IEEE rule is kept (the rounding trick relies on it).
_CONTRACT = {"contract"}


@intrinsic
def _pow2(typingctx, k):
    """2^k for a float32 k holding an integer in [-126, 127], from its exponent bits."""
    if k != types.float32:
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        exponent = builder.add(builder.fptosi(args[0], i32), ir.Constant(i32, 127))
        return builder.bitcast(builder.shl(exponent, ir.Constant(i32, 23)), ir.FloatType())

    return types.float32(types.float32), codegen


@intrinsic
def _fma32(typingctx, a, b, c):
    """a * b + c for float32 with a single rounding (LLVM's fma: one instruction on FMA
    hardware)."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, signature, args):
        f = ir.FloatType()
        fma_type = ir.FunctionType(f, [f, f, f])
        fma = builder.module.declare_intrinsic("llvm.fma", [f], fma_type)
        return builder.call(fma, args)

    return types.float32(types.float32, types.float32, types.float32), codegen


@njit(cache=True, fastmath=_CONTRACT)
def exp32(x):
    """exp(x) for a float32 x, within 1 ulp; x is clamped to [-87, 88]."""
    x = min(max(x, _X_MIN), _X_MAX)
    k = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _E0 + r * (_E1 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * _E7))))))
    return p * _pow2(k)


@njit(cache=True, fastmath=_CONTRACT)
def _one_over_one_plus(e):
    """1 / (1 + e) for a float32 e >= 0: the sum carried exactly, one Newton step."""
    d = _ONE + e
    d_lo = (max(_ONE, e) - d) + min(_ONE, e)   # Fast2Sum: d + d_lo == 1 + e exactly
    q = _ONE / d
    return _fma32(_fma32(-q, d, _ONE) - q * d_lo, q, q)


def tanh(x):
    """``np.tanh`` in Python; inside Numba code, the fast form for float32 arguments."""
    return np.tanh(x)


def sigmoid(x):
    """``1 / (1 + exp(-x))`` in Python; inside Numba code, the fast form for float32."""
    return 1.0 / (1.0 + np.exp(-x))


@overload(tanh, jit_options={"fastmath": _CONTRACT})
def _tanh_overload(x):
    if x != types.float32:
        return lambda x: np.tanh(x)

    def fast_tanh32(x):
        ax = min(abs(x), _TANH_ONE)
        large = _ONE - _TWO / (exp32(ax + ax) + _ONE)
        s = ax * ax
        small = ax + ax * s * (_P0 + s * (_P1 + s * (_P2 + s * (_P3 + s * _P4))))
        r = small if ax < _SMALL_TANH else large
        return math.copysign(r, x) if x == x else x   # NaN stays NaN

    return fast_tanh32


@overload(sigmoid, jit_options={"fastmath": _CONTRACT})
def _sigmoid_overload(x):
    if x != types.float32:
        return lambda x: 1.0 / (1.0 + np.exp(-x))

    def fast_sigmoid32(x):
        r = _one_over_one_plus(exp32(-x))
        return r if x == x else x   # NaN stays NaN

    return fast_sigmoid32

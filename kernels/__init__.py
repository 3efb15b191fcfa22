"""Time-loop kernels for the fused RNN op (installed as ``tinyrnn.kernels``).

Every kernel module exposes the contract fixed in DESIGN.md::

    forward(xw, w_hh, h0, nonlinearity, lengths) -> hs
    backward(g_hs, hs, h0, w_hh, nonlinearity, truncate, lengths, g_hn) -> (d_xw, d_h0)

``numpy_kernel`` is the executable specification; ``numba_kernel`` (CPU) and
``cuda_kernel`` (CuPy) must match it.
"""

"""Time-loop kernels of the fused recurrent op (installed as ``tinyrnn.kernels``).

One module per (cell, back-end), ``<backend>_<cell>``, each with the contract described in
ARCHITECTURE.md::

    forward(xw, w_hh, state0, lengths=None, **options) -> (ys, saved)
    backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, **options)
        -> (d_xw, d_hw, d_state0)

``numpy_<cell>`` is each cell's executable specification; the Numba and CUDA kernels must
match it. ``cells.kernel(cell, backend)`` gives checked entry points for direct calls.
"""

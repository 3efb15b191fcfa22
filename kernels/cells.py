"""The recurrent cells the kernels implement, and where each (cell, back-end) kernel lives.

A cell is described by three numbers, which are all that the shared code (validation, the
fused op, the modules) needs to know about it:

* ``gates``: blocks of H rows in ``W_ih`` (G*H, I) and ``W_hh`` (G*H, H): 1 for the Elman
  cell, 3 for the GRU (r, z, n), 4 for the LSTM (i, f, g, o);
* ``states``: states carried from step to step: 1 (h) or 2 (h and the LSTM's c);
* ``saved``: blocks of H values per step that the forward pass keeps for the backward pass
  (the GRU keeps r, z, n and W_hn h + b_hn; the LSTM keeps i, f, g, o; the Elman cell keeps
  nothing beyond its outputs).

The kernel for cell ``c`` on back-end ``b`` is the module ``tinyrnn.kernels.<b>_<c>``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from tinyrnn.backend import get_array_module


@dataclass(frozen=True)
class Cell:
    name: str
    gates: int
    states: int
    saved: int


RNN = Cell("rnn", gates=1, states=1, saved=0)
GRU = Cell("gru", gates=3, states=1, saved=4)
LSTM = Cell("lstm", gates=4, states=2, saved=4)
CELLS = {c.name: c for c in (RNN, GRU, LSTM)}

BACKENDS = ("numpy", "numba", "cuda")
# Back-ends that have no kernel for a cell yet (the NumPy reference runs there instead).
_MISSING: set = set()


def cell(name: str) -> Cell:
    try:
        return CELLS[name]
    except KeyError:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {name!r}") from None


def has_kernel(cell_name: str, backend: str) -> bool:
    return (cell_name, backend) not in _MISSING


def kernel_module(cell_name: str, backend: str):
    """The module implementing ``cell_name`` on ``backend`` (see ARCHITECTURE.md)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not has_kernel(cell_name, backend):
        raise ValueError(f"there is no {backend} kernel for the {cell_name} cell yet")
    return importlib.import_module(f"tinyrnn.kernels.{backend}_{cell(cell_name).name}")


class Kernel:
    """A (cell, back-end) kernel with checked entry points, for direct calls and tests.

    ``forward(xw, w_hh, state0, lengths=None, **options) -> (ys, saved)`` and
    ``backward(g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, **options)
    -> (d_xw, d_hw, d_state0)`` validate every argument, then call ``module``'s unchecked
    functions of the same names (the fused op validates once and calls those directly).
    """

    def __init__(self, cell_name: str, backend: str):
        self.cell = cell(cell_name)
        self.backend = backend
        self.module = kernel_module(cell_name, backend)

    def forward(self, xw, w_hh, state0, lengths=None, **options):
        from .validate import check_forward
        xp = get_array_module(xw)
        xw, w_hh, state0, lengths = check_forward(self.cell, xw, w_hh, state0, lengths,
                                                  options, xp)
        return self.module.forward(xw, w_hh, state0, lengths, **options)

    def backward(self, g_ys, ys, saved, state0, w_hh, truncate=None, lengths=None, **options):
        from .validate import check_backward
        xp = get_array_module(ys)
        args = check_backward(self.cell, g_ys, ys, saved, state0, w_hh, truncate, lengths,
                              options, xp)
        return self.module.backward(*args, **options)

    def __repr__(self):
        return f"Kernel({self.cell.name!r}, {self.backend!r})"


def kernel(cell_name: str, backend: str) -> Kernel:
    return Kernel(cell_name, backend)

"""Launch planning for the persistent CUDA kernels (pure Python, testable without a GPU).

Small steps run in one block of 1024 threads that holds all of W_hh: its steps need only
``__syncthreads``, no grid barrier (a few hundred nanoseconds instead of a few microseconds).
Larger ones cut the hidden units into ``ceil(H / rows)`` slices, one per block, with ``rows``
chosen so that there are no more slices than multiprocessors: every block is resident at once
(a cooperative launch requires it), each holds ``rows`` rows of the weight matrix in shared
memory, and the grid barrier has as few blocks to gather as possible. Shapes whose rows do not
fit in shared memory get no plan: the caller falls back to a cuBLAS GEMM per step.
"""
from __future__ import annotations

from dataclasses import dataclass


# Multiply-adds per step up to which one block beats a grid with a barrier per step
# (about 2 us of 1024 threads' work, the cost of one grid barrier).
SINGLE_BLOCK_MAX_WORK = 1 << 21


@dataclass(frozen=True)
class Plan:
    grid: int          # blocks
    block: int         # threads per block
    rows: int          # hidden units per slice
    shared_bytes: int  # dynamic shared memory per block


def shared_bytes(rows: int, H: int, block: int, itemsize: int, grid: int | None = None) -> int:
    """Weight rows of every owned slice, then one partial sum per thread."""
    slices = -(-H // rows)
    owned = 1 if grid is None else -(-slices // grid)
    return (owned * rows * H + block) * itemsize


def plan_persistent(B: int, H: int, itemsize: int, multiprocessors: int,
                    max_shared_bytes: int, blocks_per_sm=None) -> Plan | None:
    """The launch for a (B, H) recurrence, or None when the weights do not fit on chip.

    ``blocks_per_sm(block, shared_bytes)`` reports occupancy (the CUDA occupancy API on a
    GPU); without it one block per multiprocessor is assumed.
    """
    if min(B, H, itemsize, multiprocessors, max_shared_bytes) < 1:
        raise ValueError("B, H, itemsize, multiprocessors and max_shared_bytes must be >= 1")
    single = shared_bytes(H, H, 1024, itemsize)
    if B * H * H <= SINGLE_BLOCK_MAX_WORK and single <= max_shared_bytes and (
            blocks_per_sm is None or blocks_per_sm(1024, single) >= 1):
        return Plan(grid=1, block=1024, rows=H, shared_bytes=single)
    rows = -(-H // multiprocessors)
    grid = -(-H // rows)
    pairs = B * rows  # dot products per block and step
    block = 128
    while block < 1024 and block < pairs * 8:
        block *= 2
    smem = shared_bytes(rows, H, block, itemsize)
    if smem > max_shared_bytes:
        return None
    if blocks_per_sm is not None and blocks_per_sm(block, smem) * multiprocessors < grid:
        return None
    return Plan(grid=grid, block=block, rows=rows, shared_bytes=smem)

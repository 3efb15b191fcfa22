"""Launch planning for the persistent CUDA kernels (pure Python, testable without a GPU).

Small steps run in one block of 1024 threads that holds all of W_hh: its steps need only
``__syncthreads``, no grid barrier. Larger ones cut the hidden units into ``ceil(H / rows)``
slices, one per block, with ``rows`` chosen so that there are no more slices than
multiprocessors: every block is resident at once (a cooperative launch requires it), each holds
``rows`` rows of the weight matrix in shared memory, and the grid barrier has as few blocks to
gather as possible. Shapes whose rows do not fit in shared memory get no plan: the caller falls
back to a cuBLAS GEMM per step.

A plan that fits is not always the faster one: the persistent kernels compute one dot product
per group of threads out of shared memory, which loses to cuBLAS when a step is a real GEMM
(large B). ``persistent_wins`` is a rough cost model for that choice; on a GPU the loader
times both paths once per shape and keeps the faster (cuda_kernel.py).
"""
from __future__ import annotations

from dataclasses import dataclass

# Rough figures for an H100/H200-class GPU, in microseconds per step. They only rank the
# plans; on a device the loader measures.
SM_MACS_PER_US = 64_000     # float32 multiply-adds per us per SM out of shared memory
                            # (32 banks of 4 bytes: ~32 per clock at ~1.8 GHz); half for float64
GRID_BARRIER_US = 1.5       # one grid barrier over ~132 blocks (atomics through L2)
BLOCK_STEP_US = 0.3         # a step of the single-block plan: __syncthreads, no grid barrier
HOST_STEP_US = 20.0         # the fallback's two launches per step from Python (GEMM + step)
GEMM_MACS_PER_US = 20e6     # cuBLAS float32 multiply-adds per us (~40 TFLOP/s); half for float64

# Multiply-adds per step up to which one block beats a grid with a barrier per step: one SM
# does them in about the time of a grid barrier (~1.5 us; the old 1 << 21 took ~33 us). The
# plan choice itself compares step_us of both plans, which comes to the same threshold.
SINGLE_BLOCK_MAX_WORK = int(GRID_BARRIER_US * SM_MACS_PER_US)

BANK_LINE_BYTES = 128  # 32 banks of 4 bytes


@dataclass(frozen=True)
class Plan:
    grid: int          # blocks
    block: int         # threads per block
    rows: int          # hidden units per slice
    stride: int        # elements between weight rows in shared memory (>= H, padded)
    shared_bytes: int  # dynamic shared memory per block


def parts(pairs: int, H: int, block: int) -> int:
    """Threads per dot product in the kernel's tr_owned_matvec (``tr_parts``, mirrored)."""
    p = 1
    while p * 2 * pairs <= block and p * 2 <= H:
        p *= 2
    return p


def row_stride(H: int, parts_: int, itemsize: int) -> int:
    """The row stride (elements) of the weights in shared memory, padded against bank conflicts.

    A warp reads ``32 / parts`` rows at once, ``parts`` adjacent elements of each. With the
    stride congruent to ``parts`` modulo a bank line (32 floats; 16 doubles, which a warp reads
    per half), row u, element k sits in bank u * parts + k: no two lanes share a bank. With
    stride H (H a multiple of 32), all rows start in bank 0: 4-way conflicts at H = 512 and
    1024, 8-way at 1760, 16-way at 2048 on the benchmark's shapes.
    """
    line = BANK_LINE_BYTES // itemsize
    if parts_ >= line:
        return H  # the whole warp (half-warp) reads one row: no conflict at any stride
    return H + (parts_ - H) % line


def layout(B: int, H: int, rows: int, block: int, itemsize: int, grid: int = 1,
           gates: int = 1, length: int | None = None):
    """(row stride, dynamic shared bytes) of a block: owned weight rows, one partial per thread.

    Gated cells (gated_time_loop.cu) keep ``gates`` rows of ``length`` elements per owned unit
    and ``gates`` partial sums per thread: the forward pass G rows of W_hh of length H, the
    backward pass one row of W_hh^T of length G*H. The defaults are the Elman kernels' layout.
    """
    length = H if length is None else length
    owned = -(-(-(-H // rows)) // grid)
    stride = row_stride(length, parts(B * owned * rows, length, block), itemsize)
    return stride, gates * (owned * rows * stride + block) * itemsize


def step_us(B: int, H: int, itemsize: int, plan: Plan | None, multiprocessors: int,
            gates: int = 1, length: int | None = None) -> float:
    """Estimated time of one step of a plan (None: the cuBLAS fallback); ``gates`` rows of
    ``length`` (default H) multiply-adds per unit, as in ``layout``."""
    scale = 4 / itemsize
    macs_per_unit = gates * (H if length is None else length)
    if plan is None:
        gemm = B * H * macs_per_unit / (GEMM_MACS_PER_US * scale)
        return HOST_STEP_US + gemm
    owned = -(-(-(-H // plan.rows)) // plan.grid)
    work = B * owned * plan.rows * macs_per_unit / (SM_MACS_PER_US * scale)
    return work + (BLOCK_STEP_US if plan.grid == 1 else GRID_BARRIER_US)


def persistent_wins(B: int, H: int, itemsize: int, plan: Plan | None,
                    multiprocessors: int, gates: int = 1, length: int | None = None) -> bool:
    """Whether the cost model prefers the persistent plan to cuBLAS per step."""
    return plan is not None and (
        step_us(B, H, itemsize, plan, multiprocessors, gates, length)
        <= step_us(B, H, itemsize, None, multiprocessors, gates, length))


def plan_persistent(B: int, H: int, itemsize: int, multiprocessors: int,
                    max_shared_bytes: int, blocks_per_sm=None, gates: int = 1,
                    length: int | None = None) -> Plan | None:
    """The fastest persistent launch for a (B, H) recurrence, or None when none fits on chip.

    ``blocks_per_sm(block, shared_bytes)`` reports occupancy (the CUDA occupancy API on a
    GPU); without it one block per multiprocessor is assumed. A multi-block plan needs all its
    blocks resident at once: CuPy would otherwise shrink the grid (with a warning) below what
    the shared memory was sized for.
    """
    if min(B, H, itemsize, multiprocessors, max_shared_bytes) < 1:
        raise ValueError("B, H, itemsize, multiprocessors and max_shared_bytes must be >= 1")

    def resident(block, smem, grid):
        if smem > max_shared_bytes:
            return False
        return blocks_per_sm is None or blocks_per_sm(block, smem) * multiprocessors >= grid

    candidates = []
    stride, smem = layout(B, H, H, 1024, itemsize, 1, gates, length)
    if resident(1024, smem, 1):
        candidates.append(Plan(grid=1, block=1024, rows=H, stride=stride, shared_bytes=smem))
    rows = -(-H // multiprocessors)
    grid = -(-H // rows)
    if grid > 1:
        pairs = B * rows  # dot products per block and step
        block = 128
        while block < 1024 and block < pairs * 8:
            block *= 2
        stride, smem = layout(B, H, rows, block, itemsize, grid, gates, length)
        if resident(block, smem, grid):
            candidates.append(Plan(grid=grid, block=block, rows=rows, stride=stride,
                                   shared_bytes=smem))
    if not candidates:
        return None
    return min(candidates,
               key=lambda p: step_us(B, H, itemsize, p, multiprocessors, gates, length))

"""What the NumPy kernels of every cell share (array-module agnostic, like the kernels)."""
from __future__ import annotations


def step_states(xp, t, lengths, new, old):
    """A state after step t, and what ``ys`` records for step t: ``new`` for the sequences
    still running; for those past their length (t >= lengths[b]) the old state carries on
    and ``ys`` records zeros."""
    if lengths is None:
        return new, new
    active = (t < lengths)[:, None]
    return xp.where(active, new, old), xp.where(active, new, 0)

"""Keep freed memory in the process, instead of handing it back to the OS after every call.

glibc's malloc serves a large array with fresh pages from the OS (from 128 KiB; it raises
that threshold towards the size of such arrays as they are freed, up to 32 MiB) and gives
the top of its heap back to the OS once more than twice the threshold is free there. A
recurrent layer allocates and frees arrays of these sizes on every call (its outputs, what
its backward pass keeps, the gradients), so a call can pay to fault all of their pages in
again, every time; which programs do depends on the order of their allocations. Measured on
a 2-core VM (AMD EPYC), forward+backward through ``nn.LSTM``, page faults per call and time:
at (T, B, I, H) = (1000, 1, 1, 32), 218 faults and 1.9-2.9 ms, against none and 1.2-1.5 ms
with the thresholds below; at (100, 32, 64, 128), 1134 faults and 22 ms, against none and
19-20 ms.

``retain_freed_memory`` fixes both thresholds (glibc's ``mallopt``): arrays up to 32 MiB
come from the heap, and up to 64 MiB of free heap stays with the process. ``import
tinyrnn`` calls it on glibc systems, unless the environment already tunes malloc
(``MALLOC_*_`` variables or ``glibc.malloc`` in ``GLIBC_TUNABLES``: the user's choice
stands) or sets ``TINYRNN_RETAIN_FREED_MEMORY=0``.
"""
from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 32 << 20   # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit systems)
TRIM_THRESHOLD = 64 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX")


def _glibc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):
        return False


def retain_freed_memory(mmap_threshold: int = MMAP_THRESHOLD,
                        trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc malloc's mmap and trim thresholds (bytes); False where there is no glibc
    or it refused them."""
    if not _glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))


def retain_by_default() -> bool:
    """What ``import tinyrnn`` does: ``retain_freed_memory()`` unless the environment
    tunes malloc itself or opts out."""
    env = os.environ
    if env.get("TINYRNN_RETAIN_FREED_MEMORY", "1") == "0" or \
            any(name in env for name in _USER_SETTINGS) or \
            "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return False
    return retain_freed_memory()

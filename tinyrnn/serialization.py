"""Checkpoints: a flat dict of arrays in a .npz file, written atomically, read without pickle."""
from __future__ import annotations

import os
import tempfile
import zipfile

import numpy as np

from .backend import to_device
from .tensor import Tensor


def save(state_dict, path) -> None:
    """Write ``{name: array}`` to ``path`` (.npz) atomically.

    The file is written next to its destination and moved into place with
    ``os.replace``, so a crash leaves either the old checkpoint or the new one, never
    half of one.
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"state_dict must be a mapping of names to arrays, got "
                        f"{type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"state_dict keys must be strings, got {name!r}")
        value = value.data if isinstance(value, Tensor) else value
        array = np.asarray(to_device(value, "cpu"))
        if array.dtype.kind not in "biuf":
            raise TypeError(f"state_dict[{name!r}] must be a numeric array, got dtype "
                            f"{array.dtype}")
        arrays[name] = array
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tinyrnn-", suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path) -> dict:
    """Read a checkpoint written by ``save``; pickled content is refused, never executed."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not a tinyrnn checkpoint (.npz archive); pickled or "
                         "other files are refused")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as e:  # an object array inside the archive
        raise ValueError(f"{path!r} holds pickled (object) arrays, which tinyrnn refuses to "
                         f"load: {e}") from e

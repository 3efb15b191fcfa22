"""Checkpoints in a .npz file, written atomically and read without pickle.

``save`` takes a model's state dict (``{name: array}``) or a whole training checkpoint:
nested dicts, lists and tuples of arrays, Tensors, Python numbers, bools, None and
strings, e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}``.

On disk: a flat state dict is stored as before, one ``.npy`` entry per name, so plain
``numpy.load`` reads it. Anything else gets a JSON manifest entry, ``__tinyrnn_tree__``,
that describes the tree; its arrays are the entries ``arr_0``, ``arr_1``... it points to.
No pickle is ever written or read.

``load`` also recognises a PyTorch ``.pt`` file (the zip with ``data.pkl``, or the legacy
pickle with torch's magic number): it is read through ``torch.load(weights_only=True)``,
tensors becoming NumPy arrays, when torch is installed, and refused by name otherwise.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .backend import is_cuda_array, to_device
from .tensor import Tensor

MANIFEST = "__tinyrnn_tree__"
_FORMAT = 1
# torch.save's legacy (non-zip) format opens with pickle protocol 2 and this magic number.
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _as_numeric_array(value, where):
    value = value.data if isinstance(value, Tensor) else value
    array = np.asarray(to_device(value, "cpu"))
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where} must be a numeric array, got dtype {array.dtype}")
    return array


def _is_array(value) -> bool:
    return isinstance(value, (Tensor, np.ndarray, np.generic)) or is_cuda_array(value)


def _encode(value, arrays, where):
    """A JSON-ready description of ``value``; its arrays are appended to ``arrays``."""
    if value is None or isinstance(value, (bool, str)):
        return {"value": value}
    if isinstance(value, (int, float)):  # JSON keeps 3 and 3.0 apart, and NaN/inf too
        return {"value": value}
    if _is_array(value):
        arrays[f"arr_{len(arrays)}"] = _as_numeric_array(value, where)
        return {"array": f"arr_{len(arrays) - 1}"}
    if hasattr(value, "items"):
        items = []
        for key, item in value.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise TypeError(f"{where} has key {key!r}: keys must be strings or integers")
            items.append([key, _encode(item, arrays, f"{where}[{key!r}]")])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    raise TypeError(f"{where} is a {type(value).__name__}; checkpoints hold dicts, lists, "
                    "tuples, arrays, Tensors, numbers, bools, None and strings")


def _decode(node, archive):
    if "value" in node:
        return node["value"]
    if "array" in node:
        return archive[node["array"]]
    if "dict" in node:
        return {key: _decode(item, archive) for key, item in node["dict"]}
    if "list" in node:
        return [_decode(item, archive) for item in node["list"]]
    if "tuple" in node:
        return tuple(_decode(item, archive) for item in node["tuple"])
    raise ValueError(f"unknown entry {sorted(node)} in the checkpoint's manifest")


def _flat_state_dict(obj) -> bool:
    return (hasattr(obj, "items") and len(obj) > 0
            and all(isinstance(k, str) and k != MANIFEST and _is_array(v)
                    for k, v in obj.items()))


def save(obj, path) -> None:
    """Write ``obj`` (a state dict or a nested checkpoint) to ``path`` (.npz) atomically.

    The file is written next to its destination and moved into place with
    ``os.replace``, so a crash leaves either the old checkpoint or the new one, never
    half of one.
    """
    if _flat_state_dict(obj):
        arrays = {name: _as_numeric_array(v, f"state_dict[{name!r}]")
                  for name, v in obj.items()}
    else:
        if not isinstance(obj, (dict, list, tuple)) and not hasattr(obj, "items"):
            hint = " (save its state_dict())" if hasattr(obj, "state_dict") else ""
            raise TypeError(f"obj must be a state dict or a dict/list/tuple checkpoint, got "
                            f"{type(obj).__name__}{hint}")
        arrays = {}
        tree = _encode(obj, arrays, "checkpoint")
        text = json.dumps({"format": _FORMAT, "tree": tree}, allow_nan=True)
        arrays[MANIFEST] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
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


def _torch_kind(path) -> str | None:
    """"zip" or "legacy" for a file torch.save wrote, else None."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "zip"
        return None
    with open(path, "rb") as f:
        return "legacy" if f.read(len(_TORCH_LEGACY_MAGIC)) == _TORCH_LEGACY_MAGIC else None


def _from_torch(value):
    """torch tensors to NumPy arrays, through any dicts, lists and tuples."""
    import torch
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:  # NumPy has no bfloat16
            value = value.float()
        return value.numpy()
    if isinstance(value, dict):
        return {k: _from_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_from_torch(v) for v in value)
    return value


def _load_torch(path):
    try:
        import torch
    except ImportError:
        raise ValueError(f"{path!r} is a PyTorch checkpoint (torch.save); install torch to "
                         "read it, or re-save its tensors with tinyrnn.save") from None
    try:
        return _from_torch(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as e:  # weights_only refuses arbitrary pickled objects
        raise ValueError(f"{path!r} is a PyTorch checkpoint that torch.load(weights_only="
                         f"True) refuses (it holds more than tensors and plain data): "
                         f"{e}") from e


def load(path):
    """Read a checkpoint written by ``save`` (or a PyTorch ``.pt``; see the module doc).

    Pickled content in a .npz is refused, never executed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    if _torch_kind(path):
        return _load_torch(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not a tinyrnn checkpoint (.npz archive); pickled or "
                         "other files are refused")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if MANIFEST not in archive.files:  # a flat state dict
                return {name: archive[name] for name in archive.files}
            manifest = json.loads(archive[MANIFEST].tobytes().decode("utf-8"))
            if manifest.get("format") != _FORMAT:
                raise ValueError(f"{path!r} has checkpoint format {manifest.get('format')}; "
                                 f"this tinyrnn reads format {_FORMAT}")
            return _decode(manifest["tree"], archive)
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise ValueError(f"{path!r} holds pickled (object) arrays, which tinyrnn refuses "
                             f"to load: {e}") from e
        raise

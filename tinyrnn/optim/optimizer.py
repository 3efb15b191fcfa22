"""Optimizer base: parameter groups with their hyperparameters, and per-parameter state.

Laid out as in PyTorch: ``param_groups`` is a list of dicts ``{"params": [...], "lr": ...}``
(a plain iterable of parameters makes one group); ``state`` maps a parameter to its
buffers; ``state_dict()`` names parameters by their position across the groups::

    {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}]}

so a torch optimiser's state dict of the same shape loads too.
"""
from __future__ import annotations

import copy

import numpy as np

from ..backend import to_device
from ..tensor import Tensor


class Optimizer:
    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, got a "
                            "single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError("params must be a non-empty iterable of Tensors")
        if isinstance(groups[0], tuple):  # model.named_parameters(), as torch allows
            groups = [p for _, p in groups]
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        # parameter -> its buffers, as torch; Tensor must keep hashing by identity.
        self.state: dict = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group; hyperparameters it does not set come from the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a param group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"params[{i}] must be a Tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"params[{i}] appears in more than one param group")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"unknown hyperparameters {sorted(unknown)} for "
                            f"{type(self).__name__}; it takes {sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict) -> None:
        """Validate a group's hyperparameters (subclasses extend this)."""
        if not group["lr"] > 0:
            raise ValueError(f"lr must be > 0, got {group['lr']}")

    # ------------------------------------------------------------------ compatibility
    @property
    def params(self) -> list:
        """Every parameter, group after group."""
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for g in self.param_groups:
            g["lr"] = value

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure`` (as torch):
        a function that recomputes the loss and its gradients first; its loss is returned.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Copies of the state, keyed by parameter position, and the groups' settings."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: np.array(to_device(v, "cpu")) if hasattr(v, "shape")
                                else v for k, v in s.items()}
                 for p, s in self.state.items() if s}
        groups = [{**{k: copy.deepcopy(v) for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict) -> None:
        """Restore ``state_dict()`` output (ours or torch's); checked before anything is set.

        Buffers take each parameter's dtype and device; group settings this optimiser
        does not have (torch's ``foreach`` ...) are ignored.
        """
        if not (hasattr(state_dict, "get") and "state" in state_dict
                and "param_groups" in state_dict):
            raise ValueError("state_dict must be a dict with 'state' and 'param_groups', as "
                             "returned by Optimizer.state_dict()")
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(saved)} param groups, this optimiser has "
                             f"{len(self.param_groups)}")
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(f"param group {i} has {len(s['params'])} parameters in "
                                 f"state_dict, {len(g['params'])} here")
        by_saved_id = {}
        for s, g in zip(saved, self.param_groups):
            by_saved_id.update(zip((int(i) for i in s["params"]), g["params"]))
        new_state = {}
        for key, buffers in state_dict["state"].items():
            p = by_saved_id.get(int(key))
            if p is None:
                raise ValueError(f"state_dict['state'] has an entry for parameter {key}, "
                                 "which no param group lists")
            new_state[p] = {k: self._restore(k, v, p) for k, v in buffers.items()}
        settings = [{k: copy.deepcopy(v) for k, v in s.items()
                     if k != "params" and (k in self.defaults or k == "initial_lr")}
                    for s in saved]
        for g, new in zip(self.param_groups, settings):
            self._check_group({**g, **new})
        for g, new in zip(self.param_groups, settings):  # all checked: now write
            g.update(new)
        self.state = new_state

    @staticmethod
    def _restore(name, value, p):
        if name == "step":  # torch keeps the step as a float tensor
            return int(value.item() if hasattr(value, "item") else value)
        value = value.data if isinstance(value, Tensor) else value
        value = np.asarray(to_device(value, "cpu"))
        if value.shape != p.shape:
            raise ValueError(f"state buffer {name!r} has shape {value.shape}, its parameter "
                             f"{p.shape}")
        return to_device(value.astype(p.dtype, copy=True), p.device)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in g.items() if k != "params"]
        return "\n".join(lines + [")"])

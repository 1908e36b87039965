"""`Optimizer`: parameter groups, per-parameter state and PyTorch's state_dict layout.

Subclasses implement `_update(p, grad, group, state)` for one parameter; the base
class walks the groups, skips parameters without a gradient and keeps the state.
Parameters are anything with a `.data` array and a `.grad` array (or None), so
`nn.Parameter` and plain `autograd_core.Tensor` leaves both work.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd_core import kernels

ParamsT = Iterable[Any] | Iterable[dict[str, Any]]


class _Required:
    """Marks a hyperparameter with no default (PyTorch's `required`)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class. `params` is an iterable of parameters or of dicts (param groups)."""

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        # State is keyed by id(p): Tensor's `==` is elementwise, so Tensors are not dict keys.
        self.state: dict[int, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, dict) or hasattr(params, "data"):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of parameters or of dicts, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (a dict with 'params' and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{type(self).__name__}.add_param_group: the group has no 'params' entry")
        params = param_group["params"]
        params = [params] if hasattr(params, "data") else list(params)
        for p in params:
            if not hasattr(p, "data") or not isinstance(p.data, np.ndarray):
                raise TypeError(
                    f"{type(self).__name__}: can only optimize Tensors with a .data array, got {type(p).__name__}"
                )
            if p.data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize floating-point tensors, got {p.data.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        group = {"params": params}
        for key, default in self.defaults.items():
            value = param_group.get(key, default)
            if value is required:
                raise ValueError(
                    f"{type(self).__name__}: parameter group didn't specify a value of required option '{key}'"
                )
            group[key] = value
        unknown = set(param_group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown options in parameter group: {sorted(unknown)}")
        if "initial_lr" in param_group:
            group["initial_lr"] = param_group["initial_lr"]
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's options (subclasses extend)."""
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {group['weight_decay']}")

    # ----------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (`set_to_none=True`, the default) or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                # A fresh array, not an in-place fill: the old gradient may be shared.
                p.grad = None if set_to_none else np.zeros_like(p.grad)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Apply one update to every parameter that has a gradient.

        `closure`, if given, re-evaluates the model and returns the loss (run with grad on).
        """
        loss = None
        if closure is not None:
            loss = closure()
        jobs, work = [], []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = np.asarray(p.grad)
                if grad.shape != p.data.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: gradient shape {grad.shape} does not match "
                        f"parameter shape {p.data.shape}"
                    )
                grad = grad.astype(p.data.dtype, copy=False)
                state = self.state.setdefault(id(p), {})
                jobs.append(functools.partial(self._apply, p, grad, group, state))
                work.append(grad.size * self._passes)
        # Parameters update independently: a big model's updates share the threads (same results).
        kernels.tasks(jobs, work)
        return loss

    # Simple NumPy passes over a parameter that one `_update` makes (its work for `kernels.tasks`).
    _passes = 4

    def _apply(self, p: Any, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        # A new array, never an in-place write: graphs may still hold the old value.
        p.data = self._update(p.data, grad, group, state).astype(p.data.dtype, copy=False)

    def _update(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> np.ndarray:
        """Return the new value of one parameter; update `state` (arrays in the param's dtype).

        Hyperparameters enter as Python floats (`float(group[...])`): NumPy keeps the
        array's dtype for those, where a NumPy float64 scalar would upcast float32.
        """
        raise NotImplementedError

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: {'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}.

        Arrays are copies, so later steps do not change a saved state.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {
            index[pid]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
            for pid, st in self.state.items()
            if pid in index and st
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict` (arrays cast to each param's dtype)."""
        name = type(self).__name__
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(g['params'])} parameters, "
                    f"the saved group has {len(s['params'])}"
                )
        by_index = {idx: p for g, s in zip(self.param_groups, saved_groups) for idx, p in zip(s["params"], g["params"])}
        new_state: dict[int, dict[str, Any]] = {}
        for key, st in saved_state.items():
            idx = int(key)
            if idx not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter index {idx}, which no group lists")
            p = by_index[idx]
            entry: dict[str, Any] = {}
            for k, v in st.items():
                if k == "step":  # PyTorch keeps it as a 0-d float tensor; here it is an int
                    entry[k] = int(np.asarray(v).item())
                elif isinstance(v, (bool, int, float, str)) or v is None:
                    entry[k] = v
                else:
                    arr = np.array(np.asarray(v), copy=True)  # copies: later steps update state in place
                    if arr.dtype.kind == "f":
                        arr = arr.astype(p.data.dtype, copy=False)
                    if arr.shape != p.data.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state '{k}' of parameter {idx} has shape {arr.shape}, "
                            f"the parameter has shape {p.data.shape}"
                        )
                    entry[k] = arr
            new_state[id(p)] = entry
        # Known options only: a PyTorch state_dict also carries foreach, fused, capturable ...
        known = set(self.defaults) | {"initial_lr"}
        for g, s in zip(self.param_groups, saved_groups):
            g.update({k: copy.deepcopy(v) for k, v in s.items() if k in known})
        self.state = new_state

"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    """PyTorch's Adagrad, step for step.

    g = -grad if maximize else grad;  g += weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay);  s = s + g * g;  p = p - clr * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["lr_decay"] < 0:
            raise ValueError(f"Adagrad: invalid lr_decay {group['lr_decay']}")
        if group["initial_accumulator_value"] < 0:
            raise ValueError(f"Adagrad: invalid initial_accumulator_value {group['initial_accumulator_value']}")
        if group["eps"] < 0:
            raise ValueError(f"Adagrad: invalid eps {group['eps']}")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        # PyTorch creates the accumulator eagerly, so it is in state_dict before any step.
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[id(p)] = {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    _passes = 7

    def _update(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> np.ndarray:
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        wd, eps = float(group["weight_decay"]), float(group["eps"])
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * param
        state["step"] += 1
        clr = float(group["lr"]) / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        state["sum"] = state["sum"] + g * g
        return param - clr * (g / (np.sqrt(state["sum"]) + eps))

"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """PyTorch's SGD, step for step.

    g = -grad if maximize else grad;  g += weight_decay * p
    with momentum: buf = g (first step) or momentum * buf + (1 - dampening) * g;
                   g = g + momentum * buf (nesterov) or buf
    p = p - lr * g
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["momentum"] < 0:
            raise ValueError(f"SGD: invalid momentum {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")

    _passes = 1  # its few passes are cheap: a split pays only for models of millions of parameters

    def _update(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> np.ndarray:
        g = -grad if group["maximize"] else grad
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        if wd != 0:
            g = g + wd * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()  # a copy: the grad array is not ours
            else:
                # In place is safe: state arrays belong to the optimizer (state_dict hands out copies).
                buf *= momentum
                buf += g if group["dampening"] == 0 else g * (1 - float(group["dampening"]))
            g = g + momentum * buf if group["nesterov"] else buf
        # -lr * g, then += param: one temporary instead of two, same rounding as param - lr * g.
        new = g * -float(group["lr"])
        new += param
        return new

"""RMSprop with optional momentum and centering."""

from __future__ import annotations

from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class RMSprop(Optimizer):
    """PyTorch's RMSprop, step for step.

    g = -grad if maximize else grad;  g += weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    centered: m = m + (1 - alpha) * (g - m);  avg = sqrt(v - m * m) + eps, else avg = sqrt(v) + eps
    momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf;  else p = p - lr * g / avg
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["alpha"] < 0:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']}")
        if group["momentum"] < 0:
            raise ValueError(f"RMSprop: invalid momentum {group['momentum']}")
        if group["eps"] < 0:
            raise ValueError(f"RMSprop: invalid eps {group['eps']}")

    _passes = 8

    def _update(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> np.ndarray:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, momentum = float(group["weight_decay"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param)
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * param
        state["step"] += 1
        square_avg = alpha * state["square_avg"] + (1 - alpha) * (g * g)
        state["square_avg"] = square_avg
        if group["centered"]:
            grad_avg = state["grad_avg"] + (1 - alpha) * (g - state["grad_avg"])
            state["grad_avg"] = grad_avg
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = np.sqrt(square_avg) + eps
        if momentum > 0:
            buf = momentum * state["momentum_buffer"] + g / avg
            state["momentum_buffer"] = buf
            return param - lr * buf
        return param - lr * (g / avg)

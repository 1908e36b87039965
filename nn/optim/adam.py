"""Adam (with AMSGrad) and AdamW (decoupled weight decay)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT


class Adam(Optimizer):
    """PyTorch's Adam, step for step.

    g = -grad if maximize else grad;  g += weight_decay * p  (AdamW instead: p *= 1 - lr * wd)
    m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
    v_hat = max(v_hat, v) with amsgrad (the running max is what is used)
    p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        name = type(self).__name__
        beta1, beta2 = group["betas"]
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"{name}: invalid betas {group['betas']}; each must be in [0, 1)")
        if group["eps"] < 0:
            raise ValueError(f"{name}: invalid eps {group['eps']}")

    _passes = 12

    def _update(self, param: np.ndarray, grad: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> np.ndarray:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        lr, wd, eps = float(group["lr"]), float(group["weight_decay"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        g = -grad if group["maximize"] else grad
        if wd != 0:
            if self._decoupled:
                param = param * (1 - lr * wd)
            else:
                g = g + wd * param
        state["step"] += 1
        step = state["step"]
        # Moments update in place (the optimizer owns them; state_dict hands out copies).
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        delta = g - exp_avg
        delta *= 1 - beta1
        exp_avg += delta  # lerp toward g, as torch's exp_avg.lerp_(g, 1 - beta1)
        g2 = g * g
        g2 *= 1 - beta2
        exp_avg_sq *= beta2
        exp_avg_sq += g2
        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            # A state saved without amsgrad has no running max yet: start it at zero.
            max_sq = state.setdefault("max_exp_avg_sq", np.zeros_like(param))
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = np.sqrt(max_sq)
        else:
            denom = np.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += eps
        new = exp_avg / denom
        new *= -step_size
        new += param  # a new array: p.data itself is never written
        return new


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p * (1 - lr * weight_decay) before the Adam step."""

    _decoupled = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )

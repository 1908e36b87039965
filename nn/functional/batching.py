"""Batch rules for `nn.functional` under `ag.func.vmap`.

Each public function here is wrapped (see the end of `nn/functional/__init__.py`): with
a batched argument inside `vmap`, it runs its batch rule, or, when it has none, it is
tried as is (functions written with Tensor ops batch through the ops' own rules) and
falls back to one call per example (warned once) if it reads raw values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import autograd_core as ag
from autograd_core import grad_mode
from autograd_core import vmap as _vmap

Rule = Callable[[Callable[..., Any], Any, tuple, dict], Any]


def _single(level: Any, args: tuple, kwargs: dict) -> Any:
    """The one batched argument, when it is the first and every other is plain; else None."""
    x = args[0] if args else None
    others = [*args[1:], *kwargs.values()]
    if not _vmap._batched_at(x, level) or any(isinstance(v, ag.Tensor) for v in others):
        return None
    return x


def _per_element(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    """Activations and dropout act on each element alone: run once on the whole batch."""
    x = _single(level, args, kwargs)
    if x is None:
        return NotImplemented
    return _vmap._wrap(fn(x._value, *args[1:], **kwargs), level)


def _along_dim(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    x = _single(level, args, kwargs)
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if x is None or dim is None:
        return NotImplemented
    return _vmap._wrap(fn(x._value, dim % x.ndim + 1), level)


def _linear(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    """x @ w.T + b, by the ops' own batch rules (any of x, w, b may be batched)."""
    x, w, *rest = args
    b = rest[0] if rest else kwargs.get("bias")
    y = ag.matmul(x, ag.swapaxes(w, -1, -2))
    return y if b is None else y + b


def _mse_loss(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    x, t = args[0], args[1] if len(args) > 1 else kwargs["target"]
    reduction = kwargs.get("reduction", "mean")
    d = (x - t) ** 2
    return d if reduction == "none" else (d.sum() if reduction == "sum" else d.mean())


def _cross_entropy(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    """One example's logits (C,) against a class index: the batch is the loss's own batch axis."""
    x, target = args[0], args[1] if len(args) > 1 else kwargs["target"]
    if len(args) > 2 or kwargs.get("weight") is not None or not _vmap._batched_at(x, level) or x.ndim != 1:
        return NotImplemented
    if isinstance(target, ag.Tensor) and not _vmap._batched_at(target, level):
        return NotImplemented
    t = target._value if _vmap._batched_at(target, level) else None
    if t is None or t.dtype.kind not in "iu" or t.ndim != 1:
        return NotImplemented
    options = {k: v for k, v in kwargs.items() if k not in ("target", "reduction")}
    losses = fn(x._value, t, reduction="none", **options)  # (B,): one loss per example
    return _vmap._wrap(losses, level)


RULES: dict[str, Rule] = {
    name: _per_element for name in ("relu", "gelu", "tanh", "sigmoid", "silu", "elu", "leaky_relu", "dropout")
}
RULES.update({"softmax": _along_dim, "log_softmax": _along_dim, "linear": _linear, "mse_loss": _mse_loss,
              "cross_entropy": _cross_entropy})


def batchable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an `nn.functional` function so that it takes batched arguments inside `vmap`."""
    name = fn.__name__

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not grad_mode.vmap_active[0] or not _vmap.has_batched(args, kwargs):
            return fn(*args, **kwargs)
        level = _vmap._innermost(args, kwargs)
        args, kwargs = _vmap._map_args(args, kwargs, lambda a: _vmap._expand(a, level))
        rule = RULES.get(name)
        if rule is not None:
            result = rule(fn, level, args, kwargs)
            if result is not NotImplemented:
                return result
        try:
            return fn(*args, **kwargs)
        except _vmap.BatchedDataError:
            return _vmap.per_example(f"nn.functional.{name}", run, level, args, kwargs)

    return run

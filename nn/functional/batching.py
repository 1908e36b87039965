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

import numpy as np

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


def _spatial(nd: int) -> Rule:
    """Convolution and pooling: the batch joins (or becomes) the images' own batch axis.

    A convolution whose weight is batched too (per-sample gradients) becomes one grouped
    convolution over all examples' channels at once.
    """

    def rule(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
        x, *rest = args
        others = [*rest, *kwargs.values()]
        if not _vmap._batched_at(x, level) or x.ndim not in (nd + 1, nd + 2):
            return NotImplemented
        if any(_vmap._batched_at(v, level) for v in others):
            return _grouped_conv(fn, level, x, rest, kwargs, nd)
        if any(isinstance(v, _vmap.BatchedTensor) for v in others):
            return NotImplemented
        v = x._value
        if x.ndim == nd + 1:  # one image per example: the batch is the image batch
            return _vmap._wrap(fn(v, *rest, **kwargs), level)
        merged = fn(v.reshape((-1, *v.shape[2:])), *rest, **kwargs)
        return _vmap._wrap(merged.reshape((level.size, v.shape[1], *merged.shape[1:])), level)

    return rule


def _grouped_conv(fn: Callable[..., Any], level: Any, x: Any, rest: list, kwargs: dict, nd: int) -> Any:
    if fn.__name__ not in ("conv1d", "conv2d") or x.ndim != nd + 1:
        return NotImplemented
    names = ["weight", "bias", "stride", "padding", "dilation", "groups"]
    bound = dict(zip(names, rest))
    bound.update(kwargs)
    w, b, groups = bound["weight"], bound.get("bias"), bound.get("groups", 1)
    if not _vmap._batched_at(w, level) or isinstance(bound.get("padding"), str):
        return NotImplemented
    size = level.size
    wv = w._value  # (B, F, C/g, *k)
    weight = wv.reshape((size * wv.shape[1], *wv.shape[2:]))
    bias = None
    if b is not None:
        bv = b._value if _vmap._batched_at(b, level) else ag.broadcast_to(b, (size, *b.shape))
        bias = bv.reshape(-1)
    image = x._value.reshape((1, size * x.shape[0], *x.shape[1:]))
    out = fn(image, weight, bias, bound.get("stride", 1), bound.get("padding", 0), bound.get("dilation", 1),
             groups * size)
    return _vmap._wrap(out.reshape((size, wv.shape[1], *out.shape[2:])), level)


def _embedding(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    idx, w, *rest = args
    if not _vmap._batched_at(idx, level):
        return NotImplemented
    if not isinstance(w, _vmap.BatchedTensor):
        return _vmap._wrap(fn(idx._value, w, *rest, **kwargs), level)
    if not _vmap._batched_at(w, level):
        return NotImplemented
    # A per-example table (the weight broadcast for per-sample gradients): gather row by example.
    rows = idx._value.data
    examples = np.arange(level.size).reshape((level.size,) + (1,) * (rows.ndim - 1))
    out = w._value[examples, rows]
    padding = rest[0] if rest else kwargs.get("padding_idx")
    if padding is not None:  # no gradient to the padding row, as in the plain function
        keep = (rows != padding % w.shape[0])[..., None]
        out = ag.where(keep, out, out.detach())
    return _vmap._wrap(out, level)


def _sdpa(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    """Attention is batched over leading axes already: the batch is one more (masks stay per example)."""
    q, k, v, *rest = args
    if not all(_vmap._batched_at(t, level) for t in (q, k, v)) or q.ndim < 2:
        return NotImplemented
    if any(isinstance(t, _vmap.BatchedTensor) for t in (*rest, *kwargs.values())):
        return NotImplemented
    return _vmap._wrap(fn(q._value, k._value, v._value, *rest, **kwargs), level)


def _mha(fn: Callable[..., Any], level: Any, args: tuple, kwargs: dict) -> Any:
    """Sequence-first (L, [N,] E) inputs: the vmap batch joins the attention batch axis N."""
    q, k, v, *rest = args
    if not all(_vmap._batched_at(t, level) for t in (q, k, v)) or q.ndim not in (2, 3):
        return NotImplemented
    if any(isinstance(t, _vmap.BatchedTensor) for t in (*rest, *kwargs.values())):
        return NotImplemented  # batched weights or masks: one call per example
    size, unbatched = level.size, q.ndim == 2

    def to_seq_first(t: Any) -> Any:  # (B, L, [N,] E) -> (L, B*N, E)
        x = t._value
        if unbatched:
            return x.swapaxes(0, 1)
        return x.transpose(1, 0, 2, 3).reshape(x.shape[1], size * x.shape[2], x.shape[3])

    out, weights = fn(to_seq_first(q), to_seq_first(k), to_seq_first(v), *rest, **kwargs)
    if unbatched:
        out = out.swapaxes(0, 1)
    else:
        out = out.reshape(q.shape[0], size, q.shape[1], q.shape[2]).transpose(1, 0, 2, 3)
        if weights is not None:
            weights = weights.reshape((size, q.shape[1], *weights.shape[1:]))
    return _vmap._wrap(out, level), (None if weights is None else _vmap._wrap(weights, level))


RULES: dict[str, Rule] = {
    name: _per_element for name in ("relu", "gelu", "tanh", "sigmoid", "silu", "elu", "leaky_relu", "dropout")
}
RULES.update({"softmax": _along_dim, "log_softmax": _along_dim, "linear": _linear, "mse_loss": _mse_loss,
              "cross_entropy": _cross_entropy, "embedding": _embedding, "scaled_dot_product_attention": _sdpa,
              "multi_head_attention_forward": _mha})
RULES.update({name: _spatial(1) for name in ("conv1d", "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d")})
RULES.update({name: _spatial(2) for name in ("conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d")})


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

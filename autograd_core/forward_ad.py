"""Forward mode: tangents ride along one forward pass, as dual numbers (`torch.autograd.forward_ad`).

    with ag.forward_ad.dual_level():
        x = ag.forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = ag.forward_ad.unpack_dual(y)

Every op result is made by `make_result`, so this one place carries tangents for every
op: when a level is open, `propagate` gives the output its tangent from its inputs'
tangents, by the first rule that applies:

1. the op's own `jvp` rule, where it gave one (linear ops reuse the op itself:
   `reshape(t)`, `t[index]`, `a @ t_b + t_a @ b`);
2. elementwise ops (`jvp=ELEMENTWISE`): the Jacobian is diagonal, so the jvp is the
   vjp applied to the tangent, `vjp(t)`;
3. any other op: the transpose of its vjp, by differentiating `<vjp(g), t>` with
   respect to a dummy `g` (the vjp is linear in `g`). Exact for every op whose vjp is
   written with differentiable ops, as all of them are here.

Tangents are Tensors computed with ops, so they are differentiable again: reverse over
forward, forward over reverse (Hessian-vector products), and forward over forward.
Levels nest; a tangent at level L is computed with only the levels outside L open, so
perturbations of different levels never mix.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from . import grad_mode
from .tensor import ELEMENTWISE, Tensor, _new, as_tensor, make_result

_counter = itertools.count(1)


class UnpackedDualTensor(NamedTuple):
    primal: Tensor
    tangent: Tensor | None


@contextmanager
def dual_level() -> Iterator[int]:
    """Open a forward-mode level for this thread; tangents made inside belong to it."""
    level = next(_counter)
    state = grad_mode._state
    previous = state.levels
    state.levels = previous + (level,)
    grad_mode.special[0] += 1
    try:
        yield level
    finally:
        grad_mode.special[0] -= 1
        state.levels = previous


def _level(level: int | None) -> int:
    levels = grad_mode._state.levels
    if not levels:
        raise RuntimeError("forward_ad: no dual level is open; use `with ag.forward_ad.dual_level():`")
    if level is None:
        return levels[-1]
    if level not in levels:
        raise RuntimeError(f"forward_ad: level {level} is not open (open levels: {list(levels)})")
    return level


def make_dual(primal: Any, tangent: Any, level: int | None = None) -> Tensor:
    """A Tensor with `primal`'s value (and graph) whose tangent at `level` is `tangent`."""
    level = _level(level)
    primal = as_tensor(primal)
    if primal.dtype.kind != "f":
        raise TypeError(f"make_dual: only floating-point tensors carry tangents, got dtype {primal.dtype}")
    tangent = as_tensor(tangent)
    if tangent.shape != primal.shape:
        raise ValueError(f"make_dual: tangent of shape {tangent.shape} for a primal of shape {primal.shape}")
    if tangent.dtype != primal.dtype:
        tangent = tangent.astype(primal.dtype)
    dual = make_result(primal.data, "make_dual", (primal,), (lambda g, y, x: g,), jvp=_identity)
    dual._tangents = dict(dual._tangents or {})
    dual._tangents[level] = tangent
    return dual


def unpack_dual(tensor: Tensor, level: int | None = None) -> UnpackedDualTensor:
    """`(primal, tangent)`: the tangent at `level` (None where it is zero)."""
    level = _level(level)
    tangents = tensor._tangents
    return UnpackedDualTensor(tensor, None if tangents is None else tangents.get(level))


def _identity(tangents: list[Any], out: Tensor, x: Tensor) -> Any:
    return tangents[0]


# ----------------------------------------------------------------- propagation (called by make_result)
def propagate(out: Tensor, parents: tuple[Tensor, ...], vjps: Any, jvp: Any, levels: tuple[int, ...]) -> None:
    """Give `out` its tangent at every open level where some input has one."""
    state = grad_mode._state
    for depth, level in enumerate(levels):
        tangents = [None if p._tangents is None else p._tangents.get(level) for p in parents]
        if all(t is None for t in tangents):
            continue
        if depth == 0 and _on_arrays(jvp) and not _needs_graph(state, parents, tangents):
            tangent = _tangent_of_arrays(out, parents, vjps, jvp, tangents)
        else:
            state.levels = levels[:depth]  # the tangent's own ops see only the outer levels
            try:
                tangent = _tangent(out, parents, vjps, jvp, tangents)
            finally:
                state.levels = levels
        if tangent is None:
            continue
        tangent = as_tensor(tangent)
        if tangent.shape != out.shape:
            tangent = _broadcast(tangent, out.shape)
        if tangent.dtype != out.dtype and out.dtype.kind == "f":
            tangent = tangent.astype(out.dtype)
        if out._tangents is None:
            out._tangents = {}
        out._tangents[level] = tangent


def _on_arrays(jvp: Any) -> bool:
    """The library's own rules also run on plain arrays (as vjps do); a user's `Function.jvp` does not."""
    if jvp is ELEMENTWISE:
        return True
    module = getattr(jvp, "__module__", None) or ""
    return module.startswith(("autograd_core.ops", "autograd_core.forward_ad", "nn.functional"))


def _needs_graph(state: Any, parents: tuple[Tensor, ...], tangents: list[Any]) -> bool:
    """Whether the tangent must be recorded for reverse mode (reverse over forward)."""
    if not state.enabled:
        return False
    return any(p._requires_grad for p in parents) or any(t is not None and t._requires_grad for t in tangents)


def _tangent_of_arrays(out: Tensor, parents: tuple[Tensor, ...], vjps: Any, jvp: Any, tangents: list[Any]) -> Any:
    """The innermost level with nothing to record: compute on the arrays, wrap once (much less overhead)."""
    if out.dtype.kind != "f":
        return None
    ts = [None if t is None else t.data for t in tangents]
    args = [p.data for p in parents]
    y = out.data
    if jvp is ELEMENTWISE:
        total = None
        for t, vjp in zip(ts, vjps):
            if t is None or vjp is None:
                continue
            term = vjp(np.broadcast_to(t, y.shape) if t.shape != y.shape else t, y, *args)
            total = term if total is None else total + term
        result = total
    else:
        result = jvp(ts, y, *args)
    if result is None:
        return None
    return result if isinstance(result, Tensor) else _new(np.asarray(result))


def _broadcast(t: Tensor, shape: tuple[int, ...]) -> Tensor:
    from .ops import broadcast_to

    return broadcast_to(t, shape)


def _tangent(out: Tensor, parents: tuple[Tensor, ...], vjps: Any, jvp: Any, tangents: list[Any]) -> Any:
    if out.dtype.kind != "f":
        return None  # integer and boolean results have no tangent
    if jvp is not None and jvp is not ELEMENTWISE:
        return jvp(tangents, out, *parents)
    if vjps is None:
        return None
    if jvp is ELEMENTWISE:
        total = None
        for t, vjp in zip(tangents, vjps):
            if t is None or vjp is None:
                continue
            term = vjp(_broadcast(t, out.shape) if t.shape != out.shape else t, out, *parents)
            total = term if total is None else total + term
        return total
    return _transpose_of_vjp(out, parents, vjps, tangents)


def _transpose_of_vjp(out: Tensor, parents: tuple[Tensor, ...], vjps: Any, tangents: list[Any]) -> Any:
    """sum_i J_i t_i = d/dg sum_i <vjp_i(g), t_i>: exact, since each vjp is linear in g."""
    from .engine import grad, sum_to

    with grad_mode.enable_grad():
        g = _new(np.zeros(out.shape, dtype=out.dtype))
        g._requires_grad = True
        total = None
        for p, t, vjp in zip(parents, tangents, vjps):
            if t is None or vjp is None:
                continue
            u = as_tensor(vjp(g, out, *parents))
            if u.shape != p.shape:
                u = sum_to(u, p.shape)
            term = (u * t).sum()
            total = term if total is None else total + term
        if total is None or not total.requires_grad:
            return None
        (jt,) = grad(total, g, create_graph=True, allow_unused=True)
    return jt

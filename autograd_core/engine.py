"""Reverse-mode differentiation over the recorded graph.

`backward` and `grad` share one loop, `_run`: sort the graph topologically with an
explicit stack (never recursion, so chains of any depth work), then visit nodes from
the output back to the leaves. Each parent's gradient comes from its vjp, is reduced to
the parent's shape and dtype, and is summed into a dict. A node's gradient is dropped
once it has been used, and unless `retain_graph` is set its record is freed as well, so
memory falls during the pass.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import anomaly, grad_mode
from .inplace import _last_write
from .tensor import Tensor, _clock, _new


def _released_error(node: Tensor) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: the saved values of "
        f"'{node._op}' (shape {node.shape}) were freed by an earlier backward. Pass "
        f"retain_graph=True to the first backward (or ag.grad) to keep them."
    )


def _check_versions(node: Tensor) -> None:
    """Refuse to differentiate through values changed in place after `node` was recorded.

    Conservative by design: any write to an input or to the output (through any alias or
    view) after the record was made raises, whether or not the derivative reads it, since
    the graph would also route gradients to the wrong version of the tensor.
    """
    created = node._created_at
    if _last_write(node) > created:
        changed, which = node, "its output"
    else:
        bad = [i for i, p in enumerate(node._parents) if _last_write(p) > created]
        if not bad:
            return
        changed, which = node._parents[bad[0]], f"input {bad[0]}"
    where = f" (created at {node._site})" if node._site else ""
    raise RuntimeError(
        f"backward: {which} of '{node._op}'{where}, a tensor of shape {changed.shape}"
        f"{' named ' + repr(changed.name) if changed.name else ''}, was modified in place (version "
        f"{changed.version}) after '{node._op}' was recorded, so its gradient would be wrong. Compute "
        f"the forward pass again after the change, or change a copy instead."
    )


def toposort(roots: Sequence[Tensor]) -> list[Tensor]:
    """Nodes that require grad and lead to `roots`, ordered so parents come before children."""
    order: list[Tensor] = []
    seen: set[int] = set()
    clock = _clock
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in roots if r._requires_grad]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._vjps is None and node._op is not None:
            raise _released_error(node)
        if node._created_at != clock[0] and node._op is not None:  # a write happened since
            _check_versions(node)
        stack.append((node, True))
        for p in node._parents:
            if p._requires_grad and id(p) not in seen:
                stack.append((p, False))
    return order


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a broadcast gradient back down to `shape` (works on arrays and Tensors)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _reduce_to(g: Any, parent: Tensor, node: Tensor) -> Any:
    try:
        return sum_to(g, parent.data.shape)
    except ValueError:
        raise RuntimeError(
            f"backward of '{node._op}' returned a gradient of shape {g.shape} for an input of shape "
            f"{parent.shape}, and it does not sum back to that shape: the op's vjp is wrong"
        ) from None


def _run_hooks(node: Tensor, g: Any, on_tensors: bool) -> Any:
    """`x.register_hook(fn)`: each hook sees the finished gradient and may replace it."""
    for hook in list(node._hooks.values()):
        grad = g if on_tensors else _new(g)
        result = hook(grad)
        if result is None:
            continue
        value = result if isinstance(result, Tensor) else _new(np.asarray(result))
        if value.shape != node.shape:
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape {value.shape} "
                f"for a tensor of shape {node.shape}"
            )
        g = value if on_tensors else value.data
    return g


def _seed(root: Tensor, grad: Any, where: str) -> np.ndarray:
    if root.data.dtype.kind == "c":
        raise TypeError(
            f"{where}: the output is complex ({root.dtype}); gradients are defined here for real outputs only. "
            f"Differentiate a real function of it, e.g. np.abs(z) ** 2 or z.real"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"{where}: grad can be implicitly created only for outputs with one element, "
                f"but the output has shape {root.shape}; pass grad= (an array of that shape)"
            )
        return np.ones_like(root.data)
    g = grad.data if isinstance(grad, Tensor) else np.asarray(grad)
    if g.shape != root.shape:
        raise ValueError(f"{where}: grad has shape {g.shape} but the output has shape {root.shape}")
    return g.astype(root.data.dtype, copy=False)


Plan = tuple[list[Tensor], "set[int] | None", "set[int] | None"]

# Row-by-row Jacobians and Hessians send many seeds through one retained graph: its
# topological order is kept per root (weakly, and without the roots, so a dropped root
# frees its graph) and reused while no in-place write has happened anywhere (the clock).
_plans: dict[int, tuple[Any, ...]] = {}  # id(first root) -> plan; dropped when that root dies


def _plan(roots: Sequence[Tensor], targets: Sequence[Tensor] | None) -> Plan:
    order = toposort(roots)
    if targets is None:
        return order, None, None
    # Only nodes on a path to a target need visiting.
    wanted = {id(t) for t in targets}
    needed = set(wanted)
    for node in order:
        if any(id(p) in needed for p in node._parents):
            needed.add(id(node))
    return [n for n in order if id(n) in needed], wanted, needed


def _identity(roots: Sequence[Tensor], targets: Sequence[Tensor] | None) -> tuple[Any, ...]:
    return (_clock[0], tuple(map(id, roots)), None if targets is None else tuple(map(id, targets)))


def _remember_plan(roots: Sequence[Tensor], targets: Sequence[Tensor] | None, plan: Plan) -> None:
    order, wanted, needed = plan
    root_ids = {id(r) for r in roots}
    stored = [n for n in order if id(n) not in root_ids]  # no strong reference back to a root
    key = id(roots[0])
    refs = [weakref.ref(roots[0], lambda _, k=key, plans=_plans: plans.pop(k, None))]
    refs += [weakref.ref(t) for t in (*roots[1:], *(targets or ()))]
    _plans[key] = (_identity(roots, targets), refs, stored, [id(n) for n in order], wanted, needed)


def _cached_plan(roots: Sequence[Tensor], targets: Sequence[Tensor] | None) -> Plan | None:
    entry = _plans.get(id(roots[0]))
    if entry is None or entry[0] != _identity(roots, targets):
        return None
    if any(ref() is not t for ref, t in zip(entry[1], (*roots, *(targets or ())))):
        return None
    if any(n._vjps is None and n._op is not None for n in entry[2]):
        return None  # a later backward freed part of the graph: toposort will say so
    by_id = {id(r): r for r in roots}
    by_id.update((id(n), n) for n in entry[2])
    return [by_id[i] for i in entry[3]], entry[4], entry[5]


def _run(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    targets: Sequence[Tensor] | None,
) -> dict[int, Any]:
    """Propagate `seeds` from `roots`; return gradients of leaves (or of `targets`) by id."""
    plan = _cached_plan(roots, targets) if retain_graph else None
    if plan is None:
        plan = _plan(roots, targets)
        if retain_graph:
            _remember_plan(roots, targets, plan)
    order, wanted, needed = plan

    grads: dict[int, Any] = {}
    for r, s in zip(roots, seeds):
        grads[id(r)] = grads[id(r)] + s if id(r) in grads else s
    results: dict[int, Any] = {}
    collect: list[tuple[Tensor, Any]] = []
    check = grad_mode._state.anomaly

    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._hooks:
            g = _run_hooks(node, g, create_graph)
        if wanted is not None:
            if id(node) in wanted:
                results[id(node)] = g
        elif node._op is None or node._retains_grad:
            collect.append((node, g))
        parents = node._parents
        if not parents:
            continue
        if create_graph:
            out, args = node, parents
        else:
            out, args = node.data, node._saved_data
        for p, vjp in zip(parents, node._vjps):  # type: ignore[arg-type]
            if vjp is None or not p._requires_grad:
                continue
            if wanted is not None and id(p) not in needed:
                continue
            pg = vjp(g, out, *args)
            if pg.shape != p.data.shape:
                pg = _reduce_to(pg, p, node)
            if check:
                anomaly.check_backward(node, next(i for i, q in enumerate(parents) if q is p), g, pg)
            if pg.dtype != p.data.dtype:
                if pg.dtype.kind == "c":
                    raise TypeError(
                        f"backward of '{node._op}' produced a complex gradient for a real input of shape {p.shape}; "
                        f"complex intermediate values are not differentiable here (the imaginary part would be lost)"
                    )
                pg = pg.astype(p.data.dtype)
            key = id(p)
            grads[key] = grads[key] + pg if key in grads else pg
        if not retain_graph:
            node._parents = ()
            node._vjps = None
            node._saved_data = None

    # A leaf may keep the array its gradient arrived in when this pass made it: it owns
    # its memory, is writable, and is not the seed or another leaf's gradient. Anything
    # else (a view, a broadcast, the caller's `grad`) is copied, so `.grad` never aliases.
    shared = {id(s) for s in seeds}
    for node, g in collect:
        value = g.data if isinstance(g, Tensor) else g
        if node.grad is None:
            flags = value.flags
            fresh = flags.owndata and flags.writeable and id(value) not in shared
            node.grad = value if fresh and value.dtype == node.data.dtype else np.array(
                value, dtype=node.data.dtype, copy=True
            )
            shared.add(id(value))
        else:
            node.grad = node.grad + value
    return results


def backward(root: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's `.grad` (see `Tensor.backward`)."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; create inputs "
            "with requires_grad=True (and compute outside ag.no_grad())"
        )
    seed = _seed(root, grad, "backward")
    state = grad_mode._state
    previous = state.accumulating, state.callbacks
    state.accumulating, state.callbacks = True, []
    try:
        with grad_mode.no_grad():
            _run([root], [seed], retain_graph, False, None)
            for callback in state.callbacks:  # grows while it runs: a callback may queue another
                callback()
    finally:
        state.accumulating, state.callbacks = previous


def queue_callback(callback: Any) -> None:
    """Run `callback()` once the current `backward()` has written every `.grad` (PyTorch's
    `Variable._execution_engine.queue_callback`). Call it from a tensor hook during backward;
    DistributedDataParallel uses it to write the averaged gradients."""
    callbacks = grad_mode._state.callbacks
    if callbacks is None:
        raise RuntimeError("queue_callback: no backward() is running in this thread (call it from a tensor hook)")
    callbacks.append(callback)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned instead of stored in `.grad`.

    With `create_graph=True` the returned Tensors are themselves differentiable
    (Hessian-vector products, gradient penalties). `retain_graph` defaults to
    `create_graph`.
    """
    single = isinstance(outputs, Tensor)
    outs = [outputs] if single else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif single:
        grad_outputs = [grad_outputs]  # one output: grad_outputs is its one gradient
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outs)} outputs")
    if grad_mode._state.vmap_levels:  # inside vmap: per-example gradients of the physical graph
        from . import vmap

        outs, ins, grad_outputs, batched = vmap.grad_targets(outs, ins, grad_outputs)
        state, levels = grad_mode._state, grad_mode._state.vmap_levels
        state.vmap_levels = []  # the physical graph holds no batched tensors
        try:
            found = grad(outs, ins, grad_outputs, retain_graph, create_graph, allow_unused)
        finally:
            state.vmap_levels = levels
        return vmap.rewrap(found, batched)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so it has no gradient")
    # With a forward-mode level open, the pass runs on Tensors so tangents flow through it
    # (forward over reverse: Hessian-vector products in one pass).
    on_tensors = create_graph or bool(grad_mode._state.levels)
    seeds = []
    for i, (o, go) in enumerate(zip(outs, grad_outputs)):
        if not o._requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and has no graph")
        seed = _seed(o, go, "grad")
        if on_tensors:
            seed = go if isinstance(go, Tensor) else _new(seed)
        seeds.append(seed)
    if retain_graph is None:
        retain_graph = create_graph
    with grad_mode.enable_grad() if create_graph else grad_mode.no_grad():
        found = _run(outs, seeds, retain_graph, on_tensors, ins)
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) is not used to compute the outputs; "
                    f"pass allow_unused=True to get None for it"
                )
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else _new(g))
    return tuple(result)

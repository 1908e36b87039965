"""Custom ops: `ag.Function`, shaped like `torch.autograd.Function`.

    class Exp(ag.Function):
        @staticmethod
        def forward(ctx, x):
            y = np.exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = Exp.apply(x)

How it is recorded. `forward` runs with recording (and forward-mode levels) off. With
one differentiable output, that output is the graph node: an op named after the class,
whose parents are the Tensor arguments. Each parent's vjp asks the ctx for the whole
tuple of input gradients, and the ctx calls the user's `backward` once per backward
pass: it keeps the result next to the incoming gradient it was computed from, which the
engine hands to every vjp of a node in turn. With several differentiable outputs, one
hidden node (named after the class) holds them packed into one flat array, and every
visible output is a cheap getter op (`Name[j]`) on it. The getters' gradients sum into
the hidden node's, so `backward` still runs once, with every `grad_output` at hand.

Everything else comes from `make_result`: graph drawings and anomaly mode see an op
named after the class; the engine's version checks cover inputs and outputs (saved
tensors that are neither get their own check); under `create_graph` the vjps receive
Tensors, so a `backward` written with Tensor/NumPy ops is recorded and differentiable
again. Forward mode uses the class's `jvp` when it defines one, else the transpose of
`backward` (exact when `backward` is written with Tensor/NumPy ops, as it is linear in
the incoming gradients).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import grad_mode
from .anomaly import AnomalyError
from .dtypes import is_differentiable_dtype
from .ops import _util
from .tensor import Tensor, _alias_of, _new, as_tensor, make_result


class FunctionCtx:
    """The `ctx` of a custom op: what `forward` hands on to `backward` (and `jvp`).

    Any attribute may be set on it. `save_for_backward` is the way to keep Tensors: they
    are checked for in-place changes, and under `create_graph` inputs and outputs come
    back connected to the graph, so double backward works.
    """

    def __init__(self, name: str = "Function") -> None:
        self.needs_input_grad: tuple[bool, ...] = ()
        self.materialize_grads = True
        self._fn_name = name
        self._to_save: tuple[Tensor | None, ...] = ()
        self._to_save_forward: tuple[Tensor | None, ...] | None = None
        self._non_differentiable: set[int] = set()
        # Filled in by `apply` once the op is recorded.
        self._saved: list[tuple[str, Any, Tensor, int] | None] | None = None
        self._saved_forward: list[tuple[str, Any, Tensor, int] | None] | None = None
        self._node: weakref.ref[Tensor] | None = None
        self._layout: list[tuple[int, int, tuple[int, ...], np.dtype]] = []  # packed slice per output
        self._unpack_at: Any = None  # (out, args, on_tensors) while backward or jvp runs
        self._in_jvp = False
        self._memo: tuple[Any, list[Any], set[int]] | None = None
        self._received: set[int] = set()
        self._positions: list[int] = []  # forward argument index of each parent
        self._site: str | None = None  # where the op was created (anomaly mode)

    # ----------------------------------------------------------------- torch's ctx API
    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep Tensors for `backward` (read them back with `ctx.saved_tensors`)."""
        self._to_save = _check_saved(tensors, self._fn_name, "save_for_backward")

    def save_for_forward(self, *tensors: Tensor | None) -> None:
        """Keep Tensors for `jvp`; inside `jvp`, `ctx.saved_tensors` returns these."""
        self._to_save_forward = _check_saved(tensors, self._fn_name, "save_for_forward")

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """These outputs get no gradient and do not require grad (indices, masks)."""
        for t in outputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"{self._fn_name}: mark_non_differentiable takes Tensors, got {type(t).__name__}")
            self._non_differentiable.add(id(t))

    def set_materialize_grads(self, value: bool) -> None:
        """With True (the default) a missing output gradient reaches `backward` as zeros; else None."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Tensor) -> None:
        raise NotImplementedError(
            f"{self._fn_name}: mark_dirty (in-place custom ops) is not supported; return a new Tensor instead"
        )

    @property
    def saved_tensors(self) -> tuple[Tensor | None, ...]:
        """The Tensors given to `save_for_backward` (in `jvp`: to `save_for_forward`, if called)."""
        use_forward = self._in_jvp and self._to_save_forward is not None
        entries = self._saved_forward if use_forward else self._saved
        if entries is None:  # inside forward, or the op was not recorded
            return self._to_save_forward if use_forward else self._to_save  # type: ignore[return-value]
        node = self._node() if self._node is not None else None
        if self._unpack_at is None and self._node is not None and (node is None or node._vjps is None):
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to access saved tensors after they "
                f"were freed): the saved tensors of '{self._fn_name}' were freed by an earlier backward. "
                f"Pass retain_graph=True to the first backward (or ag.grad) to keep them."
            )
        return tuple(self._unpack(i, e) for i, e in enumerate(entries))

    # ----------------------------------------------------------------- internals
    def _unpack(self, i: int, entry: tuple[str, Any, Tensor, int] | None) -> Tensor | None:
        if entry is None:
            return None
        kind, where, original, version = entry
        # Inputs and outputs need no check here: the engine checks them before it calls any vjp
        # (and keeps a copy where an output was overwritten by a recorded in-place op).
        if kind == "other" and original.version != version:
            raise RuntimeError(
                f"backward: saved tensor {i} of '{self._fn_name}', a tensor of shape {original.shape}, was modified "
                f"in place (version {original.version}, saved at version {version}) after '{self._fn_name}' was "
                f"recorded, so its gradient would be wrong. Compute the forward pass again after the change, "
                f"or change a copy instead."
            )
        if self._unpack_at is None or kind == "other":
            return original
        out, args, on_tensors = self._unpack_at
        if kind == "input":
            return args[where] if on_tensors else _new(args[where])
        return self._output(out, where, on_tensors)

    def _output(self, out: Any, j: int, on_tensors: bool) -> Any:
        """Differentiable output `j` from the node: itself, or its slice of the packed array."""
        if len(self._layout) > 1:
            start, stop, shape, dtype = self._layout[j]
            out = out[start:stop].reshape(shape)
            if out.dtype != dtype:
                out = out.astype(dtype)
        return out if on_tensors else _new(out)


def _check_saved(tensors: Sequence[Any], name: str, how: str) -> tuple[Tensor | None, ...]:
    for i, t in enumerate(tensors):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"{name}: {how} takes Tensors (or None), got {type(t).__name__} at position {i}; "
                            f"store other values as attributes of ctx")
    return tuple(tensors)


class Function:
    """Base class of custom ops: define `forward` and `backward` (and optionally `jvp`) as static methods.

    Either `forward(ctx, *args, **kwargs)`, or `forward(*args, **kwargs)` together with
    `setup_context(ctx, inputs, output)`. `backward(ctx, *grad_outputs)` returns one
    gradient per positional argument of `forward` (None where there is none; a single
    value when there is one argument). Call the op as `MyOp.apply(*args, **kwargs)`.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("subclasses of ag.Function define forward as a @staticmethod")

    @staticmethod
    def setup_context(ctx: FunctionCtx, inputs: tuple[Any, ...], output: Any) -> None:
        raise NotImplementedError  # not overridden: forward takes ctx itself

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("subclasses of ag.Function define backward as a @staticmethod")

    @staticmethod
    def jvp(ctx: FunctionCtx, *tangents: Any) -> Any:
        raise NotImplementedError  # not overridden: forward mode transposes backward

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run `forward` and record the op so `backward` (and `jvp`) give its derivatives."""
        if _util.recording is not None:  # the faulty-op locator checks custom ops too
            return _util._record(_named_apply(cls), args, kwargs)
        return _apply(cls, args, kwargs)


def _named_apply(cls: type[Function]) -> Callable[..., Any]:
    """`cls.apply` as a plain function named after the class (for the locator's report)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        return _apply(cls, args, kwargs)

    run.__name__ = run.__qualname__ = cls.__name__
    return run


def _apply(cls: type[Function], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    name = cls.__name__
    state = grad_mode._state
    ctx = FunctionCtx(name)
    ctx.needs_input_grad = tuple(state.enabled and isinstance(a, Tensor) and a._requires_grad for a in args)
    positions = [k for k, a in enumerate(args) if isinstance(a, Tensor)]  # forward args that become parents
    ctx._positions = positions
    parents = tuple(args[k] for k in positions)
    recording = any(ctx.needs_input_grad)
    levels = state.levels
    dual = bool(levels) and any(p._tangents and any(lv in p._tangents for lv in levels) for p in parents)

    enabled = state.enabled
    state.enabled, state.levels = False, ()  # forward is the op's own computation: nothing to record
    try:
        if cls.setup_context is not Function.setup_context:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    finally:
        state.enabled, state.levels = enabled, levels

    single = not isinstance(output, tuple)
    outs = [output] if single else list(output)
    outs = [as_tensor(o) if isinstance(o, np.ndarray) else o for o in outs]
    diff = [
        j for j, o in enumerate(outs)
        if isinstance(o, Tensor) and is_differentiable_dtype(o.dtype) and id(o) not in ctx._non_differentiable
    ]
    results: list[Any] = [
        (o.detach() if o._requires_grad else o) if isinstance(o, Tensor) else o for o in outs
    ]
    if not diff or not (recording or dual):
        return results[0] if single else tuple(results)

    # The op is recorded: tell saved inputs and outputs apart, so backward can hand them
    # back connected to the graph under create_graph.
    ctx._saved = _classify(ctx._to_save, parents, [outs[j] for j in diff])
    if ctx._to_save_forward is not None:
        ctx._saved_forward = _classify(ctx._to_save_forward, parents, [outs[j] for j in diff])
    shapes = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outs]
    vjps = tuple(_parent_vjp(cls, ctx, k, positions, diff, shapes, len(args)) for k in range(len(parents)))
    if cls.jvp is not Function.jvp:
        jvp: Any = _user_jvp(cls, ctx, positions, diff, len(args), len(outs))
    else:
        jvp = _transposed_backward(name, ctx, vjps)

    stop = 0
    for j in diff:
        start, stop = stop, stop + outs[j].size
        ctx._layout.append((start, stop, outs[j].shape, outs[j].dtype))
    if len(diff) == 1:
        node = make_result(outs[diff[0]].data, name, parents, vjps, jvp)
        visible = [node]
    else:
        common = np.result_type(*[outs[j].dtype for j in diff])
        packed = np.concatenate([outs[j].data.reshape(-1).astype(common, copy=False) for j in diff])
        node = make_result(packed, name, parents, vjps, jvp)
        visible = [_getter(node, name, ctx, i, j, outs[j]) for i, j in enumerate(diff)]
    ctx._site = node._site
    if node._op is not None:  # recorded: ctx.saved_tensors checks that the graph was not freed since
        ctx._node = weakref.ref(node)
    for i, j in enumerate(diff):
        # The visible output shares the returned array (an input returned as is, too), so a
        # write to either is seen by the other's version count.
        visible[i]._base = _alias_of(outs[j])
        results[j] = visible[i]
    return results[0] if single else tuple(results)


def _classify(
    tensors: Sequence[Tensor | None], parents: Sequence[Tensor], outputs: Sequence[Tensor]
) -> list[tuple[str, Any, Tensor, int] | None]:
    """Each saved tensor as ("input", parent index) / ("output", j) / ("other", None), with its version."""
    entries: list[tuple[str, Any, Tensor, int] | None] = []
    for t in tensors:
        if t is None:
            entries.append(None)
        elif (k := next((k for k, p in enumerate(parents) if p is t), None)) is not None:
            entries.append(("input", k, t, t.version))
        elif (j := next((j for j, o in enumerate(outputs) if o is t), None)) is not None:
            entries.append(("output", j, t, t.version))
        else:
            entries.append(("other", None, t, t.version))
    return entries


def _getter(node: Tensor, name: str, ctx: FunctionCtx, i: int, j: int, out: Tensor) -> Tensor:
    """Visible output `j` (`i`-th differentiable one): its slice of the hidden node's packed array."""
    start, stop, shape, dtype = ctx._layout[i]
    size = node.shape[0]

    def vjp(g: Any, y: Any, packed: Any) -> Any:
        ctx._received.add(i)  # so backward can tell a missing gradient from a zero one
        if isinstance(g, Tensor):
            from .ops import pad

            return pad(g.reshape(-1).astype(node.dtype), (start, size - stop))
        full = np.zeros(size, dtype=node.dtype)
        full[start:stop] = g.reshape(-1)
        return full

    def jvp(tangents: list[Any], y: Tensor, packed: Tensor) -> Any:
        t = tangents[0][start:stop].reshape(shape)
        return t.astype(dtype) if t.dtype != dtype else t

    return make_result(out.data, f"{name}[{j}]", (node,), (vjp,), jvp)


def _parent_vjp(
    cls: type[Function], ctx: FunctionCtx, k: int, positions: list[int], diff: list[int],
    shapes: list[Any], n_args: int,
) -> Callable[..., Any]:
    """The vjp for parent `k`: its entry of the gradients that one `backward` call returns."""

    def vjp(g: Any, out: Any, *args: Any) -> Any:
        memo = ctx._memo
        if memo is None or memo[0] is not g:  # the engine passes one `g` to all vjps of a node
            grads = _run_backward(cls, ctx, g, out, args, positions, diff, shapes, n_args)
            pending = {q for q, need in enumerate(positions) if ctx.needs_input_grad[need]}
            memo = ctx._memo = (g, grads, pending)
        memo[2].discard(k)
        if not memo[2]:
            ctx._memo = None  # every vjp has had its share: do not keep the gradients alive
        return memo[1][k]

    return vjp


def _run_backward(
    cls: type[Function], ctx: FunctionCtx, g: Any, out: Any, args: tuple[Any, ...], positions: list[int],
    diff: list[int], shapes: list[Any], n_args: int,
) -> list[Any]:
    name = cls.__name__
    on_tensors = isinstance(g, Tensor)
    wrap = (lambda a: a) if on_tensors else _new
    received = ctx._received or set(range(len(diff)))  # none marked: called by the forward-mode transpose
    ctx._received = set()
    grad_outputs: list[Any] = [None] * len(shapes)
    for i, j in enumerate(diff):
        if len(diff) == 1:
            grad_outputs[j] = wrap(g)
        elif i in received or ctx.materialize_grads:
            grad_outputs[j] = wrap(ctx._output(g, i, True))
    if ctx.materialize_grads:
        for j, info in enumerate(shapes):
            if info is not None and grad_outputs[j] is None:
                grad_outputs[j] = _new(np.zeros(info[0], dtype=info[1]))

    ctx._unpack_at = (out, args, on_tensors)
    try:
        result = cls.backward(ctx, *grad_outputs)
    except AnomalyError as exc:  # an op inside backward went non-finite: say whose backward it was
        raise AnomalyError(f"in backward of '{name}' created at {ctx._site or '<site not recorded>'}: {exc}") from None
    finally:
        ctx._unpack_at = None
    result = result if isinstance(result, tuple) else (result,)
    if len(result) > n_args and all(r is None for r in result[n_args:]):
        result = result[:n_args]  # torch allows trailing Nones
    if len(result) != n_args:
        raise RuntimeError(
            f"{name}.backward returned {len(result)} gradient(s), but {name}.forward takes {n_args} argument(s): "
            f"return one gradient per argument of forward (None where there is none)"
        )
    for pos, r in enumerate(result):
        if r is not None and pos not in positions:
            raise RuntimeError(
                f"{name}.backward returned a gradient at index {pos}, but argument {pos} of {name}.forward is not "
                f"a Tensor, so it has no gradient; return None there"
            )

    from .engine import sum_to

    grads: list[Any] = []
    for k, pos in enumerate(positions):
        r = result[pos]
        shape = args[k].shape
        if not ctx.needs_input_grad[pos]:
            grads.append(None)
            continue
        if r is None:  # no gradient: torch treats it as zero
            zeros = np.zeros(shape, dtype=args[k].dtype)
            grads.append(_new(zeros) if on_tensors else zeros)
            continue
        if on_tensors:
            r = r if isinstance(r, Tensor) else _new(np.asarray(r))
        else:
            r = r.data if isinstance(r, Tensor) else np.asarray(r)
        if r.shape != shape:
            try:
                ok = np.broadcast_shapes(shape, r.shape) == r.shape
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{name}.backward returned an invalid gradient at index {pos}: got shape {r.shape} but "
                    f"expected a shape compatible with input {pos}'s shape {shape}"
                )
            r = sum_to(r, shape)  # a broadcast gradient, as torch accepts: sum it back
        grads.append(r)
    return grads


def _user_jvp(
    cls: type[Function], ctx: FunctionCtx, positions: list[int], diff: list[int], n_args: int, n_outs: int
) -> Callable[..., Any]:
    """The forward-mode rule: the class's `jvp`, with zeros for missing input tangents."""
    name = cls.__name__

    def rule(tangents: list[Any], out: Tensor, *parents: Tensor) -> Any:
        full: list[Any] = [None] * n_args
        for k, pos in enumerate(positions):
            t = tangents[k]
            full[pos] = t if t is not None else _new(np.zeros(parents[k].shape, dtype=parents[k].dtype))
        ctx._unpack_at, ctx._in_jvp = (out, parents, True), True
        try:
            result = cls.jvp(ctx, *full)
        finally:
            ctx._unpack_at, ctx._in_jvp = None, False
        result = result if isinstance(result, tuple) else (result,)
        if len(result) != n_outs:
            raise RuntimeError(
                f"{name}.jvp returned {len(result)} tangent(s), but {name}.forward returned {n_outs} output(s): "
                f"return one tangent per output"
            )
        pieces = []
        for i, j in enumerate(diff):
            _, _, shape, dtype = ctx._layout[i]
            t = result[j]
            t = _new(np.zeros(shape, dtype=dtype)) if t is None else as_tensor(t)
            if t.shape != shape:
                raise ValueError(f"{name}.jvp returned a tangent of shape {t.shape} for output {j} of shape {shape}")
            pieces.append(t)
        if len(pieces) == 1:
            return pieces[0]
        from .ops import concatenate

        return concatenate([p.reshape(-1).astype(out.dtype) for p in pieces])

    return rule


def _transposed_backward(name: str, ctx: FunctionCtx, vjps: tuple[Callable[..., Any], ...]) -> Callable[..., Any]:
    """Forward mode without a `jvp`: J t = d/dg <backward(g), t>, since backward is linear in g."""

    def rule(tangents: list[Any], out: Tensor, *parents: Tensor) -> Any:
        from .engine import grad

        # backward must produce the gradients of every input that carries a tangent.
        needs, with_tangent = ctx.needs_input_grad, {pos for pos, t in zip(ctx._positions, tangents) if t is not None}
        ctx.needs_input_grad = tuple(need or pos in with_tangent for pos, need in enumerate(needs))
        try:
            return _transpose(name, vjps, tangents, out, parents, grad)
        finally:
            ctx.needs_input_grad = needs
            ctx._memo = None

    return rule


def _transpose(name: str, vjps: Any, tangents: list[Any], out: Tensor, parents: tuple[Tensor, ...], grad: Any) -> Any:
    with grad_mode.enable_grad():
        # Any g gives the same derivative (backward is linear in g); ones, not zeros, so that a
        # backward computed around the graph shows up as a nonzero constant below.
        g = _new(np.ones(out.shape, dtype=out.dtype))
        g._requires_grad = True
        total = None
        for t, vjp in zip(tangents, vjps):
            if t is None:
                continue
            u = vjp(g, out, *parents)
            if u is None:
                continue
            if not u._requires_grad:
                if np.any(u.data != 0):  # a nonzero gradient that ignores g: backward went around the graph
                    raise RuntimeError(
                        f"forward mode through '{name}': its backward returned a gradient that does not depend "
                        f"on grad_outputs (computed outside the Tensor ops, e.g. from .data), so it cannot be "
                        f"transposed; define {name}.jvp, or write backward with Tensor/NumPy ops"
                    )
                continue
            term = (u * t).sum()
            total = term if total is None else total + term
        if total is None:
            return None
        (tangent,) = grad(total, g, create_graph=True, allow_unused=True)
    return tangent

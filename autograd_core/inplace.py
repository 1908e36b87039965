"""In-place writes (`x += y`, `x[i] = v`, `np.add(a, b, out=x)`) that change `x` itself, as NumPy does.

Three cases, decided in `_mode`:

- **Values only.** Under `no_grad`, or when nothing involved requires grad, the new values
  are written into `x.data` (NumPy's own in-place ufunc or `__setitem__`, so casting,
  broadcasting and overlap rules are NumPy's) and the version counters go up.
- **Refused.** In grad mode, writing into a leaf that requires grad (or into a view of one)
  raises PyTorch's `RuntimeError`: the write would replace the value the gradient is for.
- **Recorded.** Otherwise `x` becomes the output of the in-place op. Its previous graph
  record moves to a fresh snapshot tensor (`old`), which becomes the op's first input, so
  gradients flow to `x`'s earlier value and to the operand. A write into a view `v` of a
  base `b` records on the base (`b` = `b_old` with `v`'s region replaced, PyTorch's
  CopySlices) and then re-derives `v` from the new base.

Values are shared, not copied: `old` keeps the array that is about to be overwritten,
unless some recorded derivative will read the old values (found by `reads_arg`, which
looks at which arguments a vjp's code loads). Then `old` gets a copy first.

An operand computed from `x` itself (`x[1:] = x[:-1] * 2`, `x[idx] += 1`) refers to the
object `x`, which is about to mean the new value; `_Redirect` points those references at
`old` so the graph stays acyclic and exact.

Consumers recorded before the write still refer to the object `x`; version counters make
any backward through them raise instead of returning a wrong gradient.
"""

from __future__ import annotations

import dis
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import grad_mode
from .tensor import Tensor, _bump, _clock, _new, as_tensor, make_result

_READS = frozenset(("LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "LOAD_FAST_LOAD_FAST", "STORE_FAST"))


@functools.lru_cache(maxsize=4096)
def _loaded_args(code: Any) -> frozenset[int] | None:
    """Positions of the arguments that `code` reads; None when that cannot be known."""
    if code.co_flags & 0x04:  # *args: any argument may be read
        return None
    names = code.co_varnames[: code.co_argcount]
    used = {i for i, n in enumerate(names) if n in code.co_cellvars}  # captured by an inner function
    for ins in dis.get_instructions(code):
        if ins.opname in _READS:
            for name in ins.argval if isinstance(ins.argval, tuple) else (ins.argval,):
                if name in names:
                    used.add(names.index(name))
    return frozenset(used)


def reads_arg(vjp: Any, position: int) -> bool:
    """Whether `vjp(g, y, *inputs)` may read its argument at `position` (1 is the output)."""
    code = getattr(vjp, "__code__", None)
    if code is None:
        return True
    used = _loaded_args(code)
    return used is None or position in used


def _record_reads(node: Tensor, position: int) -> bool:
    """Whether any live derivative of `node`'s record reads argument `position`."""
    if node._vjps is None:
        return False
    return any(
        vjp is not None and p._requires_grad and reads_arg(vjp, position)
        for p, vjp in zip(node._parents, node._vjps)
    )


# ----------------------------------------------------------------- records
def _snapshot(x: Tensor) -> Tensor:
    """A new tensor that takes over `x`'s current value and graph record (sharing the array)."""
    old = _new(x.data)
    for slot in ("_requires_grad", "_parents", "_vjps", "_op", "_saved_data", "_created_at", "_scope", "_site"):
        setattr(old, slot, getattr(x, slot))
    old._modified_at = x._modified_at
    old._version = x._version
    old.name = x.name
    return old


def _give_copy(old: Tensor) -> None:
    """Let `old` keep its values: the original array is about to be overwritten."""
    old.data = old.data.copy()


def _take_record(x: Tensor, res: Tensor, op: str) -> None:
    """Make `x` the output of `res`'s record (made just after the write, so it postdates it)."""
    x._requires_grad = res._requires_grad
    x._parents, x._vjps, x._op = res._parents, res._vjps, op
    x._saved_data = tuple([p.data for p in res._parents]) if res._vjps is not None else None
    x._created_at = _clock[0]
    x._scope, x._site = res._scope, res._site


class _Redirect:
    """The nodes behind an operand that read `x`'s current value, found before `x` is overwritten.

    `direct` are (node, position) pairs whose input is `x` itself; `views` are (node,
    position, view) triples whose input is a view of `x` (`x[:-1]` in `x[1:] += x[:-1]`).
    Only nodes made since `x`'s value was last set can refer to it, so the walk stops at
    older ones.
    """

    def __init__(self, operand: Any, x: Tensor) -> None:
        self.direct: list[tuple[Tensor, int]] = []
        self.views: list[tuple[Tensor, int, Tensor]] = []
        self.operand, self.x = operand, x
        if not isinstance(operand, Tensor) or operand is x or _is_view_of(operand, x):
            return
        start = max(x._created_at, _last_write(x))
        stack, seen = [operand], set()
        while stack:
            node = stack.pop()
            if id(node) in seen or node._vjps is None or node._created_at < start:
                continue
            seen.add(id(node))
            for i, p in enumerate(node._parents):
                if p is x:
                    self.direct.append((node, i))
                elif _is_view_of(p, x):
                    self.views.append((node, i, p))
                elif p._op is not None:
                    stack.append(p)

    def reads_values(self) -> bool:
        """Whether a derivative behind the operand reads `x`'s values (then `old` needs a copy)."""
        if _is_view_of(self.operand, self.x):
            return True
        return bool(self.views) or any(_record_reads(node, i + 2) for node, i in self.direct)

    def apply(self, old: Tensor) -> Any:
        """Point those nodes at `old` (and at views of `old`), saved arrays included; return
        what the operand itself becomes (`old` for `x += x`, a view of `old` for a view of `x`)."""
        if self.operand is self.x:
            return old
        if _is_view_of(self.operand, self.x):
            return self.operand._view_fn(old)
        for node, i in self.direct:
            _replace_input(node, i, old)
        fresh: dict[int, Tensor] = {}
        for node, i, view in self.views:
            if id(view) not in fresh:
                fresh[id(view)] = view._view_fn(old)
            _replace_input(node, i, fresh[id(view)])
        return self.operand


def _is_view_of(t: Any, x: Tensor) -> bool:
    return isinstance(t, Tensor) and t._base is x and t._view_fn is not None


def _replace_input(node: Tensor, i: int, new: Tensor) -> None:
    parents = list(node._parents)
    parents[i] = new
    node._parents = tuple(parents)
    if node._saved_data is not None:
        saved = list(node._saved_data)
        saved[i] = new.data
        node._saved_data = tuple(saved)


def _last_write(t: Tensor) -> int:
    """The clock at the latest write to `t` or to any array it aliases (its bases)."""
    last = t._modified_at
    base = t._base
    while base is not None:
        last = max(last, base._modified_at)
        base = base._base
    return last


# ----------------------------------------------------------------- the three cases
def _root(x: Tensor) -> Tensor | None:
    """The base tensor whose values a differentiable view `x` shows (None if `x` is no view)."""
    return x._base if x._view_fn is not None else None


def _mode(x: Tensor, operand: Any, what: str) -> str:
    """'values', or 'record'; raises for writes that would corrupt a gradient."""
    if not x.data.flags.writeable:
        raise ValueError(f"{what}: the tensor's array is read-only (a broadcast or strided view); write into a copy")
    state = grad_mode._state
    if not state.enabled:
        return "values"
    base = _root(x)
    if x._requires_grad and x._op is None and base is None:
        raise RuntimeError(
            f"{what}: a leaf tensor that requires grad (shape {x.shape}) is being used in an in-place "
            f"operation; write under `with ag.no_grad():` (e.g. a hand-written update rule), or work on "
            f"a copy that is not a leaf"
        )
    if base is not None and base._requires_grad:
        if base._op is None:
            raise RuntimeError(
                f"{what}: a view of a leaf tensor that requires grad (shape {base.shape}) is being used in an "
                f"in-place operation; write under `with ag.no_grad():` or into a copy"
            )
        if x._op is None:
            raise RuntimeError(
                f"{what}: this view was created under no_grad from a tensor that requires grad, so an in-place "
                f"write through it cannot be recorded; create the view with grad mode on, or write under no_grad"
            )
    operand_grad = isinstance(operand, Tensor) and operand._requires_grad
    if x._requires_grad or operand_grad or (base is not None and base._requires_grad):
        return "record"
    return "values"


def _write(x: Tensor, values: np.ndarray, what: str) -> None:
    if values.shape != x.shape:
        raise ValueError(
            f"{what}: the result has shape {values.shape}, which does not fit the target of shape {x.shape} "
            f"(an in-place result cannot broadcast the target)"
        )
    if not np.can_cast(values.dtype, x.data.dtype, "same_kind"):
        raise TypeError(
            f"{what}: cannot cast the result from {values.dtype} to the target's dtype {x.data.dtype} "
            f"with casting rule 'same_kind' (as NumPy's in-place ufuncs)"
        )
    np.copyto(x.data, values, casting="unsafe")


def _recorded(
    x: Tensor, compute: Callable[[Tensor, Any], Tensor], operand: Any, op: str, old_read: Callable[[Tensor], bool]
) -> None:
    """Record `x <- compute(x's old value, operand)`; `old_read(res)`: do res's derivatives read the old value."""
    base = _root(x)
    if base is None:
        old = _snapshot(x)
        readers = _Redirect(operand, x)
        if readers.reads_values():
            _give_copy(old)
        res = compute(old, readers.apply(old))
        if res.shape != x.shape:
            _write(x, res.data, op)  # raises the shape error
        if old.data is x.data and ((old._op is not None and _record_reads(old, 1)) or old_read(res)):
            _give_copy(old)
            if res._vjps is not None:
                res._saved_data = tuple([p.data for p in res._parents])
        _write(x, res.data, op)
        _bump(x)
        _take_record(x, res, op)
        return
    _recorded_view(x, base, compute, operand, op)


def _recorded_view(x: Tensor, base: Tensor, compute: Callable[[Tensor, Any], Tensor], operand: Any, op: str) -> None:
    """A write through view `x` of `base`: the base records the new region, then `x` is re-derived."""
    view_fn = x._view_fn
    b_old = _snapshot(base)
    _give_copy(b_old)  # a view's old value is cheap to keep and keeps every reader exact
    operand = _Redirect(operand, base).apply(b_old)
    x_old = view_fn(b_old)
    res = compute(x_old, _Redirect(operand, x).apply(x_old))
    _write(x, res.data, op)  # through the view, into the base's array
    shape = base.shape

    def to_base(g: Any, y: Any, b: Any, r: Any) -> Any:
        return zero_region(g, view_fn, shape)

    def to_region(g: Any, y: Any, b: Any, r: Any) -> Any:
        return view_fn(g)

    _bump(x)
    written = make_result(base.data, op, (b_old, res), (to_base, to_region))
    _take_record(base, written, op)
    rederived = view_fn(base)
    _take_record(x, rederived, rederived._op or op)


def refresh_view(view: Tensor) -> None:
    """Re-derive `view` from its base after a recorded write to the base (PyTorch's view replay):
    its values already show the write, and now its graph record does too."""
    fresh = view._view_fn(view._base)
    _take_record(view, fresh, fresh._op or "getitem")


def zero_region(g: Any, view_fn: Callable[[Any], Any], shape: tuple[int, ...]) -> Any:
    """`g` (of `shape`) with the elements that `view_fn` selects set to 0."""
    region = np.asarray(view_fn(np.arange(int(np.prod(shape))).reshape(shape))).ravel()
    if isinstance(g, Tensor):
        from .ops.indexing import index_put

        return index_put(g.reshape(-1), region, 0.0).reshape(shape)
    out = np.array(g, copy=True).reshape(-1)
    out[region] = 0
    return out.reshape(shape)


# ----------------------------------------------------------------- entry points
def binary(x: Tensor, other: Any, op: Callable[[Any, Any], Tensor], ufunc: np.ufunc, name: str) -> Tensor:
    """`x op= other` for an elementwise `op` that is NumPy's `ufunc` on values."""
    if _mode(x, other, name) == "values":
        value = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(x.data, value, out=x.data)
        except (TypeError, ValueError) as exc:  # NumPy's casting and broadcasting errors
            raise (TypeError if isinstance(exc, TypeError) else ValueError)(f"{name}: {exc}") from None
        _bump(x)
        return x
    _recorded(x, op, other, name, lambda res: _record_reads(res, 2))
    return x


def matmul(x: Tensor, other: Any) -> Tensor:
    """`x @= other`: NumPy requires the product to keep `x`'s shape."""
    from . import ops

    return binary(x, other, ops.matmul, np.matmul, "matmul_")


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """`x[index] = value` with NumPy's semantics (casting, broadcasting, last write wins)."""
    from .ops.indexing import _plain_index, index_put

    index = _plain_index(index)
    if _writes_itself(x, index, value):  # `x[i] op= v` ends in `x[i] = x[i]`: nothing to change
        return
    if _mode(x, value, "setitem") == "values":
        try:
            x.data[index] = value.data if isinstance(value, Tensor) else value
        except (TypeError, ValueError, IndexError) as exc:
            kind = TypeError if isinstance(exc, TypeError) else IndexError if type(exc) is IndexError else ValueError
            raise kind(f"setitem: {exc}") from None
        _bump(x)
        return
    value = as_tensor(value, x)
    if _root(x) is None and not _record_reads(x, 1):
        _setitem_direct(x, index, value)
        return
    _recorded(x, lambda old, v: index_put(old, index, v), value, "setitem", lambda res: False)


def _writes_itself(x: Tensor, index: Any, value: Any) -> bool:
    """Whether `value` is the very view `x[index]` (same memory, same layout)."""
    if not isinstance(value, Tensor) or value._base is not x or value._view_fn is None:
        return False
    try:
        target = x.data[index]
    except (IndexError, TypeError, ValueError):
        return False
    return (
        isinstance(target, np.ndarray)
        and target.__array_interface__["data"][0] == value.data.__array_interface__["data"][0]
        and target.shape == value.shape
        and target.strides == value.data.strides
        and target.dtype == value.dtype
    )


def _setitem_direct(x: Tensor, index: Any, value: Tensor) -> None:
    """The loop-friendly path: write the region in place and record it, no full copy."""
    from .ops.indexing import index_put

    old = _snapshot(x)
    readers = _Redirect(value, x)
    if readers.reads_values():
        _give_copy(old)
    res = index_put(old, index, readers.apply(old), out=x.data)
    _bump(x)
    _take_record(x, res, "setitem")


def assign(x: Tensor, value: Any) -> Tensor:
    """`x[...] = value`: the target of a NumPy call with `out=x`."""
    setitem(x, Ellipsis, value)
    return x

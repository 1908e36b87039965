"""`ag.func.vmap`: run a per-example function over a batch, as batched NumPy calls.

Inside `vmap`, each batched argument is a `BatchedTensor`: it shows the function the
*logical* (per-example) shape, and holds the *physical* Tensor, whose axis 0 is the
batch. Every public op is intercepted in one place (`ops._util.named_errors`, which
wraps them all; `nn.functional` gets the same wrapper): when an argument is batched,
the op's batch rule calls the op once on the physical tensors (moving axis arguments
past the batch axis, aligning broadcast dimensions, ...) and wraps the result.

The physical calls are ordinary recorded ops, so gradients need nothing new:
`grad(vmap(f))` differentiates the physical graph. For `vmap(grad(f))` (per-sample
gradients) every tensor that requires grad and enters a batched op is first broadcast
to the batch (`broadcast_to`, a view): the gradient at that broadcast is the
per-example gradient, which `ag.grad` returns (batched) when asked for the original
tensor inside the vmap; outside, the broadcast's backward sums it, as usual.

An op with no batch rule runs once per example (a Python loop) and warns once,
naming the op. Batched tensors never enter the graph themselves: a guard in
`make_result` raises if one slips into an op outside its rule.
"""

from __future__ import annotations

import functools
import inspect
import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import grad_mode
from .tensor import Tensor, _new, as_tensor

_warned: set[str] = set()


class _Level:
    __slots__ = ("size", "expansions", "depth")

    def __init__(self, size: int, depth: int) -> None:
        self.size = size
        self.depth = depth
        self.expansions: dict[int, tuple[Tensor, BatchedTensor]] = {}  # id(t) -> (t, its batch broadcast)


class BatchedDataError(RuntimeError):
    """A batched tensor's values were read directly (`.data`) inside vmap."""


class BatchedTensor(Tensor):
    """A per-example view of a batch: logical shape outside, physical Tensor (batch first) inside."""

    __slots__ = ("_value", "_level")

    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        raise BatchedDataError(
            "inside vmap, a batched tensor has no single array of values; this operation read `.data` "
            "directly. Use Tensor ops, or give the function a batch rule"
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape[1:]

    @property
    def ndim(self) -> int:
        return self._value.ndim - 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def requires_grad(self) -> bool:  # type: ignore[override]
        return self._value.requires_grad

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        return f"BatchedTensor(logical shape {self.shape}, batch {self._level.size}, dtype {self.dtype})"

    def detach(self) -> BatchedTensor:
        return _wrap(self._value.detach(), self._level)

    def item(self) -> Any:
        raise BatchedDataError("item(): a batched tensor has one value per example inside vmap")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        raise BatchedDataError("a batched tensor cannot be converted to a NumPy array inside vmap")

    def __bool__(self) -> bool:
        raise BatchedDataError("the truth value of a batched tensor differs per example (data-dependent control flow)")

    def __float__(self) -> float:
        raise BatchedDataError("float(): a batched tensor has one value per example inside vmap")

    def __setitem__(self, index: Any, value: Any) -> None:
        raise RuntimeError("vmap: in-place writes into a batched tensor are not supported; build a new tensor")


def _wrap(value: Any, level: _Level) -> Any:
    if isinstance(value, Tensor):
        b = object.__new__(BatchedTensor)
        for slot in ("grad", "name", "_parents", "_vjps", "_op", "_saved_data", "_scope", "_site", "_base",
                     "_view_fn", "_tangents", "_hooks"):
            object.__setattr__(b, slot, None if slot not in ("_parents",) else ())
        b._requires_grad, b._retains_grad, b._version = False, False, 0
        b._created_at = b._modified_at = 0
        b._value, b._level = value, level
        return b
    if isinstance(value, (list, tuple)):
        return type(value)(_wrap(v, level) for v in value)
    return value


def _levels() -> list[_Level]:
    return grad_mode._state.vmap_levels


def _batched_at(x: Any, level: _Level) -> bool:
    return isinstance(x, BatchedTensor) and x._level is level


def has_batched(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    for a in (*args, *kwargs.values()):
        if isinstance(a, BatchedTensor):
            return True
        if isinstance(a, (list, tuple)) and any(isinstance(v, BatchedTensor) for v in a):
            return True
    return False


def _innermost(args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Level:
    found: list[_Level] = []
    for a in (*args, *kwargs.values()):
        items = a if isinstance(a, (list, tuple)) else (a,)
        found.extend(v._level for v in items if isinstance(v, BatchedTensor))
    return max(found, key=lambda lv: lv.depth)


def _expand(x: Any, level: _Level) -> Any:
    """A tensor that requires grad, used per example: broadcast it to the batch (see module doc)."""
    if not isinstance(x, Tensor) or isinstance(x, BatchedTensor) or not x.requires_grad:
        return x
    if not grad_mode._state.enabled:
        return x
    entry = level.expansions.get(id(x))
    if entry is None or entry[0] is not x:
        from .ops import broadcast_to

        entry = (x, _wrap(broadcast_to(x, (level.size, *x.shape)), level))
        level.expansions[id(x)] = entry
    return entry[1]


def _map_args(args: tuple[Any, ...], kwargs: dict[str, Any], fn: Callable[[Any], Any]) -> tuple[tuple, dict]:
    def one(a: Any) -> Any:
        if isinstance(a, (list, tuple)) and any(isinstance(v, Tensor) for v in a):
            return type(a)(fn(v) for v in a)
        return fn(a)

    return tuple(one(a) for a in args), {k: one(v) for k, v in kwargs.items()}


# ----------------------------------------------------------------- dispatch
def dispatch(name: str, op: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run the public op `op` (wrapped, so outer levels still intercept) on batched arguments."""
    level = _innermost(args, kwargs)
    args, kwargs = _map_args(args, kwargs, lambda a: _expand(a, level))
    rule = RULES.get(name)
    if rule is not None:
        result = rule(op, level, args, kwargs)
        if result is not NotImplemented:
            return result
    return per_example(name, op, level, args, kwargs)


def per_example(name: str, op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    """The fallback: call `op` on each example and stack the results (a Python loop: warned once)."""
    if name not in _warned:
        _warned.add(name)
        warnings.warn(
            f"vmap: '{name}' has no batch rule, so it runs once per example in a Python loop "
            f"(correct, but slow); this warning is shown once per op",
            UserWarning,
            stacklevel=4,
        )
    results = []
    for b in range(level.size):
        a_b, k_b = _map_args(args, kwargs, lambda a: a._value[b] if _batched_at(a, level) else a)
        results.append(op(*a_b, **k_b))
    return _stacked(results, level, name)


def _stacked(results: list[Any], level: _Level, name: str) -> Any:
    """One batched result from the per-example ones: Tensors stacked, equal constants kept."""
    from .ops import stack

    first = results[0]
    if isinstance(first, Tensor):
        return _wrap(stack(results), level)
    if isinstance(first, (list, tuple)):
        return type(first)(_stacked([r[i] for r in results], level, name) for i in range(len(first)))
    if any(r is not first and r != first for r in results[1:]):
        raise RuntimeError(f"vmap: '{name}' returned a non-Tensor result that differs per example: {first!r} ...")
    return first


def _physical(x: Any, level: _Level, ndim: int) -> Any:
    """`x` with the batch first and its logical axes right-aligned to `ndim` (plain values as they are)."""
    if not _batched_at(x, level):
        return x
    v = x._value
    pad = ndim - (v.ndim - 1)
    return v.reshape((v.shape[0],) + (1,) * pad + v.shape[1:]) if pad > 0 else v


def _logical_ndim(x: Any) -> int:
    if isinstance(x, Tensor):
        return x.ndim
    return np.ndim(x) if isinstance(x, (np.ndarray, np.generic, list)) else 0


# ----------------------------------------------------------------- batch rules
def _elementwise(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    values = [*args, *kwargs.values()]
    n = max((_logical_ndim(a) for a in values if isinstance(a, (Tensor, np.ndarray, list))), default=0)
    a2, k2 = _map_args(args, kwargs, lambda a: _physical(a, level, n))
    return _wrap(op(*a2, **k2), level)


@functools.cache
def _signature(op: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(inspect.unwrap(op))


def _shift(axis: Any, n: int) -> Any:
    if isinstance(axis, (tuple, list)):
        return tuple(operator.index(a) % n + 1 for a in axis)
    return operator.index(axis) % n + 1


def _axis_rule(none_means_all: bool, default: Any = None) -> Callable[..., Any]:
    """Ops on one batched tensor with an `axis` argument: axes move one to the right."""

    def rule(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
        bound = _signature(op).bind(*args, **kwargs)
        params = list(bound.arguments)
        x = bound.arguments[params[0]]
        others = [v for k, v in bound.arguments.items() if k != params[0]]
        if not _batched_at(x, level) or any(isinstance(v, Tensor) for v in others):
            return NotImplemented
        n = x.ndim
        axis = bound.arguments.get("axis", default)
        if axis is None:
            if not none_means_all:
                return NotImplemented
            axis = tuple(range(1, n + 1))
        elif n == 0:
            axis = () if none_means_all else NotImplemented
            if axis is NotImplemented:
                return NotImplemented
        else:
            axis = _shift(axis, n)
        bound.arguments[params[0]] = x._value
        bound.arguments["axis"] = axis
        return _wrap(op(*bound.args, **bound.kwargs), level)

    return rule


def _reshape(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, *shape = args
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = list(shape[0])
    v = x._value
    return _wrap(v.reshape((v.shape[0], *shape)), level)


def _flatten(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    v = args[0]._value
    return _wrap(v.reshape(v.shape[0], -1), level)


def _transpose(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, *axes = args
    n = x.ndim
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = list(axes[0]) if axes[0] is not None else []
    perm = [a % n for a in axes] if axes else list(reversed(range(n)))
    return _wrap(x._value.transpose((0, *(p + 1 for p in perm))), level)


def _swapaxes(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, a1, a2 = args
    n = x.ndim
    return _wrap(x._value.swapaxes(a1 % n + 1, a2 % n + 1), level)


def _expand_dims(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, axis = args[0], args[1] if len(args) > 1 else kwargs["axis"]
    shape = np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape
    return _wrap(x._value.reshape((level.size, *shape)), level)


def _squeeze(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x = args[0]
    axis = args[1] if len(args) > 1 else kwargs.get("axis")
    shape = np.squeeze(np.empty(x.shape, dtype=bool), axis).shape
    return _wrap(x._value.reshape((level.size, *shape)), level)


def _broadcast_to(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, shape = args[0], args[1] if len(args) > 1 else kwargs["shape"]
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return _wrap(op(_physical(x, level, len(shape)), (level.size, *shape)), level)


def _is_advanced(i: Any) -> bool:
    return isinstance(i, (list, np.ndarray, Tensor)) or (isinstance(i, (int, np.integer)) and not isinstance(i, bool))


def _getitem(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    x, index = args
    if not _batched_at(x, level):
        return NotImplemented
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, BatchedTensor) for i in items):
        return NotImplemented
    advanced = [k for k, i in enumerate(items) if _is_advanced(i) and not isinstance(i, (int, np.integer))]
    if advanced:
        spots = [k for k, i in enumerate(items) if _is_advanced(i)]
        if spots != list(range(spots[0], spots[-1] + 1)):  # separated advanced indices move to the front
            return NotImplemented
    return _wrap(op(x._value, (slice(None), *items)), level)


def _joined(stacking: bool) -> Callable[..., Any]:
    def rule(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
        bound = _signature(op).bind(*args, **kwargs)
        seq = list(bound.arguments["seq"])
        n = max(_logical_ndim(t) for t in seq)
        from .ops import broadcast_to

        parts = [
            t._value if _batched_at(t, level) else broadcast_to(as_tensor(t), (level.size, *np.shape(t)))
            for t in seq
        ]
        axis = bound.arguments.get("axis", 0)
        bound.arguments["seq"] = parts
        bound.arguments["axis"] = _shift(axis, n + 1 if stacking else n)
        return _wrap(op(*bound.args, **bound.kwargs), level)

    return rule


def _matmul(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    a, b = args
    na, nb = _logical_ndim(a), _logical_ndim(b)
    if na == 0 or nb == 0:
        return NotImplemented
    squeeze = []
    av, bv = a, b
    if _batched_at(a, level) and na == 1:
        av, na, squeeze = a._value.reshape(level.size, 1, -1), 2, [*squeeze, -2]
    if _batched_at(b, level) and nb == 1:
        bv, nb, squeeze = b._value.reshape(level.size, -1, 1), 2, [*squeeze, -1]
    target = max(na, nb)
    if _batched_at(a, level):
        av = _pad(av if av is not a else a._value, target, level)
    if _batched_at(b, level):
        bv = _pad(bv if bv is not b else b._value, target, level)
    out = op(av, bv)
    for axis in sorted(squeeze):
        out = out.squeeze(axis)
    return _wrap(out, level)


def _pad(v: Tensor, target: int, level: _Level) -> Tensor:
    pad = target - (v.ndim - 1)
    return v.reshape((level.size,) + (1,) * pad + v.shape[1:]) if pad > 0 else v


def _dot(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    a, b = args
    if _logical_ndim(a) == 0 or _logical_ndim(b) == 0:
        from .ops import multiply

        return _elementwise(multiply, level, args, {})
    if _logical_ndim(a) <= 2 and _logical_ndim(b) <= 2:
        from .ops import matmul

        return _matmul(matmul, level, args, kwargs)
    return NotImplemented


def _einsum(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    subscripts, *operands = args
    if not isinstance(subscripts, str) or "..." in subscripts or "->" not in subscripts:
        return NotImplemented
    inputs, output = subscripts.replace(" ", "").split("->")
    letters = inputs.split(",")
    free = next(c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjihgfedcba" if c not in subscripts)
    spec = ",".join(free + s if _batched_at(t, level) else s for s, t in zip(letters, operands))
    values = [t._value if _batched_at(t, level) else t for t in operands]
    return _wrap(op(f"{spec}->{free}{output}", *values, **kwargs), level)


def _where(op: Callable[..., Any], level: _Level, args: tuple, kwargs: dict) -> Any:
    return _elementwise(op, level, args, kwargs)


ELEMENTWISE_OPS = (
    "add subtract multiply divide power maximum minimum negative exp expm1 log log1p sqrt square abs sin cos "
    "tanh sigmoid relu clip astype floor ceil round sign isnan isinf isfinite equal not_equal less less_equal "
    "greater greater_equal logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor "
    "invert tan arcsin arccos arctan arctan2 sinh cosh arcsinh arccosh arctanh deg2rad rad2deg degrees "
    "radians exp2 log2 log10 logaddexp logaddexp2 hypot sinc reciprocal fabs fmax fmin remainder "
    "floor_divide nan_to_num around trunc fix real imag conjugate conj angle"
).split()

RULES: dict[str, Callable[..., Any]] = {name: _elementwise for name in ELEMENTWISE_OPS}
RULES.update(
    {
        "where": _where,
        "sum": _axis_rule(True),
        "mean": _axis_rule(True),
        "var": _axis_rule(True),
        "std": _axis_rule(True),
        "max": _axis_rule(True),
        "min": _axis_rule(True),
        "prod": _axis_rule(True),
        "logsumexp": _axis_rule(True),
        "softmax": _axis_rule(False, -1),
        "log_softmax": _axis_rule(False, -1),
        "cumsum": _axis_rule(False),
        "cumprod": _axis_rule(False),
        "sort": _axis_rule(False, -1),
        "flip": _axis_rule(True),
        "reshape": _reshape,
        "flatten": _flatten,
        "ravel": _flatten,
        "transpose": _transpose,
        "swapaxes": _swapaxes,
        "expand_dims": _expand_dims,
        "squeeze": _squeeze,
        "broadcast_to": _broadcast_to,
        "getitem": _getitem,
        "concatenate": _joined(False),
        "stack": _joined(True),
        "matmul": _matmul,
        "dot": _dot,
        "einsum": _einsum,
    }
)


# ----------------------------------------------------------------- vmap itself
def vmap(
    func: Callable[..., Any],
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable[..., Any]:
    """`torch.func.vmap`: `func` written for one example, applied over axis `in_dims` of its inputs.

    `in_dims` is an int or None (not batched), or a tuple with one per positional argument;
    `out_dims` likewise for the outputs. Random ops (dropout) draw independently per example
    (PyTorch's `randomness="different"`); `randomness` and `chunk_size` are accepted for
    compatibility.
    """

    @functools.wraps(func)
    def batched(*args: Any, **kwargs: Any) -> Any:
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(
                f"vmap: in_dims has {len(dims)} entries but the function was called with {len(args)} arguments"
            )
        sizes = set()
        for a, d in zip(args, dims):
            if d is not None:
                shape = np.shape(a.data if isinstance(a, Tensor) else a)
                if not shape:
                    raise ValueError(f"vmap: in_dim={d} for a 0-d input: it has no axis to map over")
                sizes.add(shape[d])
        if not sizes:
            raise ValueError("vmap: at least one input must be batched (in_dims are all None)")
        if len(sizes) > 1:
            raise ValueError(f"vmap: batched inputs differ in size along in_dims: {sorted(sizes)}")
        state = grad_mode._state
        level = _Level(sizes.pop(), len(state.vmap_levels) + 1)
        from .ops import moveaxis

        wrapped = [
            _wrap(moveaxis(as_tensor(a), d, 0) if d else as_tensor(a), level) if d is not None else a
            for a, d in zip(args, dims)
        ]
        state.vmap_levels = [*state.vmap_levels, level]
        grad_mode.vmap_active[0] += 1
        grad_mode.special[0] += 1
        try:
            out = func(*wrapped, **kwargs)
        finally:
            grad_mode.special[0] -= 1
            grad_mode.vmap_active[0] -= 1
            state.vmap_levels = state.vmap_levels[:-1]
        return _unwrap(out, out_dims, level)

    return batched


def _unwrap(out: Any, out_dims: Any, level: _Level) -> Any:
    if isinstance(out, dict):
        return {k: _unwrap(v, out_dims, level) for k, v in out.items()}
    if isinstance(out, (list, tuple)) and not isinstance(out, Tensor):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(out)
        return type(out)(_unwrap(o, d, level) for o, d in zip(out, dims))
    if isinstance(out_dims, (tuple, list)):
        (out_dims,) = out_dims
    from .ops import broadcast_to, moveaxis

    if _batched_at(out, level):
        value = out._value
    elif isinstance(out, Tensor):
        value = broadcast_to(out, (level.size, *out.shape))  # unbatched outputs repeat, as in PyTorch
    else:
        return out
    if out_dims is None:
        raise ValueError("vmap: out_dims=None for an output that differs per example")
    return moveaxis(value, 0, out_dims) if out_dims else value


def grad_targets(outs: list[Any], ins: list[Any], grad_outputs: list[Any]) -> tuple[list, list, list, list]:
    """`ag.grad` inside vmap: differentiate the physical graph; per-example gradients come back batched."""
    levels = _levels()
    level = levels[-1]
    phys_outs = [o._value if isinstance(o, BatchedTensor) else o for o in outs]
    seeds = []
    for o, go in zip(outs, grad_outputs):
        if go is None and isinstance(o, BatchedTensor) and o.size == 1:
            go = _new(np.ones(o._value.shape, dtype=o.dtype))
        seeds.append(go._value if isinstance(go, BatchedTensor) else go)
    phys_ins, batched = [], []
    for t in ins:
        if isinstance(t, BatchedTensor):
            phys_ins.append(t._value)
            batched.append(t._level)
        elif id(t) in level.expansions and level.expansions[id(t)][0] is t:
            phys_ins.append(level.expansions[id(t)][1]._value)
            batched.append(level)
        else:
            phys_ins.append(t)
            batched.append(None)
    return phys_outs, phys_ins, seeds, batched


def rewrap(results: tuple[Any, ...], batched: list[Any]) -> tuple[Any, ...]:
    return tuple(r if lv is None or r is None else _wrap(r, lv) for r, lv in zip(results, batched))

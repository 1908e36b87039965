"""`Tensor`: a NumPy array that remembers which operation made it.

Every operation returns a new Tensor. When grad mode is on and some input requires
grad, the result keeps its inputs (`_parents`) and one vector-Jacobian function per
input (`_vjps`). `engine.backward` walks these records in reverse. Nothing else is
stored, so reading this class and `engine.py` is all it takes to know how
gradients flow.

A vjp is called as `vjp(g, out, *inputs)` and returns the gradient for its input.
On the usual first-order path the engine passes plain `ndarray`s: the input arrays
saved when the op was recorded, and the output's array. Under `create_graph=True` it
passes Tensors. The rules are written with NumPy operators
and functions, which dispatch to Tensor ops, so the same line serves both paths.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import dtypes, grad_mode
from .aliasing import RemovableHandle, _alias_of, _conversion_error, _storing_into_array

Vjp = Callable[..., Any]
ELEMENTWISE = "elementwise"  # `make_result(..., jvp=ELEMENTWISE)`: a diagonal Jacobian (see forward_ad)

_SCALARS = (bool, int, float, complex)


def _to_array(data: Any, default_float: bool = True) -> np.ndarray:
    """Apply the dtype rules: arrays keep their dtype and Python floats take the default
    (unless `default_float` is False: an explicit dtype follows, so they stay exact float64)."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Tensor: cannot convert {type(data).__name__} to an array: {exc}") from None
    if arr.dtype == np.float64 and default_float:  # built from Python floats, not from a float64 array
        return arr.astype(dtypes.get_default_dtype())
    _check_numeric(arr.dtype, type(data).__name__)
    return arr


def _check_numeric(dtype: np.dtype, source: str) -> None:
    if dtype.kind not in "biufc":
        raise TypeError(
            f"Tensor: data must be numeric (bool, int, float or complex), got dtype {dtype} from {source}"
        )


def _check_can_require_grad(dtype: np.dtype, where: str) -> None:
    if not dtypes.is_differentiable_dtype(dtype):
        raise TypeError(
            f"{where}: only floating-point tensors can require grad, got dtype {dtype}; "
            f"convert first, e.g. Tensor(x.astype(np.float32), requires_grad=True)"
        )


def _in_place(op: str, ufunc: np.ufunc) -> Callable[[Tensor, Any], Tensor]:
    """`x op= other` for the elementwise op `ops.<op>` (see `autograd_core.inplace`)."""

    def method(self: Tensor, other: Any) -> Tensor:
        return inplace.binary(self, other, getattr(ops, op), ufunc, op + "_")

    method.__name__ = method.__qualname__ = f"__i{op}__"
    return method


class Tensor:
    """An `np.ndarray` with a gradient. `Tensor(data, requires_grad=False, dtype=None)`."""

    __slots__ = (
        "data",
        "grad",
        "name",
        "_requires_grad",
        "_parents",
        "_vjps",
        "_op",
        "_retains_grad",
        "_version",
        "_saved_data",
        "_created_at",
        "_modified_at",
        "_scope",
        "_site",
        "_base",
        "_view_fn",
        "_tangents",
        "_hooks",
        "__weakref__",
    )

    data: np.ndarray
    grad: np.ndarray | None
    name: str | None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = data.data if isinstance(data, Tensor) else _to_array(data, dtype is None)
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError as exc:
                raise TypeError(f"Tensor: dtype {dtype!r} is not a NumPy dtype: {exc}") from None
            try:
                arr = arr.astype(dtype, copy=False)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"Tensor: cannot convert data of dtype {arr.dtype} to dtype {dtype}: {exc}") from None
        if arr.dtype.kind not in "biufc":  # also ndarrays and the dtype argument
            _check_numeric(arr.dtype, type(data).__name__ if dtype is None else f"dtype={dtype}")
        if requires_grad:
            _check_can_require_grad(arr.dtype, "Tensor")
        self.data = arr
        self.grad = None
        self.name = None
        self._requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._vjps: tuple[Vjp | None, ...] | None = None
        self._op: str | None = None
        self._retains_grad = False
        self._version = 0
        self._saved_data: tuple[np.ndarray, ...] | None = None
        self._created_at = 0  # the mutation clock when an op made this tensor
        self._modified_at = 0  # the mutation clock at this tensor's last in-place write
        self._scope: grad_mode.ScopeFrame | None = None
        self._site: str | None = None
        # `_base`: what this tensor's array aliases. A view (`_view_fn` set) shows part of a
        # base tensor's array; an alias (Tensor(t), t.detach()) shares one array and its
        # version count. Writes tick the whole chain, so every reader sees them.
        self._base: Any = _alias_of(data) if isinstance(data, Tensor) and arr is data.data else None
        self._view_fn: Callable[[Any], Any] | None = None
        self._tangents: dict[int, Tensor] | None = None  # forward mode: tangent per open level
        self._hooks: dict[int, Callable[[Tensor], Any]] | None = None  # register_hook, by handle id

    # ----------------------------------------------------------------- graph state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value:
            _check_can_require_grad(self.data.dtype, "requires_grad")
        elif self._op is not None:
            raise RuntimeError(
                f"requires_grad: cannot turn off gradients of a non-leaf tensor (made by "
                f"'{self._op}'); use .detach() to get a leaf that does not require grad"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True unless this tensor was produced by a recorded operation."""
        return self._op is None

    @property
    def op(self) -> str | None:
        """Name of the operation that produced this tensor (None for leaves)."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The inputs of the recorded operation (empty for leaves and freed graphs)."""
        return self._parents

    def register_hook(self, hook: Callable[[Tensor], Any]) -> RemovableHandle:
        """Run `hook(grad)` when this tensor's gradient is computed (by `backward` or `ag.grad`).

        The hook may return a replacement gradient (same shape) or None. Returns a handle
        whose `.remove()` unregisters it. Under `create_graph` the hook sees, and may
        return, a differentiable Tensor.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def retain_grad(self) -> Tensor:
        """Ask backward to store `.grad` on this non-leaf tensor as well."""
        self._retains_grad = True
        return self

    @property
    def version(self) -> int:
        """How many in-place writes changed this tensor's values, through it or any alias or view."""
        version, base = self._version, self._base
        while base is not None:
            version, base = max(version, base._version), base._base
        return version

    def mark_modified(self) -> Tensor:
        """Declare that `self.data` was changed in place (`t.data[...] = v`, `t.data -= step`).

        A backward that saved the old values then fails loudly instead of returning a
        wrong gradient. Assigning a new array (`t.data = new`) needs no call: saved
        values stay intact.
        """
        _bump(self)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        """`t[index] = value`, in place, as NumPy (see `autograd_core.inplace`)."""
        inplace.setitem(self, index, value)

    # In-place operators change this tensor itself (every alias sees it), as NumPy does.
    __iadd__ = _in_place("add", np.add)
    __isub__ = _in_place("subtract", np.subtract)
    __imul__ = _in_place("multiply", np.multiply)
    __itruediv__ = _in_place("divide", np.divide)
    __ipow__ = _in_place("power", np.power)
    __imatmul__ = _in_place("matmul", np.matmul)
    __imod__ = _in_place("remainder", np.remainder)
    __ifloordiv__ = _in_place("floor_divide", np.floor_divide)
    __iand__ = _in_place("bitwise_and", np.bitwise_and)
    __ior__ = _in_place("bitwise_or", np.bitwise_or)
    __ixor__ = _in_place("bitwise_xor", np.bitwise_xor)

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Reverse-mode pass from this tensor, accumulating into leaves' `.grad`."""
        from .engine import backward

        backward(self, grad, retain_graph=retain_graph)

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(len(self.data)))

    def item(self) -> Any:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this data (and its version count), outside the graph."""
        t = _new(self.data)
        t._base = _alias_of(self)
        return t

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        # Implicit conversion would leave the gradient behind without a word: refuse it.
        if self._requires_grad:
            raise TypeError(_conversion_error(self, "converted to a NumPy array (np.asarray, np.array, ...)"))
        if dtype is None and not copy:
            return self.data
        return np.array(self.data, dtype=dtype, copy=True if copy else None)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        if self._requires_grad and _storing_into_array():
            raise TypeError(_conversion_error(self, "stored into a NumPy array"))
        return float(self.data)

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(f"format: only one-element Tensors take a format spec, got shape {self.shape}")
        return format(self.data.item(), spec)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.ndim != 0:
            raise TypeError(f"only 0-d integer Tensors can be used as an index, got {self.dtype} {self.shape}")
        return int(self.data)

    __hash__ = object.__hash__  # comparisons return Tensors, so hash by identity

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.data.dtype not in (np.dtype(np.float32), np.dtype(np.int64), np.dtype(bool)):
            extra += f", dtype={self.data.dtype}"
        if self._op is not None:
            extra += f", op={self._op}"
        elif self._requires_grad:
            extra += ", requires_grad=True"
        if self.name:
            extra += f", name={self.name!r}"
        return f"Tensor({body}{extra})"

    # ----------------------------------------------------------------- NumPy protocol
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return dispatch.array_function(func, args, kwargs)

    # ----------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.subtract(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.multiply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.multiply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.divide(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.power(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.negative(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.equal(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.not_equal(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.less(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.less_equal(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.greater(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.greater_equal(self, other)

    def __mod__(self, other: Any) -> Tensor:
        return ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return ops.remainder(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return ops.floor_divide(other, self)

    # Bitwise, as NumPy: integers bit by bit, booleans logically, floats refused.
    def __and__(self, other: Any) -> Tensor:
        return ops.bitwise_and(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return ops.bitwise_and(other, self)

    def __or__(self, other: Any) -> Tensor:
        return ops.bitwise_or(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return ops.bitwise_or(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return ops.bitwise_xor(other, self)

    def __invert__(self) -> Tensor:
        return ops.invert(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index)


# In-place writes tick one process-wide clock. An op records the clock when it is made,
# so backward need only look closer at ops made before the latest write anywhere.
_clock = [0]
_clock_lock = threading.Lock()


def _bump(t: Tensor) -> None:
    """Record an in-place write to `t`'s array: it reaches every base and alias too."""
    with _clock_lock:
        _clock[0] += 1
        node: Any = t
        while node is not None:
            node._modified_at = _clock[0]
            node._version += 1
            node = node._base


def make_view(
    data: Any, op: str, x: Tensor, vjps: tuple[Vjp | None, ...], view_fn: Callable[[Any], Any], jvp: Any = None
) -> Tensor:
    """`make_result` for ops that return a view of `x`'s array (`x[1:]`, `x.T`, `x.reshape(...)`).

    `view_fn` redoes the op on a Tensor or array, so a write through the view can be
    recorded on the base (see `inplace`).
    """
    out = make_result(data, op, (x,), vjps, jvp)
    if type(data) is np.ndarray and (np.may_share_memory(data, x.data) or (data.size == 0 and data.base is not None)):
        if x._view_fn is not None:
            inner = x._view_fn
            out._base, out._view_fn = x._base, lambda t: view_fn(inner(t))
        else:
            out._base, out._view_fn = x, view_fn
    return out


def _new(data: Any) -> Tensor:
    """A leaf around `data` without the constructor's conversions (the ops' fast path)."""
    t = object.__new__(Tensor)
    t.data = data if type(data) is np.ndarray else np.asarray(data)
    t.grad = None
    t.name = None
    t._requires_grad = False
    t._parents = ()
    t._vjps = None
    t._op = None
    t._retains_grad = False
    t._version = 0
    t._saved_data = None
    t._created_at = 0
    t._modified_at = 0
    t._scope = None
    t._site = None
    t._base = None
    t._view_fn = None
    t._tangents = None
    t._hooks = None
    return t


def make_result(
    data: Any, op: str, parents: tuple[Tensor, ...], vjps: tuple[Vjp | None, ...], jvp: Any = None
) -> Tensor:
    """Wrap `data` as the output of `op`, recording the graph only when a gradient can flow.

    `vjps[i]` is `vjp(g, out, *parents) -> gradient for parents[i]`, or None where
    the operation is not differentiable in that input. The engine reduces
    broadcast gradients back to each parent's shape and dtype, so vjps need not.
    `jvp` is the forward-mode rule, used only while a dual level is open (see
    `forward_ad`): `jvp(tangents, out, *parents)`, or `forward_ad.ELEMENTWISE` for ops
    whose Jacobian is diagonal; without one, forward mode transposes the vjps.
    """
    out = _new(data)
    state = grad_mode._state
    if state.enabled:
        record = False
        for p in parents:
            if p._view_fn is not None and p._created_at < p._base._modified_at:
                _refresh(p)  # a view whose base has had a write since: re-derive it first
            if p._requires_grad:
                record = True
        if record:
            out._requires_grad = True
            out._parents = parents
            out._vjps = vjps
            out._op = op
            # The input arrays as they are now: assigning `p.data = new` later
            # cannot change this gradient (in-place writes are caught by versions).
            out._saved_data = tuple([q.data for q in parents])
            out._created_at = _clock[0]
            out._scope = state.scope
    if _special[0]:
        _special_modes(out, op, parents, vjps, jvp, state)
    if state.anomaly:
        anomaly.check_forward(out, op, parents)
    return out


def _refresh(view: Tensor) -> None:
    base = view._base
    if base._requires_grad and (view._op is not None or base._op is not None):
        inplace.refresh_view(view)


def _special_modes(out: Tensor, op: str, parents: tuple[Tensor, ...], vjps: Any, jvp: Any, state: Any) -> None:
    """vmap's guard and forward mode's tangents: only while one of them is open somewhere."""
    if grad_mode.vmap_active[0]:
        for p in parents:
            if type(p) is not Tensor and type(p).__name__ == "BatchedTensor":
                raise RuntimeError(
                    f"vmap: '{op}' received a batched tensor outside its batch rule (an internal call that "
                    f"bypassed the op interceptor); please report it"
                )
    if state.levels:
        forward_ad.propagate(out, parents, vjps, jvp, state.levels)


_special = grad_mode.special


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Turn an operand into a Tensor; Python scalars follow NumPy's weak-scalar promotion."""
    if isinstance(x, Tensor):
        return x
    if like is not None and type(x) in _SCALARS:
        dtype = like.data.dtype
        if dtype.kind != "f" or type(x) is complex:  # next to a float array, a real scalar takes its dtype
            dtype = np.result_type(like.data, x)
        return _new(np.asarray(x, dtype=dtype))
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biufc":  # object, str, datetime: no arithmetic to differentiate
            raise TypeError(f"expected numeric data (bool, int, float or complex), got an array of dtype {x.dtype}")
        return _new(x)
    return Tensor(x)


from . import anomaly, ops  # noqa: E402, I001  (the op modules import Tensor from here)
from . import dispatch, forward_ad, inplace, methods  # noqa: E402

methods.install()

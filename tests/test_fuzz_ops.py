"""Hostile-input fuzzing of every public op, the Tensor operators and `Tensor(...)` (issue 7, item 4).

The contract checked for every call: the result is either NumPy's own result (same
values, same shape, same dtype) or a `TypeError`/`ValueError` (`IndexError` for
indexing) whose message starts with the op's name. Never another exception type, a
hang, or a silent wrong shape.

Warning rule (one rule for every op): an op may emit a RuntimeWarning only where
NumPy's own function emits that same warning for the same arrays (`np.log(0)`,
`np.sqrt(-1)`, overflow in `np.exp`): NaN/inf results are NumPy semantics, and the
warning is NumPy's (silence it with `np.errstate`, catch it with `ag.detect_anomaly`).
Composite ops with no NumPy twin (sigmoid, relu, softmax, log_softmax, logsumexp) never
warn: NaN/inf inputs give NaN/inf outputs silently. Non-numeric data (object, str)
is refused with a TypeError by every op.

Example counts come from the Hypothesis profile (tests/conftest.py: "ci" by default,
AUTOGRAD_HYPOTHESIS_PROFILE=long for a deeper search).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_core as ag
from autograd_core import Tensor

DTYPES = [np.bool_, np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, np.complex128]
ALLOWED = (TypeError, ValueError)


def arrays(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[np.ndarray]:
    """Arrays of every numeric dtype, including 0-d, size-0 axes, NaN, inf and extremes."""
    return st.sampled_from(DTYPES).flatmap(
        lambda dt: hnp.arrays(
            dt,
            hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side),
            elements=hnp.from_dtype(np.dtype(dt), allow_nan=True, allow_infinity=True)
            if np.dtype(dt).kind in "fc"
            else None,
        )
    )


def float_arrays(max_dims: int = 3) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=4),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=16),
    )


AXES = st.one_of(
    st.none(),
    st.integers(-4, 4),
    st.tuples(st.integers(-4, 4), st.integers(-4, 4)),
    st.just(()),
    st.sampled_from(["x", 1.5, [0], None]),
)
JUNK = st.sampled_from([None, "abc", object(), {"a": 1}, np.array(["a", "b"]), np.array([1, "a"], dtype=object)])


def run(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, set[str]]:
    """(result, exception, warning messages) of `fn()`, with every warning recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out, exc = fn(), None
        except Exception as e:  # noqa: BLE001 (the point is to see any exception)
            out, exc = None, e
    return out, exc, {str(w.message) for w in caught}


def check_refusal(name: str, exc: BaseException, allowed: tuple[type[BaseException], ...] = ALLOWED) -> None:
    assert isinstance(exc, allowed), f"{name} raised {type(exc).__name__}: {exc}"
    assert type(exc).__module__ == "builtins", f"{name} leaked {type(exc).__qualname__}: {exc}"
    assert str(exc).startswith(f"{name}:"), f"{name}: message does not name the op: {exc}"


def check_like_numpy(name: str, ours: Callable[[], Any], ref: Callable[[], Any]) -> None:
    """Our op matches NumPy's result, or refuses cleanly where NumPy refuses."""
    expected, ref_exc, ref_warn = run(ref)
    got, exc, our_warn = run(ours)
    if exc is not None:
        check_refusal(name, exc)
        # Deliberately stricter: a Python int that does not fit an integer Tensor's dtype.
        assert ref_exc is not None or "out of bounds for" in str(exc), f"{name} refused an input NumPy accepts: {exc}"
        return
    assert ref_exc is None, f"{name} accepted an input NumPy refuses ({ref_exc}); got {got!r}"
    assert our_warn <= ref_warn, f"{name} warned {our_warn - ref_warn} where NumPy did not"
    results = got if isinstance(got, list) else [got]
    expects = expected if isinstance(expected, list) else [expected]
    assert len(results) == len(expects)
    for r, e in zip(results, expects):
        assert isinstance(r, Tensor), f"{name} returned {type(r).__name__}"
        e = np.asarray(e)
        assert r.shape == e.shape, f"{name}: shape {r.shape}, NumPy gives {e.shape}"
        assert r.dtype == e.dtype, f"{name}: dtype {r.dtype}, NumPy gives {e.dtype}"
        np.testing.assert_array_equal(r.data, e, err_msg=name)


UNARY = {
    "abs": np.abs, "ceil": np.ceil, "cos": np.cos, "exp": np.exp, "expm1": np.expm1, "floor": np.floor,
    "isfinite": np.isfinite, "isinf": np.isinf, "isnan": np.isnan, "log": np.log, "log1p": np.log1p,
    "round": np.round, "sign": np.sign, "sin": np.sin, "sqrt": np.sqrt, "square": np.square,
    "tanh": np.tanh, "negative": np.negative, "logical_not": np.logical_not, "flatten": np.ravel,
    "ravel": np.ravel, "invert": np.invert,
}
BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide, "power": np.power,
    "maximum": np.maximum, "minimum": np.minimum, "equal": np.equal, "not_equal": np.not_equal,
    "less": np.less, "less_equal": np.less_equal, "greater": np.greater, "greater_equal": np.greater_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
    "matmul": np.matmul, "dot": np.dot, "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}
REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
    "var": np.var, "std": np.std,
}
COMPOSITE = ["sigmoid", "relu", "softmax", "log_softmax", "logsumexp"]


def test_every_public_op_is_fuzzed() -> None:
    covered = set(UNARY) | set(BINARY) | set(REDUCTIONS) | set(COMPOSITE) | {
        "argmax", "argmin", "astype", "clip", "getitem", "where", "concatenate", "stack", "split", "pad",
        "einsum", "reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "broadcast_to",
        "sliding_windows", "fold", "scatter_add", "index_put",
    }
    # The NumPy-coverage families (ag.ops._EXTENSIONS) are checked against NumPy in their own test files.
    extensions = {name for module in ag.ops._EXTENSIONS for name in module.__all__}
    assert set(ag.ops.__all__) - extensions <= covered, f"ops without a fuzz test: {set(ag.ops.__all__) - covered}"


@given(name=st.sampled_from(sorted(UNARY)), a=arrays())
def test_unary_ops_match_numpy(name: str, a: np.ndarray) -> None:
    check_like_numpy(name, lambda: getattr(ag, name)(a), lambda: UNARY[name](a))


@given(name=st.sampled_from(sorted(BINARY)), a=arrays(), b=arrays(), swap=st.booleans())
def test_binary_ops_match_numpy(name: str, a: np.ndarray, b: np.ndarray, swap: bool) -> None:
    if swap:  # one operand a Python scalar, the other a Tensor: NumPy's weak-scalar promotion
        b = b.flat[0].item() if b.size else 2
        if name in ("matmul", "dot") or isinstance(b, complex):
            b = np.asarray(b)
    check_like_numpy(name, lambda: getattr(ag, name)(Tensor(a), b), lambda: BINARY[name](a, b))


@given(name=st.sampled_from(sorted(REDUCTIONS)), a=arrays(), axis=AXES, keepdims=st.booleans())
def test_reductions_match_numpy(name: str, a: np.ndarray, axis: Any, keepdims: bool) -> None:
    ref = REDUCTIONS[name]
    # Deliberate difference: a 0-d array accepts axis 0 / -1 (as in PyTorch), reducing over nothing.
    # Also deliberate: a list of axes is read as a tuple.
    ref_axis = tuple(axis) if isinstance(axis, list) else axis
    ref_axis = None if a.ndim == 0 and ref_axis in (0, -1, (0,), (-1,)) else ref_axis
    check_like_numpy(
        name, lambda: getattr(ag, name)(a, axis, keepdims=keepdims), lambda: ref(a, axis=ref_axis, keepdims=keepdims)
    )


@given(a=arrays(), ddof=st.integers(0, 4), name=st.sampled_from(["var", "std"]))
def test_var_std_ddof_match_numpy(a: np.ndarray, ddof: int, name: str) -> None:
    check_like_numpy(name, lambda: getattr(ag, name)(a, ddof=ddof), lambda: getattr(np, name)(a, ddof=ddof))


@given(name=st.sampled_from(["argmax", "argmin"]), a=arrays(), axis=st.one_of(st.none(), st.integers(-3, 3)))
def test_arg_reductions_match_numpy(name: str, a: np.ndarray, axis: Any) -> None:
    check_like_numpy(name, lambda: getattr(ag, name)(a, axis), lambda: getattr(np, name)(a, axis=axis))


def _reference(name: str, a: np.ndarray, axis: Any) -> np.ndarray:
    """Float64 formulas for the ops with no NumPy twin."""
    x = a.astype(np.float64)
    with np.errstate(all="ignore"):
        if name == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if name == "relu":
            return np.maximum(x, 0)
        m = np.max(x, axis=axis, keepdims=True) if x.size else np.zeros(())
        m = np.where(np.isfinite(m), m, 0)
        lse = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        if name == "softmax":
            return np.exp(x - lse)
        if name == "log_softmax":
            return x - lse
        return np.squeeze(lse, axis=axis)


@given(name=st.sampled_from(COMPOSITE), a=float_arrays(), axis=st.integers(-3, 3))
def test_composite_ops_are_silent_and_right(name: str, a: np.ndarray, axis: int) -> None:
    op = getattr(ag, name)
    got, exc, warned = run(lambda: op(a) if name in ("sigmoid", "relu") else op(a, axis))
    if exc is not None:  # only a bad axis may be refused
        check_refusal(name, exc)
        assert not -a.ndim <= axis < a.ndim, f"{name} refused a valid axis: {exc}"
        return
    assert not warned, f"{name} leaked warnings {warned}"
    expected = _reference(name, a, None if name in ("sigmoid", "relu") else axis)
    assert got.shape == expected.shape and got.dtype == a.dtype
    if np.isfinite(a).all():  # non-finite slices only need to stay silent (their NaN pattern is dtype-dependent)
        np.testing.assert_allclose(got.data.astype(np.float64), expected, rtol=2e-2, atol=1e-3)


SHAPE_ARGS = st.one_of(
    st.tuples(st.integers(-1, 5)),
    st.tuples(st.integers(-1, 4), st.integers(-1, 4)),
    st.sampled_from([("x",), (1.5,), ((2, "a"),), ((),)]),
)


@given(a=arrays(), shape=SHAPE_ARGS)
def test_reshape_matches_numpy(a: np.ndarray, shape: tuple[Any, ...]) -> None:
    ref_shape = shape[0] if len(shape) == 1 else shape
    check_like_numpy("reshape", lambda: ag.reshape(a, *shape), lambda: np.reshape(a, ref_shape))


@given(a=arrays(), axes=st.one_of(st.just(None), st.lists(st.integers(-4, 4), max_size=4).map(tuple)))
def test_transpose_matches_numpy(a: np.ndarray, axes: Any) -> None:
    check_like_numpy("transpose", lambda: ag.transpose(a, axes), lambda: np.transpose(a, axes))


@given(a=arrays(), a1=st.one_of(st.integers(-4, 4), st.just("x")), a2=st.integers(-4, 4))
def test_swapaxes_matches_numpy(a: np.ndarray, a1: Any, a2: int) -> None:
    check_like_numpy("swapaxes", lambda: ag.swapaxes(a, a1, a2), lambda: np.swapaxes(a, a1, a2))


@given(a=arrays(), axis=AXES)
def test_squeeze_and_expand_dims_match_numpy(a: np.ndarray, axis: Any) -> None:
    ref_axis = tuple(axis) if isinstance(axis, list) else axis  # a list of axes is read as a tuple
    squeeze_axis = None if a.ndim == 0 and ref_axis in (0, -1, (0,), (-1,)) else ref_axis  # as for reductions
    check_like_numpy("squeeze", lambda: ag.squeeze(a, axis), lambda: np.squeeze(a, squeeze_axis))
    check_like_numpy("expand_dims", lambda: ag.expand_dims(a, axis), lambda: np.expand_dims(a, ref_axis))


@given(a=arrays(), shape=st.one_of(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), JUNK))
def test_broadcast_to_matches_numpy(a: np.ndarray, shape: Any) -> None:
    check_like_numpy("broadcast_to", lambda: ag.broadcast_to(a, shape), lambda: np.broadcast_to(a, shape))


@given(a=arrays(), b=arrays(), axis=st.one_of(st.integers(-3, 3), st.just("x")))
def test_concatenate_and_stack_match_numpy(a: np.ndarray, b: np.ndarray, axis: Any) -> None:
    check_like_numpy("concatenate", lambda: ag.concatenate([a, b], axis), lambda: np.concatenate([a, b], axis))
    check_like_numpy("stack", lambda: ag.stack([a, b], axis), lambda: np.stack([a, b], axis))


@given(a=arrays(), parts=st.one_of(st.integers(-1, 4), st.lists(st.integers(0, 5), max_size=3)),
       axis=st.integers(-3, 3))
def test_split_matches_numpy(a: np.ndarray, parts: Any, axis: int) -> None:
    check_like_numpy("split", lambda: ag.split(a, parts, axis), lambda: np.split(a, parts, axis))


@given(c=arrays(max_dims=2), a=arrays(max_dims=2), b=arrays(max_dims=2))
def test_where_matches_numpy(c: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    # Our condition is always read as booleans, so compare with NumPy's on the same mask.
    check_like_numpy("where", lambda: ag.where(c, Tensor(a), b), lambda: np.where(c.astype(bool), a, b))


@given(a=float_arrays(), lo=st.one_of(st.none(), st.floats(-2, 2)), hi=st.one_of(st.none(), st.floats(-2, 2)))
def test_clip_matches_numpy(a: np.ndarray, lo: Any, hi: Any) -> None:
    assume(lo is None or hi is None or lo <= hi)
    if lo is None and hi is None:
        with pytest.raises(ValueError, match="clip"):
            ag.clip(a, lo, hi)
        return
    check_like_numpy("clip", lambda: ag.clip(a, lo, hi), lambda: np.clip(a, lo, hi))


@given(
    a=arrays(max_dims=2),
    width=st.one_of(st.integers(-1, 3), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("x")),
    mode=st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]),
)
def test_pad_matches_numpy(a: np.ndarray, width: Any, mode: str) -> None:
    check_like_numpy("pad", lambda: ag.pad(a, width, mode=mode), lambda: np.pad(a, width, mode=mode))


def test_pad_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="pad: mode 'bogus'"):
        ag.pad(np.ones(3), 1, mode="bogus")


@given(
    spec=st.sampled_from(["ij,jk->ik", "ii", "ii->i", "ij->", "...j,j->...", "i,i", "ij,jk", "ab->ba", "i->ii"]),
    a=arrays(min_dims=1, max_dims=2),
    b=arrays(min_dims=1, max_dims=2),
)
def test_einsum_matches_numpy(spec: Any, a: np.ndarray, b: np.ndarray) -> None:
    # NumPy's own handling of a repeated label over unequal sizes 0/1/n is inconsistent; not compared.
    assume(not (spec.startswith("ii") and a.ndim == 2 and a.shape[0] != a.shape[1]))
    operands = (a, b) if "," in spec else (a,)
    check_like_numpy("einsum", lambda: ag.einsum(spec, *operands), lambda: np.einsum(spec, *operands))


def test_einsum_refuses_non_string_subscripts() -> None:
    _, exc, _ = run(lambda: ag.einsum(5, np.ones(2)))  # NumPy's sublist form is not supported
    check_refusal("einsum", exc)


INDICES = st.one_of(
    st.integers(-5, 5),
    st.slices(5),
    st.tuples(st.integers(-3, 3), st.slices(4)),
    st.sampled_from([None, Ellipsis, (Ellipsis, None), "x", 1.5, (0, 0, 0, 0), [0, 0, 1], [True, False]]),
    hnp.arrays(np.int64, st.integers(0, 3), elements=st.integers(-4, 4)),
)


@given(a=arrays(), index=INDICES)
def test_getitem_matches_numpy(a: np.ndarray, index: Any) -> None:
    expected, ref_exc, _ = run(lambda: a[index])
    got, exc, warned = run(lambda: Tensor(a)[index])
    if exc is not None:
        check_refusal("getitem", exc, (TypeError, ValueError, IndexError))
        assert ref_exc is not None, f"getitem refused {index!r}, NumPy accepts it"
        return
    assert ref_exc is None and not warned
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.data, expected)


@given(a=float_arrays(), dtype=st.sampled_from([*DTYPES, "float32", "nope", object, str, None]))
def test_astype(a: np.ndarray, dtype: Any) -> None:
    # Casting to a non-numeric dtype is refused, so the reference must refuse too.
    ref = (lambda: a.astype(np.dtype(dtype))) if dtype not in (object, str) else (lambda: np.dtype("nope"))
    check_like_numpy("astype", lambda: ag.astype(a, dtype), ref)


@given(
    a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5)),
    kernel=st.one_of(st.integers(-1, 4), st.tuples(st.integers(0, 3), st.integers(1, 3)), st.just("x")),
    stride=st.one_of(st.integers(0, 2), st.just(1.5)),
)
def test_sliding_windows_and_fold_refuse_or_round_trip(a: np.ndarray, kernel: Any, stride: Any) -> None:
    got, exc, _ = run(lambda: ag.sliding_windows(a, kernel, stride))
    if exc is not None:
        check_refusal("sliding_windows", exc)
        return
    n = len(kernel) if isinstance(kernel, tuple) else 1
    assert got.shape[: a.ndim - n] == a.shape[: a.ndim - n]
    back = ag.fold(got.data, a.shape, kernel, stride)
    assert back.shape == a.shape
    _, exc, _ = run(lambda: ag.fold(got.data[..., :0], a.shape, kernel, stride))
    check_refusal("fold", exc)


def test_scatter_add_accumulates_and_refuses_bad_shapes() -> None:
    out = ag.scatter_add(np.ones(3), (4,), np.array([0, 0, 2]))
    np.testing.assert_array_equal(out, [2, 0, 1, 0])
    _, exc, _ = run(lambda: ag.scatter_add(np.ones(3), (4,), np.array([0, 9, 2])))
    check_refusal("scatter_add", exc, (TypeError, ValueError, IndexError))


# ----------------------------------------------------------------- junk arguments everywhere
@given(name=st.sampled_from(sorted(set(UNARY) | set(REDUCTIONS) | set(COMPOSITE) | {"argmax", "argmin"})), junk=JUNK)
def test_unary_ops_refuse_junk(name: str, junk: Any) -> None:
    _, exc, _ = run(lambda: getattr(ag, name)(junk))
    assert exc is not None, f"{name} accepted {junk!r}"
    check_refusal(name, exc)


@given(name=st.sampled_from(sorted(BINARY)), junk=JUNK, left=st.booleans())
def test_binary_ops_refuse_junk(name: str, junk: Any, left: bool) -> None:
    t = Tensor(np.ones((2, 2), dtype=np.float32))
    _, exc, _ = run(lambda: getattr(ag, name)(junk, t) if left else getattr(ag, name)(t, junk))
    assert exc is not None, f"{name} accepted {junk!r}"
    check_refusal(name, exc)


OPERATORS = {
    "add": lambda t, o: t + o, "subtract": lambda t, o: t - o, "multiply": lambda t, o: t * o,
    "divide": lambda t, o: t / o, "power": lambda t, o: t**o, "matmul": lambda t, o: t @ o,
    "less": lambda t, o: t < o, "greater_equal": lambda t, o: t >= o,
    "bitwise_and": lambda t, o: t & o, "bitwise_or": lambda t, o: t | o, "bitwise_xor": lambda t, o: t ^ o,
}


@given(name=st.sampled_from(sorted(OPERATORS)), junk=JUNK)
def test_tensor_operators_refuse_junk(name: str, junk: Any) -> None:
    t = Tensor(np.ones((2, 2), dtype=np.float32))
    _, exc, _ = run(lambda: OPERATORS[name](t, junk))
    assert exc is not None, f"operator {name} accepted {junk!r}"
    check_refusal(name, exc)


@given(a=arrays(), junk=st.sampled_from(["x", None, 1.5, (1, "a")]))
def test_tensor_methods_refuse_bad_axis(a: np.ndarray, junk: Any) -> None:
    t = Tensor(a)
    for method in ("sum", "mean", "max", "min", "prod", "var", "std", "softmax", "log_softmax", "logsumexp"):
        if junk is None:  # None means "all axes" for reductions; skip it here
            continue
        _, exc, _ = run(lambda: getattr(t, method)(junk))
        if exc is None:
            continue  # e.g. an int-valued float is still refused below; a valid call is fine
        check_refusal(method, exc)


# ----------------------------------------------------------------- Tensor(...) construction
DATA = st.one_of(
    arrays(),
    st.lists(st.floats(allow_nan=True), max_size=3),
    st.lists(st.integers(-5, 5), max_size=3),
    st.sampled_from([[1, [2, 3]], [[1, 2], [3]], "abc", None, {"a": 1}, b"xy", object(), [None], 3, 2.5, True, 1j]),
    st.just(np.array([1, "a"], dtype=object)),
    st.just(np.array(["a", "b"])),
)


@given(data=DATA, dtype=st.sampled_from([None, np.float32, np.int64, "nope", object, str, np.complex128]),
       requires_grad=st.booleans())
def test_tensor_construction(data: Any, dtype: Any, requires_grad: bool) -> None:
    with np.errstate(invalid="ignore", over="ignore"):  # NumPy's own cast warnings (inf -> int)
        got, exc, _ = run(lambda: Tensor(data, requires_grad=requires_grad, dtype=dtype))
    if exc is not None:
        check_refusal("Tensor", exc)
        return
    assert got.dtype.kind in "biufc", f"Tensor accepted non-numeric data: dtype {got.dtype}"
    if requires_grad:
        assert got.dtype.kind == "f", f"requires_grad=True accepted dtype {got.dtype}"
    assert got.shape == np.shape(data)


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int64, np.uint8, np.complex128])
def test_requires_grad_is_refused_for_non_float(dtype: Any) -> None:
    with pytest.raises(TypeError, match="Tensor: only floating-point"):
        Tensor(np.zeros(2, dtype=dtype), requires_grad=True)
    t = Tensor(np.zeros(2, dtype=dtype))
    with pytest.raises(TypeError, match="requires_grad"):
        t.requires_grad = True
    with pytest.raises(TypeError, match="requires_grad"):
        t.requires_grad_()


@given(x=arrays(min_dims=1), data=st.data())
def test_index_put_matches_numpy_setitem(x: np.ndarray, data: st.DataObject) -> None:
    index = data.draw(st.one_of(st.integers(-5, 5), st.lists(st.integers(-5, 5), max_size=4), st.slices(5)))
    value = data.draw(st.one_of(st.floats(-3, 3), st.integers(-3, 3)))

    def ref() -> np.ndarray:
        out = x.copy()
        out[index] = value
        return out

    expected, ref_exc, _ = run(ref)
    got, exc, _ = run(lambda: ag.index_put(x, index, value))
    if ref_exc is not None:
        assert exc is not None, f"index_put accepted what NumPy refuses ({ref_exc})"
        check_refusal("index_put", exc, (TypeError, ValueError, IndexError))
        return
    assert exc is None, exc
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.data, expected)
    assert ag.index_put(x, slice(None), 0).data is not x  # a new value, x untouched


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor", "less", "equal", "greater_equal"])
@pytest.mark.parametrize("a, scalar", [(np.array(0.0, dtype=np.float16), 65520), (np.array([1, -2], np.int8), 1000)])
def test_python_scalars_in_comparisons_follow_numpys_weak_rules(name: str, a: np.ndarray, scalar: int) -> None:
    """A Python scalar is not first cast to the Tensor's dtype: no overflow warning or error where
    NumPy has none (65520 does not fit float16, 1000 does not fit int8), and NumPy's values."""
    check_like_numpy(name, lambda: getattr(ag, name)(Tensor(a), scalar), lambda: BINARY[name](a, scalar))
    check_like_numpy(name, lambda: getattr(ag, name)(scalar, Tensor(a)), lambda: BINARY[name](scalar, a))
    with warnings.catch_warnings():  # the values; the warnings were compared above (NumPy versions differ)
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(getattr(ag, name)(scalar, Tensor(a)).data, BINARY[name](scalar, a))

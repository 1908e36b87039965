"""The products family (`autograd_core/ops/products.py`): scans, sorting and gathers, array products.

One table row per op: forward against NumPy both as `ag.NAME(tensors)` and as `np.NAME(tensors)`
(the `__array_function__` rule), then `gradcheck` and `gradgradcheck` in float64 and the
float32-stays-float32 check, all over drawn shapes with negative axes. Explicit tests cover
what draws may miss: ties in `sort` (against `torch.sort`), `cumprod` with zeros, dtype rules,
`np.einsum`'s sublist format and errors that name the op.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.ops import products
from autograd_core.testing import arrays, axes, broadcastable_shapes, distinct, shapes

Inputs = tuple[list[np.ndarray], dict[str, Any]]
F32 = np.float32


def examples(n: int) -> settings:
    """`n` examples under the "ci" profile; a quarter of the profile's count under "long"."""
    return settings(max_examples=max(n, settings.default.max_examples // 4))


# ----------------------------------------------------------------- input domains
def _identity(xs: list[np.ndarray]) -> list[np.ndarray]:
    return xs




def with_zeros(xs: list[np.ndarray]) -> list[np.ndarray]:
    """Values near zero become exactly zero (several per slice, often): cumprod's hard case."""
    return [np.where(np.abs(x) < 1.0, 0.0, x) for x in xs]


def moderate(xs: list[np.ndarray]) -> list[np.ndarray]:
    """Products of many values: keep them within [-1.5, 1.5], so a running product never grows
    large enough for finite differences' round-off (|f| * 1e-16 / eps) to pass the tolerance."""
    return [np.clip(x, -1.5, 1.5) for x in xs]


def moderate_with_zeros(xs: list[np.ndarray]) -> list[np.ndarray]:
    return moderate(with_zeros(xs))


# ----------------------------------------------------------------- input families
def _one_axis(draw: st.DrawFn, ndim: int) -> int:
    return draw(axes(ndim, allow_none=False, allow_tuple=False))


@st.composite
def scans(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    axis = draw(st.none() | st.sampled_from([0, -1])) if not shape else draw(axes(len(shape), allow_tuple=False))
    return [draw(arrays(shape))], {"axis": axis}


@st.composite
def diffs(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    axis = _one_axis(draw, len(shape))
    xs, params = [draw(arrays(shape))], {"n": draw(st.integers(0, 3)), "axis": axis}
    for key in ("prepend", "append"):
        kind = draw(st.sampled_from(["none", "scalar", "array"]))
        if kind == "scalar":
            params[key] = 0.5
        elif kind == "array":  # an input of its own: the gradient reaches it too
            extra = list(shape)
            extra[axis] = draw(st.integers(1, 2))
            xs.append(draw(arrays(tuple(extra))))
            params[key] = len(xs) - 1  # the position of that input, swapped in by `_diff`
    return xs, params


def _diff(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(x: Any, *extra: Any, **params: Any) -> Any:
        for key in ("prepend", "append"):
            if isinstance(params.get(key), int):
                params[key] = extra[params[key] - 1]
        return fn(x, **params)

    return run


@st.composite
def sorts(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    axis = draw(st.none()) if not shape else draw(axes(len(shape), allow_tuple=False))
    return [draw(arrays(shape))], {"axis": axis}


@st.composite
def partitions(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    pick = st.integers(-n, n - 1)
    kth = draw(pick | st.lists(pick, min_size=1, max_size=3, unique_by=lambda k: k % n))
    return [draw(arrays(shape))], {"kth": kth, "axis": axis}


@st.composite
def along_axis(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    if draw(st.booleans()):
        n = int(np.prod(shape))
        idx = draw(arrays((draw(st.integers(1, 6)),), dtype=np.intp, min_value=-n, max_value=n - 1))
        return [draw(arrays(shape))], {"indices": idx, "axis": None}
    axis = _one_axis(draw, len(shape))
    n = shape[axis % len(shape)]
    idx_shape = tuple(draw(st.integers(1, 4)) if d == axis % len(shape) else draw(st.sampled_from([1, m]))
                      for d, m in enumerate(shape))
    idx = draw(arrays(idx_shape, dtype=np.intp, min_value=-n, max_value=n - 1))
    return [draw(arrays(shape))], {"indices": idx, "axis": axis}


@st.composite
def takes(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    axis = draw(st.none()) if not shape else draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    mode = draw(st.sampled_from(["raise", "wrap", "clip"]))
    lo, hi = (-n, n - 1) if mode == "raise" else (-2 * n, 2 * n)
    idx = draw(st.integers(lo, hi) | arrays(shapes(0, 2, 1, 3), dtype=np.intp, min_value=lo, max_value=hi))
    return [draw(arrays(shape))], {"indices": idx, "axis": axis, "mode": mode}


@st.composite
def pairs(draw: st.DrawFn, side: int) -> Inputs:
    return [draw(arrays(shapes(0, 2, 1, side))), draw(arrays(shapes(0, 2, 1, side)))], {}


@st.composite
def inners(draw: st.DrawFn, side: int) -> Inputs:
    a, b = draw(shapes(0, 3, 1, side)), draw(shapes(0, 2, 1, side))
    if a and b:
        b = b[:-1] + a[-1:]
    return [draw(arrays(a)), draw(arrays(b))], {}


@st.composite
def tensordots(draw: st.DrawFn, side: int) -> Inputs:
    a = draw(shapes(0, 3, 1, side))
    free_b = list(draw(shapes(0, 2, 1, side)))
    if draw(st.booleans()):  # axes=N: a's last N against b's first N
        count = draw(st.integers(0, len(a)))
        return [draw(arrays(a)), draw(arrays(a[len(a) - count :] + tuple(free_b)))], {"axes": count}
    axes_a = draw(st.lists(st.integers(0, len(a) - 1), unique=True, max_size=len(a))) if a else []
    b = free_b
    axes_b = []
    for ax in axes_a:
        at = draw(st.integers(0, len(b)))
        b.insert(at, a[ax])
        axes_b = [p + (p >= at) for p in axes_b] + [at]
    neg = lambda ax, nd: ax - nd if draw(st.booleans()) else ax
    spec = ([neg(x, len(a)) for x in axes_a], [neg(x, len(b)) for x in axes_b])
    return [draw(arrays(a)), draw(arrays(tuple(b)))], {"axes": spec}


@st.composite
def krons(draw: st.DrawFn, side: int) -> Inputs:
    return [draw(arrays(shapes(0, 3, 1, side))), draw(arrays(shapes(0, 2, 1, side)))], {}


@st.composite
def crosses(draw: st.DrawFn, side: int) -> Inputs:
    batch_a, batch_b = draw(broadcastable_shapes(2, 0, 2, 1, side))
    na, nb = draw(st.sampled_from([(3, 3), (3, 3), (2, 3), (3, 2), (2, 2)]))
    pos_a, pos_b = draw(st.integers(0, len(batch_a))), draw(st.integers(0, len(batch_b)))
    out_ndim = max(len(batch_a), len(batch_b)) + (na == 3 or nb == 3)
    a = batch_a[:pos_a] + (na,) + batch_a[pos_a:]
    b = batch_b[:pos_b] + (nb,) + batch_b[pos_b:]
    params = {"axisa": pos_a - len(a) * draw(st.booleans()), "axisb": pos_b - len(b) * draw(st.booleans()),
              "axisc": draw(st.integers(-out_ndim, out_ndim - 1)) if out_ndim else -1}
    if len(a) == len(b) == out_ndim and pos_a == pos_b and draw(st.booleans()):
        params = {"axis": pos_a}
    return [draw(arrays(a)), draw(arrays(b))], params


def _quiet_cross(fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kw: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 2-vectors: deprecated, still supported
            return fn(*args, **kw)

    return run


EINSUM_SPECS = ["ij,jk->ik", "ii->i", "ij,jk", "ii", "...ij,...jk->...ik", "i...,i...->...", "i,ij,j->",
                "ijk->kj", "ba,ac", "a...->...a"]


@st.composite
def einsum_sublists(draw: st.DrawFn, side: int) -> Inputs:
    spec = draw(st.sampled_from(EINSUM_SPECS))
    terms = spec.split("->")[0].split(",")
    sizes = {c: draw(st.integers(1, side)) for c in string.ascii_lowercase if c in spec}
    ell = draw(shapes(0, 2, 1, side))
    xs = []
    for t in terms:
        head, _, tail = t.partition("...")
        shape = tuple(sizes[c] for c in head) + (ell if "..." in t else ()) + tuple(sizes[c] for c in tail)
        xs.append(draw(arrays(shape)))
    # letters as NumPy's sublist ints (upper and lower case both), "..." as Ellipsis
    code = {c: (26 + i if draw(st.booleans()) else i) for i, c in enumerate(string.ascii_lowercase)}
    to_list = lambda t: [Ellipsis if p == "." else code[p] for p in t.replace("...", ".")]
    sublists = [to_list(t) for t in terms]
    output = [to_list(spec.split("->")[1])] if "->" in spec else []
    return xs, {"sublists": sublists, "output": output}


def _einsum_sublist(einsum: Callable[..., Any]) -> Callable[..., Any]:
    def run(*xs: Any, sublists: list[Any], output: list[Any]) -> Any:
        args = [v for x, s in zip(xs, sublists) for v in (x, s)]
        return einsum(*args, *output)

    return run


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    name: str  # the name in products.__all__ this row covers ("einsum": the np.einsum rule)
    fn: Callable[..., Any]  # fn(*tensors, **params), through autograd_core
    ref: Callable[..., Any]  # ref(*arrays, **params), plain NumPy; on Tensors it dispatches
    family: Callable[[int], st.SearchStrategy[Inputs]]
    domain: Callable[[list[np.ndarray]], list[np.ndarray]] = _identity
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")


CASES = [
    Case("cumsum", ag.cumsum, np.cumsum, scans),
    Case("cumsum", lambda x, axis: x.cumsum(axis), np.cumsum, scans, label="method"),
    Case("cumprod", ag.cumprod, np.cumprod, scans, moderate),
    Case("cumprod", lambda x, axis: x.cumprod(axis), np.cumprod, scans, moderate_with_zeros, label="zeros-method"),
    Case("diff", _diff(ag.diff), _diff(np.diff), diffs),
    Case("sort", ag.sort, np.sort, sorts, distinct),
    Case("partition", ag.partition, np.partition, partitions, distinct),
    Case("take_along_axis", ag.take_along_axis, np.take_along_axis, along_axis),
    Case("take", ag.take, np.take, takes),
    Case("take", lambda x, indices, axis, mode: x.take(indices, axis, mode=mode), np.take, takes, label="method"),
    Case("outer", ag.outer, np.outer, pairs),
    Case("inner", ag.inner, np.inner, inners),
    Case("tensordot", ag.tensordot, np.tensordot, tensordots),
    Case("kron", ag.kron, np.kron, krons),
    Case("cross", _quiet_cross(ag.cross), _quiet_cross(np.cross), crosses),
    Case("einsum", _einsum_sublist(products.einsum_numpy), _einsum_sublist(np.einsum), einsum_sublists,
         label="sublist"),
]


def test_table_covers_every_op() -> None:
    covered = {c.name for c in CASES}
    assert set(products.__all__) <= covered, "ops with no gradient-check row"
    assert covered <= set(products.__all__) | {"einsum"}
    for name in products.__all__:  # each dispatches from NumPy and is `ag.NAME`
        assert getattr(np, name) in products.NUMPY_RULES and getattr(ag, name) is not None
    assert "sort" not in products.TENSOR_METHODS and "partition" not in products.TENSOR_METHODS


# ----------------------------------------------------------------- the checks
def _draw(data: st.DataObject, case: Case, side: int) -> Inputs:
    xs, params = data.draw(case.family(side), label="inputs")
    return case.domain(xs), params


def _check_forward(got: Any, want: Any) -> None:
    want = np.asarray(want)
    assert isinstance(got, ag.Tensor), type(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(25)
@given(data=st.data())
def test_forward_and_gradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=4)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    want = case.ref(*xs, **params)
    _check_forward(case.fn(*ts, **params), want)
    _check_forward(case.ref(*ts, **params), want)  # np.NAME(tensor) through __array_function__
    assert ag.gradcheck(lambda *t: case.fn(*t, **params), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(10)
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradgradcheck(lambda *t: case.ref(*t, **params), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x.astype(F32), requires_grad=True) for x in xs]
    out = case.fn(*ts, **params)
    want = case.ref(*[x.astype(F32) for x in xs], **params).dtype
    assert out.dtype == want and (want == F32 or "prepend" in params or "append" in params)  # 0.5 is float64
    if out.requires_grad:
        out.sum().backward()
    for t in ts:
        assert t.grad is None or (t.grad.dtype == F32 and t.grad.shape == t.shape)


# ----------------------------------------------------------------- sort: ties
def test_sort_ties_match_torch_stable_sort_backward() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape, axis in [((7,), -1), ((3, 6), 1), ((5, 4), 0), ((2, 3, 5), -2)]:
        x = rng.integers(0, 3, size=shape).astype(np.float64)  # many repeated values
        g = rng.standard_normal(shape)
        t = ag.Tensor(x, requires_grad=True)
        ag.sort(t, axis=axis).backward(g)
        tx = torch.tensor(x, requires_grad=True)
        values, _ = torch.sort(tx, dim=axis, stable=True)
        values.backward(torch.tensor(g))
        np.testing.assert_array_equal(ag.sort(t, axis=axis).data, values.detach().numpy())
        np.testing.assert_array_equal(t.grad, tx.grad.numpy())


def test_sort_tie_gradient_is_a_valid_subgradient() -> None:
    x = ag.Tensor(np.array([2.0, 1.0, 2.0, 1.0, 2.0]), requires_grad=True)
    g = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.sort(x).backward(g)
    # stable order: the 1s at positions 1, 3 take sorted slots 0, 1; the 2s at 0, 2, 4 take 2, 3, 4
    np.testing.assert_array_equal(x.grad, [3.0, 1.0, 4.0, 2.0, 5.0])
    # a permutation of g, and within each tie group the same total as any other tie order
    assert sorted(x.grad) == sorted(g) and x.grad[[1, 3]].sum() == g[:2].sum()


def test_sort_axis_none_nan_and_kind_follow_numpy() -> None:
    a = np.array([[3.0, np.nan, 1.0], [0.5, 2.0, -1.0]])
    for kwargs in ({}, {"axis": None}, {"axis": 0, "kind": "mergesort"}, {"stable": True}, {"kind": "heapsort"}):
        np.testing.assert_array_equal(np.sort(ag.Tensor(a), **kwargs).data, np.sort(a, **kwargs))
    ints = ag.Tensor(np.array([3, 1, 2]))
    assert ag.sort(ints).dtype == np.int64 and not ag.sort(ints).requires_grad


def test_partition_gradient_follows_argpartition() -> None:
    x = np.random.default_rng(3).standard_normal((3, 8))
    g = np.random.default_rng(4).standard_normal((3, 8))
    t = ag.Tensor(x, requires_grad=True)
    np.partition(t, [2, 5], axis=1).backward(g)
    perm = np.argpartition(x, [2, 5], axis=1)
    expected = np.zeros_like(x)
    np.put_along_axis(expected, perm, g, axis=1)
    np.testing.assert_array_equal(t.grad, expected)


# ----------------------------------------------------------------- cumprod with zeros
@pytest.mark.parametrize(
    "values",
    [[2.0, 0.0, 3.0, 4.0], [0.0, 4.0, 0.0, 5.0], [0.0], [1.5, -2.0, 0.0], [[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]],
    ids=["one-zero", "two-zeros", "lone-zero", "zero-last", "matrix"],
)
def test_cumprod_with_zeros_is_exact(values: list[Any]) -> None:
    x = np.array(values)
    g = np.arange(1.0, x.size + 1).reshape(x.shape)
    t = ag.Tensor(x, requires_grad=True)
    ag.cumprod(t, axis=-1).backward(g)
    # brute force: d y_j / d x_i = prod(x_k for k <= j, k != i) for j >= i
    expected = np.zeros_like(x)
    for idx in np.ndindex(x.shape[:-1]):
        row, n = x[idx], x.shape[-1]
        for i in range(n):
            expected[idx + (i,)] = sum(g[idx + (j,)] * np.prod(np.delete(row[: j + 1], i)) for j in range(i, n))
    np.testing.assert_array_equal(t.grad, expected)
    assert np.isfinite(t.grad).all()
    assert ag.gradcheck(lambda u: ag.cumprod(u, axis=-1), [t]) and ag.gradgradcheck(lambda u: np.cumprod(u), [t])


def test_cumprod_with_zeros_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 2.0, 0.0, 3.0], [1.0, -2.0, 0.5, 0.0], [3.0, 1.0, 2.0, 0.25]])
    g = np.random.default_rng(5).standard_normal(x.shape)
    for axis in (0, 1):
        t = ag.Tensor(x, requires_grad=True)
        t.cumprod(axis).backward(g)
        tx = torch.tensor(x, requires_grad=True)
        torch.cumprod(tx, dim=axis).backward(torch.tensor(g))
        np.testing.assert_allclose(t.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- dtype rules and details
def test_dtype_rules_follow_numpy() -> None:
    i8, f32 = np.array([1, 2, 3], dtype=np.int8), np.array([1.0, 2.0], dtype=F32)
    cases = [
        (lambda m: m.cumsum(i8), ()), (lambda m: m.cumprod(i8), ()), (lambda m: m.cumsum(f32, dtype=np.float64), ()),
        (lambda m: m.diff(np.array([True, False, False])), ()), (lambda m: m.diff(f32, prepend=0.5), ()),
        (lambda m: m.diff(f32, append=0), ()), (lambda m: m.outer(f32, 2.0), ()), (lambda m: m.inner(f32, f32), ()),
        (lambda m: m.kron(f32, np.array([1, 2])), ()), (lambda m: m.tensordot(f32, f32, 1), ()),
        (lambda m: m.cross(np.array([1, 2, 3]), np.array([4.0, 5.0, 6.0])), ()),
    ]
    for call, _ in cases:
        want = call(np)
        got = call(ag)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.data, want)


def test_float32_gradients_through_float64_results() -> None:
    x = ag.Tensor(np.array([1.0, 2.0, 4.0], dtype=F32), requires_grad=True)
    y = ag.cumsum(x, dtype=np.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == F32
    np.testing.assert_array_equal(x.grad, [3, 2, 1])


def test_zero_d_and_flattening_scans_follow_numpy() -> None:
    for call in (lambda m, v: m.cumsum(v), lambda m, v: m.cumprod(v, axis=0), lambda m, v: m.sort(v, axis=None)):
        v = np.float64(2.5)
        got = call(np, ag.Tensor(v, requires_grad=True))
        assert got.shape == call(np, np.asarray(v)).shape == (1,)
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(np.cumsum(ag.Tensor(m)).data, np.cumsum(m))


def test_diff_n_zero_returns_the_input_and_gradient_reaches_prepend() -> None:
    x = ag.Tensor(np.array([1.0, 4.0, 9.0]), requires_grad=True)
    assert np.diff(x, n=0) is x
    p = ag.Tensor(np.array(0.5), requires_grad=True)
    np.diff(x, prepend=p).sum().backward()  # the sum telescopes to x[-1] - p
    np.testing.assert_array_equal(x.grad, [0, 0, 1])
    assert p.grad == -1


def test_take_along_axis_repeated_indices_accumulate() -> None:
    x = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    idx = np.array([[0, 0, -3], [2, 2, 1]])
    np.take_along_axis(x, idx, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[3, 0, 0], [0, 1, 2]])
    t = ag.Tensor(np.arange(4.0), requires_grad=True)
    t.take([1, 1, -1, 5], mode="wrap").sum().backward()
    np.testing.assert_array_equal(t.grad, [0, 3, 0, 1])


def test_cross_two_vectors_warn_like_numpy() -> None:
    a, b = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([3.0, 4.0, 5.0])
    for x, y in ((a, a[::-1]), (a, b), (b, a)):
        with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
            got = np.cross(ag.Tensor(x, requires_grad=True), y)
        with pytest.warns(DeprecationWarning):
            want = np.cross(x, y)
        np.testing.assert_array_equal(got.data, want)


def test_einsum_string_format_still_dispatches() -> None:
    a = ag.Tensor(np.random.default_rng(6).standard_normal((2, 3)), requires_grad=True)
    b = np.random.default_rng(7).standard_normal((3, 4))
    for kwargs in ({}, {"optimize": True}, {"optimize": "greedy"}, {"dtype": np.float64}):
        y = np.einsum("ij,jk->ik", a, b, **kwargs)
        np.testing.assert_allclose(y.data, np.einsum("ij,jk->ik", a.data, b), rtol=1e-12)
    sub = np.einsum(a, [Ellipsis, 1], b, [1, 40], [Ellipsis, 40])
    np.testing.assert_allclose(sub.data, a.data @ b, rtol=1e-12)
    assert ag.gradcheck(lambda t: np.einsum(t, [0, 1], t, [0, 1]), [a])


# ----------------------------------------------------------------- errors name the op
BAD_CALLS: list[tuple[str, Callable[[Any, Any], Any], type[Exception]]] = [
    ("cumsum", lambda m, x: m.cumsum(x, axis=2), ValueError),
    ("cumsum", lambda m, x: m.cumsum(x, out=np.empty((1, 6))), (TypeError, ValueError)),
    ("cumprod", lambda m, x: m.cumprod(x, axis=-3), ValueError),
    ("diff", lambda m, x: m.diff(x, n=-1), ValueError),
    ("diff", lambda m, x: m.diff(x[0, 0]), ValueError),
    ("diff", lambda m, x: m.diff(x, prepend=np.ones((3, 3))), ValueError),
    ("sort", lambda m, x: m.sort(x, axis=2), ValueError),
    ("sort", lambda m, x: m.sort(x, kind="bogus"), ValueError),
    ("sort", lambda m, x: m.sort(x, order="f"), ValueError),
    ("partition", lambda m, x: m.partition(x, 5), ValueError),
    ("take_along_axis", lambda m, x: m.take_along_axis(x, np.zeros((2,), dtype=int), axis=1), ValueError),
    ("take_along_axis", lambda m, x: m.take_along_axis(x, np.zeros((2, 2)), axis=1), IndexError),
    ("take_along_axis", lambda m, x: m.take_along_axis(x, np.full((2, 1), 3), axis=1), IndexError),
    ("take", lambda m, x: m.take(x, [7]), IndexError),
    ("take", lambda m, x: m.take(x, [0], mode="nearest"), ValueError),
    ("inner", lambda m, x: m.inner(x, np.ones(2)), ValueError),
    ("tensordot", lambda m, x: m.tensordot(x, np.ones((2, 3)), axes=1), ValueError),
    ("kron", lambda m, x: m.kron(x, np.array(["a"])), TypeError),
    ("outer", lambda m, x: m.outer(x, np.array(["a"])), TypeError),
    ("cross", lambda m, x: m.cross(x, np.ones((2, 4))), ValueError),
    ("cross", lambda m, x: m.cross(x[0, 0], x[0]), ValueError),
    ("cross", lambda m, x: m.cross(x, x, axisa=3), ValueError),
    ("einsum", lambda m, x: m.einsum(x, [0, 60]), ValueError),
    ("einsum", lambda m, x: m.einsum(x, [0, 1], np.ones((2, 2)), [1, 2]), ValueError),
    ("einsum", lambda m, x: m.einsum("ij,jk->ik", x, np.ones((2, 2))), ValueError),
]


class _Ag:
    """`ag.NAME`, with the `np.einsum` rule standing in for einsum (`ag.einsum` takes strings only)."""

    def __getattr__(self, name: str) -> Any:
        return products.einsum_numpy if name == "einsum" else getattr(ag, name)


@pytest.mark.parametrize(("name", "call", "kind"), BAD_CALLS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(BAD_CALLS)])
def test_errors_name_the_op(name: str, call: Callable[[Any, Any], Any], kind: Any) -> None:
    x = np.ones((2, 3))
    with pytest.raises(kind):
        call(np, x)  # NumPy refuses these too
    for namespace in (np, _Ag()):  # np.NAME(tensor) through __array_function__, and ag.NAME
        with pytest.raises(kind, match=f"^{name}:"):
            call(namespace, ag.Tensor(x, requires_grad=True))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(8)
@given(data=st.data())
def test_forward_mode_gradcheck(case: Case, data: st.DataObject) -> None:
    """The forward-mode column: each op's tangents against central differences."""
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradcheck(lambda *t: case.ref(*t, **params), ts, check_forward_ad=True, check_backward_ad=False)

"""The array-manipulation family (`autograd_core/ops/arrays.py`): NumPy's values, dtypes and errors.

One table row per op (or per calling form): drawn inputs go through `ag.NAME`, through
`np.NAME` on Tensors (the dispatch) and through plain NumPy; the results must agree
exactly, and `gradcheck`/`gradgradcheck` must pass in float64. Ops that return several
arrays (splits, `atleast_*` with several inputs) are checked through a weighted sum of
their outputs. `test_every_op_has_a_row` keeps the table complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.ops import arrays
from autograd_core.testing import arrays as drawn_arrays
from autograd_core.testing import axes, broadcastable_shapes, shapes

Inputs = tuple[list[np.ndarray], dict[str, Any]]
F32 = np.float32


def _values(draw: st.DrawFn, *shape_list: tuple[int, ...]) -> list[np.ndarray]:
    return [draw(drawn_arrays(s)) for s in shape_list]


def _axis(draw: st.DrawFn, ndim: int) -> int:
    return draw(st.integers(-ndim, ndim - 1))


# ----------------------------------------------------------------- input families
@st.composite
def flips(draw: st.DrawFn, min_dims: int = 0) -> Inputs:
    shape = draw(shapes(min_dims, 3, 1, 3))
    return _values(draw, shape), {"axis": draw(axes(len(shape)))} if min_dims == 0 else {}


@st.composite
def rolls(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(0, 3, 1, 3))
    if not shape or draw(st.booleans()):
        return _values(draw, shape), {"shift": draw(st.integers(-7, 7)), "axis": None}
    ax = st.integers(-len(shape), len(shape) - 1)
    axis = draw(ax | st.lists(ax, min_size=1, max_size=3).map(tuple))  # repeated axes add their shifts
    n = 1 if isinstance(axis, int) else len(axis)
    shift = draw(st.integers(-7, 7) | st.lists(st.integers(-7, 7), min_size=n, max_size=n).map(tuple))
    return _values(draw, shape), {"shift": shift, "axis": axis}


@st.composite
def rotations(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(2, 3, 1, 3))
    a1 = _axis(draw, len(shape))
    a2 = draw(st.sampled_from([a for a in range(-len(shape), len(shape)) if a % len(shape) != a1 % len(shape)]))
    return _values(draw, shape), {"k": draw(st.integers(-3, 5)), "axes": (a1, a2)}


@st.composite
def tiles(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(0, 3, 1, 3))
    reps = draw(st.integers(0, 3) | st.lists(st.integers(0, 2), max_size=4).map(tuple))
    return _values(draw, shape), {"reps": reps}


@st.composite
def repeats(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(0, 3, 1, 3))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    n = int(np.prod(shape)) if axis is None else shape[axis]
    counts = draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=n, max_size=n).map(np.array))
    return _values(draw, shape), {"repeats": counts, "axis": axis}


@st.composite
def moves(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(1, 4, 1, 3))
    nd = len(shape)
    k = draw(st.integers(1, nd))
    src = draw(st.permutations(range(nd)))[:k]
    dst = draw(st.permutations(range(nd)))[:k]
    src, dst = ([a - nd * draw(st.booleans()) for a in group] for group in (src, dst))
    if k == 1 and draw(st.booleans()):
        src, dst = src[0], dst[0]
    return _values(draw, shape), {"source": src, "destination": dst}


@st.composite
def rollaxes(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(1, 4, 1, 3))
    return _values(draw, shape), {"axis": _axis(draw, len(shape)), "start": draw(st.integers(-len(shape), len(shape)))}


@st.composite
def several(draw: st.DrawFn) -> Inputs:
    n = draw(st.integers(1, 3))
    return _values(draw, *[draw(shapes(0, 3, 1, 3)) for _ in range(n)]), {}


@st.composite
def stackables(draw: st.DrawFn, kind: str) -> Inputs:
    """Pieces that `kind` (hstack/vstack/dstack/column_stack) can join: one axis varies."""
    nd = draw(st.integers(0, 3))
    base = list(draw(shapes(nd, nd, 1, 3)))
    n = draw(st.integers(1, 3))
    vary = {"hstack": 0 if nd == 1 else 1, "vstack": 0, "dstack": 2, "column_stack": 1}[kind]
    if nd <= vary or (kind == "column_stack" and nd < 2) or (kind == "vstack" and nd < 2):
        pieces = [tuple(base)] * n
        if kind in ("vstack", "column_stack") and nd == 1 and draw(st.booleans()):
            pieces = [(base[0], draw(st.integers(1, 3))) if kind == "column_stack" else (1, base[0]) for _ in pieces]
        elif kind == "hstack" and nd == 0:
            pieces = [() if draw(st.booleans()) else (draw(st.integers(1, 3)),) for _ in pieces]
    else:
        pieces = []
        for _ in range(n):
            base[vary] = draw(st.integers(1, 3))
            pieces.append(tuple(base))
    return _values(draw, *pieces), {}


@st.composite
def splittables(draw: st.DrawFn, kind: str) -> Inputs:
    min_dims = {"array_split": 1, "hsplit": 1, "vsplit": 2, "dsplit": 3}[kind]
    shape = draw(shapes(min_dims, max(min_dims, 3), 1, 4))
    params: dict[str, Any] = {}
    if kind == "array_split":
        params["axis"] = _axis(draw, len(shape))
        n = shape[params["axis"]]
        sections = st.integers(1, n + 2)
    else:
        n = shape[{"hsplit": 1 if len(shape) > 1 else 0, "vsplit": 0, "dsplit": 2}[kind]]
        sections = st.sampled_from([d for d in range(1, n + 1) if n % d == 0])
    params["indices_or_sections"] = draw(sections | st.lists(st.integers(-n - 1, n + 1), max_size=3))
    return _values(draw, shape), params


@st.composite
def appends(draw: st.DrawFn) -> Inputs:
    if draw(st.booleans()):
        return _values(draw, draw(shapes(0, 3, 1, 3)), draw(shapes(0, 3, 1, 3))), {"axis": None}
    shape = list(draw(shapes(1, 3, 1, 3)))
    axis = _axis(draw, len(shape))
    other = list(shape)
    other[axis] = draw(st.integers(1, 3))
    return _values(draw, tuple(shape), tuple(other)), {"axis": axis}


@st.composite
def diags(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(1, 2, 1, 4))
    return _values(draw, shape), {"k": draw(st.integers(-3, 3))}


@st.composite
def diagonals(draw: st.DrawFn) -> Inputs:
    shape = draw(shapes(2, 4, 1, 3))
    nd = len(shape)
    a1 = _axis(draw, nd)
    a2 = draw(st.sampled_from([a for a in range(-nd, nd) if a % nd != a1 % nd]))
    return _values(draw, shape), {"offset": draw(st.integers(-3, 3)), "axis1": a1, "axis2": a2}


@st.composite
def triangles(draw: st.DrawFn) -> Inputs:
    return _values(draw, draw(shapes(1, 4, 1, 3))), {"k": draw(st.integers(-3, 3))}


@st.composite
def selects(draw: st.DrawFn) -> Inputs:
    n = draw(st.integers(1, 3))
    found = draw(broadcastable_shapes(2 * n + 1, 0, 3, 1, 3))
    conds = [draw(drawn_arrays(s, dtype=bool)) for s in found[:n]]
    return _values(draw, *found[n:]), {"condlist": conds}


@st.composite
def linspaces(draw: st.DrawFn, min_num: int = 0) -> Inputs:
    a, b = draw(broadcastable_shapes(2, 0, 2, 1, 3))
    nd = len(np.broadcast_shapes(a, b)) + 1
    params = {"num": draw(st.integers(min_num, 6)), "endpoint": draw(st.booleans()), "axis": _axis(draw, nd)}
    return _values(draw, a, b), params


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    name: str  # the op in arrays.__all__ this row covers
    call: Callable[..., Any]  # call(module, *arrays_or_tensors, **params): module is ag or np
    family: Callable[[], st.SearchStrategy[Inputs]]
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")


def _plain(name: str, family: Callable[[], st.SearchStrategy[Inputs]]) -> Case:
    return Case(name, lambda m, *xs, **p: getattr(m, name)(*xs, **p), family)


def _stack(name: str) -> Case:
    return Case(name, lambda m, *xs: getattr(m, name)(list(xs)), lambda: stackables(name))


def _split(name: str) -> Case:
    return Case(name, lambda m, x, **p: getattr(m, name)(x, **p), lambda: splittables(name))


CASES = [
    _plain("flip", flips),
    Case("flip", lambda m, x: m.flip(x), lambda: flips(1), label="all-axes"),
    _plain("fliplr", lambda: flips(2)),
    _plain("flipud", lambda: flips(1)),
    _plain("roll", rolls),
    _plain("rot90", rotations),
    _plain("tile", tiles),
    _plain("repeat", repeats),
    Case("repeat", lambda m, x, repeats, axis: x.repeat(repeats, axis), repeats, label="method"),
    _plain("moveaxis", moves),
    _plain("rollaxis", rollaxes),
    _plain("atleast_1d", several),
    _plain("atleast_2d", several),
    _plain("atleast_3d", several),
    _stack("hstack"),
    _stack("vstack"),
    _stack("dstack"),
    _stack("column_stack"),
    _split("array_split"),
    _split("hsplit"),
    _split("vsplit"),
    _split("dsplit"),
    _plain("append", appends),
    _plain("diag", diags),
    _plain("diagonal", diagonals),
    Case("diagonal", lambda m, x, **p: x.diagonal(**p), diagonals, label="method"),
    _plain("trace", diagonals),
    Case("trace", lambda m, x, **p: x.trace(**p), diagonals, label="method"),
    _plain("tril", triangles),
    _plain("triu", triangles),
    Case("select", lambda m, *xs, condlist: m.select(condlist, xs[:-1], xs[-1]), selects),
    Case("select", lambda m, *xs, condlist: m.select(condlist, xs[:-1]), selects, label="scalar-default"),
    Case("linspace", lambda m, a, b, **p: m.linspace(a, b, **p), linspaces),
    Case("linspace", lambda m, a, b, **p: m.linspace(a, b, retstep=True, **p),
         lambda: linspaces(min_num=2), label="retstep"),  # num < 2 with endpoint: NumPy's step is NaN,
]


def test_every_op_has_a_row() -> None:
    assert {c.name for c in CASES} == set(arrays.__all__)
    assert set(arrays.__all__) <= set(ag.ops.__all__)


# ----------------------------------------------------------------- the checks
def _outputs(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _combined(value: Any) -> ag.Tensor:
    """One Tensor from an op's output: itself, or a weighted sum of several outputs."""
    if isinstance(value, ag.Tensor):
        return value
    total = ag.Tensor(np.zeros((), dtype=value[0].dtype))
    for k, o in enumerate(value):
        weights = (1.0 + k + 0.1 * np.arange(o.size).reshape(o.shape)).astype(o.dtype)
        total = total + (o * weights).sum()
    return total


def examples(n: int) -> settings:
    """`n` examples under the "ci" profile; a quarter of the profile's count under "long"."""
    return settings(max_examples=max(n, settings.default.max_examples // 4))


def _draw(data: st.DataObject, case: Case) -> Inputs:
    return data.draw(case.family(), label="inputs")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(25)
@given(data=st.data())
def test_forward_matches_numpy_and_gradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case)
    want = _outputs(case.call(np, *xs, **params))
    for module in (ag, np):
        ts = [ag.Tensor(x, requires_grad=True) for x in xs]
        got = _outputs(case.call(module, *ts, **params))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            w = np.asarray(w)
            assert isinstance(g, ag.Tensor), f"{module.__name__}.{case.name} returned {type(g).__name__}"
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g.data, w)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradcheck(lambda *t: _combined(case.call(ag, *t, **params)), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(10)
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradgradcheck(lambda *t: _combined(case.call(np, *t, **params)), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case)
    ts = [ag.Tensor(x.astype(F32), requires_grad=True) for x in xs]
    outs = _outputs(case.call(ag, *ts, **params))
    assert all(o.dtype == F32 for o in outs)
    total = _combined(outs)
    if total.requires_grad:
        total.backward()
    for t in ts:
        assert t.grad is None or (t.grad.dtype == F32 and t.grad.shape == t.shape)


# ----------------------------------------------------------------- explicit cases
def leaf(*shape: int, seed: int = 0) -> ag.Tensor:
    return ag.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_atleast_on_a_zero_d_tensor_and_several_inputs() -> None:
    y = np.atleast_1d(ag.Tensor(1.0))
    assert isinstance(y, ag.Tensor) and y.shape == (1,) and y.dtype == F32
    x = leaf()
    a, b, c = np.atleast_3d(x, leaf(2), np.ones((2, 3)))
    assert (a.shape, b.shape, c.shape) == ((1, 1, 1), (1, 2, 1), (2, 3, 1))
    assert isinstance(c, ag.Tensor) and a.requires_grad
    assert ag.atleast_2d(x).shape == (1, 1) and ag.atleast_1d(leaf(2, 2)).shape == (2, 2)


def test_select_gives_the_gradient_to_the_first_true_condition() -> None:
    a, b, d = leaf(4), leaf(4, seed=1), leaf(4, seed=2)
    c1 = np.array([True, False, True, False])
    c2 = np.array([True, True, False, False])
    np.select([c1, c2], [a, b], d).sum().backward()
    np.testing.assert_array_equal(a.grad, [1, 0, 1, 0])
    np.testing.assert_array_equal(b.grad, [0, 1, 0, 0])
    np.testing.assert_array_equal(d.grad, [0, 0, 0, 1])


def test_repeat_with_counts_sums_the_copies() -> None:
    x = leaf(3)
    (ag.repeat(x, [2, 0, 3]) * np.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 0, 2 + 3 + 4])
    y = leaf(2, 2)
    np.tile(y, (2, 3)).sum().backward()
    np.testing.assert_array_equal(y.grad, np.full((2, 2), 6.0))


def test_linspace_dtypes_and_leaves(float64_default: None) -> None:
    ag.set_default_dtype(F32)
    y = ag.linspace(0.0, 1.0, 5)
    assert isinstance(y, ag.Tensor) and y.dtype == F32 and not y.requires_grad
    np.testing.assert_array_equal(y.data, np.linspace(F32(0), F32(1), 5))
    assert ag.linspace(0, 1, 3).dtype == F32
    assert ag.linspace(np.zeros(2), 1.0, 3).dtype == np.float64  # arrays keep their dtype
    assert ag.linspace(ag.Tensor(np.zeros(2, F32)), 1.0, 3).dtype == F32
    assert ag.linspace(0.0, 1.0, 3, dtype=np.float64).dtype == np.float64
    ag.set_default_dtype(np.float64)
    assert ag.linspace(0.0, 1.0, 5).dtype == np.float64
    leaf_ = ag.linspace(0.0, 1.0, 4, requires_grad=True)
    assert leaf_.is_leaf and leaf_.requires_grad
    ints = ag.linspace(leaf(), leaf(seed=1) + 5, 4, dtype=np.int64)
    assert ints.dtype == np.int64 and not ints.requires_grad
    values, step = ag.linspace(0.0, 2.0, 5, retstep=True)
    assert step.item() == 0.5 and values.shape == (5,)
    with pytest.raises(TypeError, match="linspace"):
        ag.linspace(0.0, 1.0, 3, dtype=np.int64, requires_grad=True)


def test_linspace_gradient_against_endpoints() -> None:
    start, stop = leaf(2), leaf(seed=1)
    np.linspace(start, stop, 5, axis=-1).sum().backward()
    np.testing.assert_allclose(start.grad, [2.5, 2.5])
    np.testing.assert_allclose(stop.grad, 5.0)


def test_tensor_methods_exist_and_match_numpy() -> None:
    x = leaf(3, 4)
    np.testing.assert_array_equal(x.repeat(2, axis=-1).data, x.data.repeat(2, axis=-1))
    np.testing.assert_array_equal(x.diagonal(1).data, x.data.diagonal(1))
    np.testing.assert_allclose(x.trace(-1).data, x.data.trace(-1))
    assert x.trace().requires_grad and x.diagonal().requires_grad


def test_views_write_through_to_their_base_like_numpy() -> None:
    views = {
        "flip": lambda t: np.flip(t, 1), "rot90": np.rot90, "moveaxis": lambda t: np.moveaxis(t, 0, -1),
        "rollaxis": lambda t: np.rollaxis(t, 1), "atleast_3d": np.atleast_3d,
    }
    for name, fn in views.items():
        a, x = np.arange(6.0).reshape(2, 3), ag.Tensor(np.arange(6.0).reshape(2, 3))
        fn(a)[(0,) * 2] = -1.0
        fn(x)[(0,) * 2] = -1.0
        np.testing.assert_array_equal(x.data, a, err_msg=name)
    w = leaf(2, 3)
    h = w * 1
    v = np.flip(h, 0)
    v[0] = v[0] * 3  # scales h's last row
    (h * h).sum().backward()
    np.testing.assert_allclose(w.grad, 2 * w.data * np.array([[1.0], [9.0]]))


def test_integer_and_bool_inputs_follow_numpy() -> None:
    i = np.arange(12, dtype=np.int32).reshape(3, 4)
    for fn in (np.flip, np.fliplr, np.rot90, np.tril, np.diagonal, np.trace, lambda a: np.tile(a, 2)):
        got, want = fn(ag.Tensor(i)), fn(i)
        assert got.dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got.data, want)
    b = i % 3 == 0
    np.testing.assert_array_equal(np.triu(ag.Tensor(b)).data, np.triu(b))


ERRORS = [
    (lambda: ag.fliplr(leaf(3)), ValueError, r"fliplr: .*\(3,\)"),
    (lambda: ag.flipud(leaf()), ValueError, r"flipud: .*\(\)"),
    (lambda: ag.flip(leaf(2, 2), 2), ValueError, "flip: axis 2"),
    (lambda: np.roll(leaf(2, 3), 1, axis=2), ValueError, r"roll: .*\(2, 3\)"),
    (lambda: np.rot90(leaf(3)), ValueError, r"rot90: .*\(3,\)"),
    (lambda: ag.tile(leaf(2), (-1,)), ValueError, "tile: .*negative"),
    (lambda: np.repeat(leaf(2, 3), [1, 2], axis=1), ValueError, r"repeat: .*\(2, 3\)"),
    (lambda: ag.moveaxis(leaf(2, 3), [0, 1], [0]), ValueError, "moveaxis: .*same number"),
    (lambda: ag.moveaxis(leaf(2, 3), 0, 2), ValueError, "moveaxis: axis 2"),
    (lambda: ag.rollaxis(leaf(2, 3), 0, 4), ValueError, "rollaxis: 'start'"),
    (lambda: np.hstack([leaf(2, 3), leaf(3, 3)]), ValueError, r"hstack: .*\(2, 3\), \(3, 3\)"),
    (lambda: np.vstack([leaf(2), leaf(3)]), ValueError, r"vstack: .*\(1, 2\), \(1, 3\)"),
    (lambda: ag.dstack([]), ValueError, "dstack: need at least one array"),
    (lambda: np.column_stack([leaf(2), leaf(3)]), ValueError, r"column_stack: .*\(2, 1\), \(3, 1\)"),
    (lambda: np.array_split(leaf(4), 0), ValueError, "array_split: number of sections"),
    (lambda: ag.array_split(leaf(), 2), ValueError, r"array_split: .*0-d"),
    (lambda: np.hsplit(leaf(2, 3), 2), ValueError, r"hsplit: .*equal division.*\(2, 3\)"),
    (lambda: np.vsplit(leaf(3), 3), ValueError, r"vsplit: .*\(3,\)"),
    (lambda: np.dsplit(leaf(2, 2), 2), ValueError, r"dsplit: .*\(2, 2\)"),
    (lambda: np.append(leaf(2, 2), leaf(3, 3), axis=0), ValueError, r"append: .*\(2, 2\), \(3, 3\)"),
    (lambda: np.diag(leaf(2, 2, 2)), ValueError, r"diag: .*\(2, 2, 2\)"),
    (lambda: np.diagonal(leaf(3)), ValueError, r"diagonal: .*\(3,\)"),
    (lambda: ag.diagonal(leaf(3, 3), 0, 1, -1), ValueError, r"diagonal: axis1 and axis2 .*\(3, 3\)"),
    (lambda: np.trace(leaf(3)), ValueError, r"trace: .*\(3,\)"),
    (lambda: leaf(3, 3).trace(out=np.zeros(())), TypeError, "trace: out="),
    (lambda: np.tril(leaf()), ValueError, r"tril: .*\(\)"),
    (lambda: ag.select([np.ones(2, bool)], []), ValueError, "select: list of cases"),
    (lambda: np.select([np.ones(2)], [leaf(2)]), TypeError, "select: invalid entry 0"),
    (lambda: np.select([np.ones(2, bool)], [leaf(3)]), ValueError, r"select: .*\(2,\), \(3,\)"),
    (lambda: ag.linspace(0.0, 1.0, -1), ValueError, "linspace: number of samples"),
    (lambda: np.linspace(leaf(2), 1.0, 3, axis=2), ValueError, r"linspace: .*\(2,\)"),
]


@pytest.mark.parametrize(("call", "kind", "match"), ERRORS, ids=[m.split(":")[0] + f"-{i}" for i, (_, _, m) in
                                                                enumerate(ERRORS)])
def test_errors_name_the_op_and_shapes(call: Callable[[], Any], kind: type[Exception], match: str) -> None:
    with pytest.raises(kind, match=match):
        call()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(8)
@given(data=st.data())
def test_forward_mode_gradcheck(case: Case, data: st.DataObject) -> None:
    """The forward-mode column: each op's tangents against central differences."""
    xs, params = _draw(data, case)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradcheck(lambda *t: _combined(case.call(np, *t, **params)), ts,
                        check_forward_ad=True, check_backward_ad=False)

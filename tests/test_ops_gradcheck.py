"""Every op in one table: forward against NumPy, `gradcheck` and `gradgradcheck` over drawn inputs.

A row names the op, builds it from `autograd_core`, gives its NumPy reference, the
family of inputs it takes (drawn shapes, axes, indices ...) and the domain its values
must lie in (positive for `log`, away from kinks for `abs`, distinct values where ties
would make the derivative one-sided). `test_table_covers_every_op` fails when an op in
`autograd_core.ops.__all__` has no row and is not listed as non-differentiable.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd_core as ag
from autograd_core.testing import arrays, away_from, axes, broadcastable_shapes, distinct, indices, positive, shapes

Inputs = tuple[list[np.ndarray], dict[str, Any]]
F32 = np.float32


# ----------------------------------------------------------------- input domains
def _identity(xs: list[np.ndarray]) -> list[np.ndarray]:
    return xs




def first_positive(xs: list[np.ndarray]) -> list[np.ndarray]:
    return [np.abs(xs[0]) + 0.2, *xs[1:]]






# ----------------------------------------------------------------- input families
def _values(draw: st.DrawFn, *shape_list: tuple[int, ...]) -> list[np.ndarray]:
    return [draw(arrays(s)) for s in shape_list]


@st.composite
def unary(draw: st.DrawFn, side: int) -> Inputs:
    return _values(draw, draw(shapes(0, 3, 1, side))), {}


@st.composite
def binary(draw: st.DrawFn, side: int) -> Inputs:
    return _values(draw, *draw(broadcastable_shapes(2, 0, 3, 1, side))), {}


def _count(shape: tuple[int, ...], axis: Any) -> int:
    """How many elements each reduced value combines."""
    return int(np.ones(shape).sum(axis=axis, keepdims=True).flat[0])


@st.composite
def reduction(draw: st.DrawFn, side: int, ddof: bool = False, min_count: int = 1, keepdims: bool = True) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    params: dict[str, Any] = {"axis": draw(axes(len(shape)))}
    if keepdims:
        params["keepdims"] = draw(st.booleans())
    n = _count(shape, params["axis"])
    if ddof:
        params["ddof"] = draw(st.integers(0, 1))
        assume(n > params["ddof"])
    assume(n >= min_count)
    return _values(draw, shape), params


@st.composite
def softmax_axes(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    return _values(draw, shape), {"axis": draw(axes(len(shape)))}


@st.composite
def reshapes(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    size = int(np.prod(shape))
    rev = tuple(reversed(shape))
    new = draw(st.sampled_from([(-1,), rev, (1, *shape), (size, 1), rev[:-1] + (-1,) if rev else (1,)]))
    return _values(draw, shape), {"shape": new}


@st.composite
def transposes(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    perm = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    if perm and draw(st.booleans()):
        perm = tuple(a - len(shape) for a in perm)  # negative axes
    return _values(draw, shape), {"axes": perm}


@st.composite
def swaps(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    pick = st.integers(-len(shape), len(shape) - 1)
    return _values(draw, shape), {"axis1": draw(pick), "axis2": draw(pick)}


@st.composite
def squeezes(draw: st.DrawFn, side: int) -> Inputs:
    shape = list(draw(shapes(0, 2, 1, side)))
    for _ in range(draw(st.integers(0, 2))):
        shape.insert(draw(st.integers(0, len(shape))), 1)
    ones = [i - len(shape) * draw(st.booleans()) for i, n in enumerate(shape) if n == 1]
    axis = draw(st.none() | st.sampled_from(ones) | st.just(tuple(ones))) if ones else None
    return _values(draw, tuple(shape)), {"axis": axis}


@st.composite
def expansions(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    k = draw(st.integers(1, 2))
    out_ndim = len(shape) + k
    where = draw(st.lists(st.integers(-out_ndim, out_ndim - 1), min_size=k, max_size=k))
    assume(len({a % out_ndim for a in where}) == k)
    return _values(draw, shape), {"axis": where[0] if k == 1 and draw(st.booleans()) else tuple(where)}


@st.composite
def broadcasts(draw: st.DrawFn, side: int) -> Inputs:
    target = draw(shapes(0, 3, 1, side))
    keep_n = draw(st.integers(0, len(target)))
    shape = tuple(n if draw(st.booleans()) else 1 for n in target[len(target) - keep_n :])
    return _values(draw, shape), {"shape": target}


@st.composite
def getitems(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    return _values(draw, shape), {"index": draw(indices(shape))}


@st.composite
def index_puts(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    index = draw(indices(shape))  # repeated integer indices included: the last write wins
    target = np.zeros(shape)[index].shape
    value_shape = draw(st.sampled_from([target, target[1:], ()]))  # NumPy broadcasts the value
    return _values(draw, shape, value_shape), {"index": index}


def ref_index_put(x: np.ndarray, v: np.ndarray, index: Any) -> np.ndarray:
    out = x.copy()
    out[index] = v
    return out


@st.composite
def scatters(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 3, 1, side))
    index = draw(indices(shape))
    return _values(draw, np.zeros(shape)[index].shape), {"shape": shape, "index": index}


@st.composite
def wheres(draw: st.DrawFn, side: int) -> Inputs:
    cond, a, b = draw(broadcastable_shapes(3, 0, 3, 1, side))
    return _values(draw, a, b), {"cond": draw(arrays(cond, dtype=bool))}


@st.composite
def concatenations(draw: st.DrawFn, side: int) -> Inputs:
    shape = list(draw(shapes(1, 3, 1, side)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, side))
        pieces.append(tuple(shape))
    return _values(draw, *pieces), {"axis": axis}


@st.composite
def stacks(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(0, 2, 1, side))
    n = draw(st.integers(1, 3))
    return _values(draw, *[shape] * n), {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def splits(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    sections = draw(
        st.sampled_from([d for d in range(1, n + 1) if n % d == 0])
        | st.lists(st.integers(0, n), max_size=3).map(sorted)
    )
    return _values(draw, shape), {"sections": sections, "axis": axis}


@st.composite
def pads(draw: st.DrawFn, side: int) -> Inputs:
    shape = draw(shapes(1, 3, 1, side))
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    width = st.integers(0, 2)
    pad_width = draw(
        width
        | st.tuples(width, width)
        | st.tuples(*[st.tuples(width, width) for _ in shape])
    )
    params = {"pad_width": pad_width, "mode": mode}
    if mode == "constant":
        params["constant_values"] = draw(st.sampled_from([0, 1.5]))
    return _values(draw, shape), params


@st.composite
def matmuls(draw: st.DrawFn, side: int) -> Inputs:
    n, k, m = (draw(st.integers(1, side)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, 0, 2, 1, side))
    a = (k,) if draw(st.booleans()) else (*batch_a, n, k)
    b = (k,) if draw(st.booleans()) else (*batch_b, k, m)
    return _values(draw, a, b), {}


@st.composite
def dots(draw: st.DrawFn, side: int) -> Inputs:
    a_nd, b_nd = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    k, m = draw(st.integers(1, side)), draw(st.integers(1, side))
    lead = lambda nd: draw(shapes(nd, nd, 1, side))
    a = () if a_nd == 0 else (*lead(a_nd - 1), k)
    if b_nd == 0 or a_nd == 0:
        b = draw(shapes(0, 2, 1, side)) if a_nd == 0 else ()
    else:
        b = (k,) if b_nd == 1 else (*lead(b_nd - 2), k, m)
    return _values(draw, a, b), {}


@st.composite
def window_params(draw: st.DrawFn, side: int) -> tuple[tuple[int, ...], dict[str, Any]]:
    """An input shape (lead axes, then 1-2 spatial axes) and kernel/stride/dilation that fit it."""
    n = draw(st.integers(1, 2))
    shape = draw(shapes(0, 2, 1, 3)) + draw(shapes(n, n, 2, side + 2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    kernel = tuple(draw(st.integers(1, max(1, (size - 1) // d + 1))) for size, d in zip(shape[-n:], dilation))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(n))
    params = {"kernel": kernel, "stride": stride if draw(st.booleans()) else stride[0] if n == 1 else stride,
              "dilation": dilation}
    return shape, params


def window_source(shape: tuple[int, ...], kernel: Any, stride: Any, dilation: Any) -> np.ndarray:
    """Flat input positions read by each window element, shaped (..., *K, *O): the reference im2col."""
    n = len(kernel)
    as_n = lambda v: tuple(v) if isinstance(v, tuple) else (v,) * n
    stride, dilation = as_n(stride), as_n(dilation)
    picks = []
    for i, (size, k, s, d) in enumerate(zip(shape[-n:], kernel, stride, dilation)):
        out = (size - d * (k - 1) - 1) // s + 1
        idx = np.arange(k)[:, None] * d + np.arange(out)[None, :] * s  # (K_i, O_i)
        picks.append(idx.reshape([k if j == i else 1 for j in range(n)] + [out if j == i else 1 for j in range(n)]))
    return np.arange(int(np.prod(shape))).reshape(shape)[(Ellipsis, *picks)]


@st.composite
def windows(draw: st.DrawFn, side: int) -> Inputs:
    shape, params = draw(window_params(side))
    return _values(draw, shape), params


@st.composite
def folds(draw: st.DrawFn, side: int) -> Inputs:
    shape, params = draw(window_params(side))
    return _values(draw, window_source(shape, **params).shape), {"shape": shape, **params}


def ref_windows(x: np.ndarray, **params: Any) -> np.ndarray:
    return x.ravel()[window_source(x.shape, **params)]


def ref_fold(cols: np.ndarray, shape: tuple[int, ...], **params: Any) -> np.ndarray:
    source = window_source(shape, **params)
    return np.bincount(source.ravel(), weights=cols.ravel(), minlength=int(np.prod(shape))).reshape(shape)


EINSUM_SPECS = [
    "ij,jk->ik",  # matrix product
    "bij,bjk->bik",  # batched
    "ii->",  # trace
    "ii->i",  # diagonal
    "ij,jk",  # implicit output
    "ii",  # implicit trace
    "...ij,...jk->...ik",  # ellipsis, size-1 ellipsis axes broadcast
    "i...,i...->...",
    "ij,jk,kl->il",  # three operands
    "i,ij,j->",  # bilinear form
    "i,j->ij",  # outer
    "ij,ij->ij",  # size-1 labelled axes broadcast
    "ijk->kj",  # sum and permute
]


@st.composite
def einsums(draw: st.DrawFn, side: int) -> Inputs:
    spec = draw(st.sampled_from(EINSUM_SPECS))
    terms = spec.split("->")[0].split(",")
    sizes = {c: draw(st.integers(1, side)) for c in string.ascii_lowercase if c in spec}
    n_ell = sum("..." in t for t in terms)
    ell = iter(draw(broadcastable_shapes(n_ell, 0, 2, 1, side)) if n_ell else ())
    broadcast = spec == "ij,ij->ij"
    out = []
    for t in terms:
        head, _, tail = t.partition("...")
        shape = [sizes[c] for c in head] + (list(next(ell)) if "..." in t else []) + [sizes[c] for c in tail]
        if broadcast:
            shape = [1 if draw(st.booleans()) else n for n in shape]
        out.append(tuple(shape))
    return _values(draw, *out), {"spec": spec}


# ----------------------------------------------------------------- references
def ref_softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def ref_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.log(np.exp(x).sum(axis=axis, keepdims=keepdims))


def ref_scatter(g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
    """Each output element sums the g entries read from it: a bincount over source positions."""
    source = np.arange(int(np.prod(shape))).reshape(shape)[index]
    total = np.bincount(source.ravel(), weights=g.ravel(), minlength=int(np.prod(shape)))
    return total.reshape(shape).astype(g.dtype)


def ag_transpose(x: ag.Tensor, axes: Any) -> ag.Tensor:
    return x.transpose(*axes) if axes else x.T


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    name: str  # the op in autograd_core.ops.__all__ this row covers
    fn: Callable[..., Any]  # fn(*tensors, **params), built from autograd_core
    ref: Callable[..., Any]  # ref(*arrays, **params), plain NumPy
    family: Callable[[int], st.SearchStrategy[Inputs]]  # max side -> (arrays, params)
    domain: Callable[[list[np.ndarray]], list[np.ndarray]] = _identity
    gradgrad: bool = True
    eps: float = 1e-6
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")


def _unary(name: str, ref: Callable[..., Any], domain: Callable[..., Any] = _identity) -> Case:
    return Case(name, getattr(ag, name), ref, unary, domain)


def _binary(name: str, ref: Callable[..., Any], domain: Callable[..., Any] = _identity) -> Case:
    return Case(name, getattr(ag, name), ref, binary, domain)


def _reduce(name: str, **kw: Any) -> Case:
    family = lambda side: reduction(side, **kw)
    domain = distinct if name in ("max", "min", "std") else _identity
    return Case(name, getattr(ag, name), getattr(np, name), family, domain)


CASES = [
    _unary("negative", np.negative),
    _unary("exp", np.exp),
    _unary("expm1", np.expm1),
    _unary("log", np.log, positive),
    _unary("log1p", np.log1p, positive),
    _unary("sqrt", np.sqrt, positive),
    _unary("square", np.square),
    _unary("abs", np.abs, away_from(0.0)),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("tanh", np.tanh),
    _unary("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
    _unary("relu", lambda x: np.where(x > 0, x, 0.0), away_from(0.0)),
    Case("clip", lambda x: ag.clip(x, -1.0, 0.5), lambda x: np.clip(x, -1.0, 0.5), unary, away_from(-1.0, 0.5)),
    Case("clip", lambda x: x.clip(None, 0.5), lambda x: np.minimum(x, 0.5), unary, away_from(0.5), label="hi"),
    Case("clip", lambda x: x.clip(-1.0), lambda x: np.maximum(x, -1.0), unary, away_from(-1.0), label="lo"),
    Case("astype", lambda x: x.astype(F32), lambda x: x.astype(F32), unary, eps=1e-2, label="to32"),
    Case("astype", lambda x: ag.astype(x, F32).astype(np.float64), lambda x: x.astype(F32).astype(np.float64),
         unary, eps=1e-2, label="roundtrip"),
    _binary("add", np.add),
    _binary("subtract", np.subtract),
    _binary("multiply", np.multiply),
    _binary("divide", np.divide, away_from(0.0, gap=0.3, which=1)),
    _binary("power", np.power, first_positive),
    Case("power", lambda x: x**3, lambda x: x**3, unary, label="int-exponent"),
    Case("power", lambda x: 2.0**x, lambda x: 2.0**x, unary, label="scalar-base"),
    Case("power", lambda x: x**-1.5, lambda x: x**-1.5, unary, positive, label="neg-exponent"),
    _binary("maximum", np.maximum, distinct),
    _binary("minimum", np.minimum, distinct),
    _reduce("sum"),
    _reduce("mean"),
    _reduce("prod"),
    _reduce("max"),
    _reduce("min"),
    _reduce("var", ddof=True),
    _reduce("std", ddof=True, min_count=2),
    Case("softmax", ag.softmax, ref_softmax, softmax_axes),
    Case("log_softmax", ag.log_softmax, lambda x, axis: np.log(ref_softmax(x, axis)), softmax_axes),
    Case("logsumexp", ag.logsumexp, ref_logsumexp, reduction),
    Case("reshape", lambda x, shape: x.reshape(shape), np.reshape, reshapes),
    Case("reshape", lambda x, shape: ag.reshape(x, *shape), np.reshape, reshapes, label="varargs"),
    Case("flatten", ag.flatten, np.ravel, unary),
    Case("ravel", ag.ravel, np.ravel, unary),
    Case("transpose", ag_transpose, np.transpose, transposes),
    Case("swapaxes", ag.swapaxes, np.swapaxes, swaps),
    Case("squeeze", ag.squeeze, np.squeeze, squeezes),
    Case("expand_dims", ag.expand_dims, np.expand_dims, expansions),
    Case("broadcast_to", ag.broadcast_to, np.broadcast_to, broadcasts),
    Case("getitem", lambda x, index: x[index], lambda x, index: x[index], getitems),
    Case("scatter_add", ag.scatter_add, ref_scatter, scatters),
    Case("index_put", lambda x, v, index: ag.index_put(x, index, v), ref_index_put, index_puts),
    Case("where", lambda a, b, cond: ag.where(cond, a, b), lambda a, b, cond: np.where(cond, a, b), wheres),
    Case("concatenate", lambda *xs, axis: ag.concatenate(xs, axis=axis),
         lambda *xs, axis: np.concatenate(xs, axis=axis), concatenations),
    Case("stack", lambda *xs, axis: ag.stack(xs, axis=axis), lambda *xs, axis: np.stack(xs, axis=axis), stacks),
    Case("split", lambda x, sections, axis: ag.split(x, sections, axis=axis),
         lambda x, sections, axis: np.split(x, sections, axis=axis), splits),
    Case("pad", ag.pad, np.pad, pads),
    Case("matmul", ag.matmul, np.matmul, matmuls),
    Case("matmul", lambda a, b: a @ b, lambda a, b: a @ b, matmuls, label="operator"),
    Case("dot", ag.dot, np.dot, dots),
    Case("einsum", lambda *xs, spec: ag.einsum(spec, *xs), lambda *xs, spec: np.einsum(spec, *xs), einsums),
    Case("sliding_windows", ag.sliding_windows, ref_windows, windows),
    Case("fold", ag.fold, ref_fold, folds),
]

# Not differentiable on purpose: boolean, integer or piecewise-constant results.
NON_DIFFERENTIABLE = {
    "equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
    "greater": np.greater, "greater_equal": np.greater_equal, "logical_and": np.logical_and,
    "logical_or": np.logical_or, "logical_xor": np.logical_xor, "logical_not": np.logical_not,
    "sign": np.sign, "floor": np.floor, "ceil": np.ceil, "round": np.round, "isnan": np.isnan,
    "isinf": np.isinf, "isfinite": np.isfinite, "argmax": np.argmax, "argmin": np.argmin,
}
# Integer-only (bitwise) ops: tested against NumPy in tests/test_numpy_idioms.py.
INTEGER_ONLY = {"bitwise_and", "bitwise_or", "bitwise_xor", "invert"}


def test_table_covers_every_op() -> None:
    # The NumPy-coverage families (ag.ops._EXTENSIONS) keep their own tables and coverage tests.
    public = set(ag.ops.__all__) - {name for module in ag.ops._EXTENSIONS for name in module.__all__} - INTEGER_ONLY
    covered = {c.name for c in CASES}
    assert public - covered - set(NON_DIFFERENTIABLE) == set(), "ops with no gradient-check row"
    assert covered | set(NON_DIFFERENTIABLE) <= public, "rows for names that are not public ops"
    assert not covered & set(NON_DIFFERENTIABLE)


# ----------------------------------------------------------------- the checks
def _draw(data: st.DataObject, case: Case, side: int) -> tuple[list[np.ndarray], dict[str, Any]]:
    xs, params = data.draw(case.family(side), label="inputs")
    return case.domain(xs), params


def _outputs(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def examples(n: int) -> settings:
    """`n` examples under the "ci" profile; a quarter of the profile's count under "long"."""
    return settings(max_examples=max(n, settings.default.max_examples // 4))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(25)
@given(data=st.data())
def test_forward_and_gradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=4)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    got, want = _outputs(case.fn(*ts, **params)), _outputs(case.ref(*xs, **params))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert isinstance(g, ag.Tensor) and g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(lambda *t: case.fn(*t, **params), ts, eps=case.eps)


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=lambda c: c.id)
@examples(10)
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    with warnings.catch_warnings():
        # astype to float32 makes float32 cotangents; the row's eps is sized for that
        warnings.filterwarnings("ignore", "gradcheck: .* is not float64", UserWarning)
        assert ag.gradgradcheck(lambda *t: case.fn(*t, **params), ts, eps=case.eps)


@pytest.mark.parametrize("case", [c for c in CASES if c.name != "astype"], ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x.astype(F32), requires_grad=True) for x in xs]
    outs = _outputs(case.fn(*ts, **params))
    assert all(o.dtype == F32 for o in outs)
    total = sum((o.sum() for o in outs), ag.Tensor(np.float32(0)))
    if total.requires_grad:  # e.g. a split into empty pieces only leaves nothing to differentiate
        total.backward()
    for t in ts:
        assert t.grad is None or (t.grad.dtype == F32 and t.grad.shape == t.shape)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_ops_match_numpy_and_record_nothing(name: str) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)) * 2, rng.standard_normal((1, 4)) * 2
    a[0, 0], a[1, 1] = np.nan, np.inf
    fn, ref = getattr(ag, name), NON_DIFFERENTIABLE[name]
    x, y = ag.Tensor(a, requires_grad=True), ag.Tensor(b, requires_grad=True)
    binary_op = name.startswith(("equal", "not_", "less", "greater", "logical_")) and name != "logical_not"
    with np.errstate(invalid="ignore"):
        got = fn(x, y) if binary_op else fn(x)
        want = ref(a, b) if binary_op else ref(a)
    assert not got.requires_grad and got.is_leaf
    np.testing.assert_array_equal(got.data, want)


# ----------------------------------------------------------------- explicit cases the draws may miss
def _grad(fn: Callable[[ag.Tensor], ag.Tensor], values: Any) -> np.ndarray:
    x = ag.Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad


def test_max_min_ties_share_the_gradient_equally() -> None:
    np.testing.assert_array_equal(_grad(lambda x: x.max(), [1.0, 3.0, 3.0]), [0, 0.5, 0.5])
    np.testing.assert_array_equal(_grad(lambda x: x.min(), [2.0, 2.0, 2.0, 5.0]), [1 / 3, 1 / 3, 1 / 3, 0])
    rows = [[1.0, 4.0, 4.0, 4.0], [2.0, 0.0, 2.0, 1.0]]
    np.testing.assert_allclose(_grad(lambda x: x.max(axis=-1), rows), [[0, 1 / 3, 1 / 3, 1 / 3], [0.5, 0, 0.5, 0]])
    cols = [[1.0, 4.0, 2.0], [2.0, 0.0, 2.0]]
    np.testing.assert_array_equal(_grad(lambda x: x.min(axis=0, keepdims=True), cols), [[1, 0, 0.5], [0, 1, 0.5]])


def test_maximum_minimum_ties_give_half_to_each_side() -> None:
    a = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = ag.Tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    (ag.maximum(a, b).sum() + 10 * ag.minimum(a, b).sum()).backward()
    np.testing.assert_array_equal(a.grad, [5.5, 10, 1])
    np.testing.assert_array_equal(b.grad, [5.5, 1, 10])


@pytest.mark.parametrize(
    ("values", "expected"),
    [([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]), ([0.0, 4.0, 0.0], [0.0, 0.0, 0.0]), ([0.0], [1.0])],
    ids=["one-zero", "two-zeros", "lone-zero"],
)
def test_prod_with_zeros(values: list[float], expected: list[float]) -> None:
    np.testing.assert_array_equal(_grad(lambda x: x.prod(), values), expected)
    x = ag.Tensor(np.array(values), requires_grad=True)
    assert ag.gradcheck(ag.prod, [x]) and ag.gradgradcheck(ag.prod, [x])
    m = ag.Tensor(np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, 3.0]]), requires_grad=True)
    assert ag.gradgradcheck(lambda m: m.prod(axis=1), [m]) and ag.gradgradcheck(lambda m: m.prod(axis=0), [m])


def test_repeated_integer_indices_accumulate() -> None:
    np.testing.assert_array_equal(_grad(lambda x: x[[0, 2, 0, 0, -1]], [1.0, 2.0, 3.0]), [3, 0, 2])
    idx = np.array([[1, 1], [0, 1]])
    np.testing.assert_array_equal(_grad(lambda x: x[idx, idx], np.ones((2, 2))), [[1, 0], [0, 3]])
    np.testing.assert_array_equal(_grad(lambda x: x[:, [2, 2]], np.ones((2, 3))), [[0, 0, 2], [0, 0, 2]])


def test_boolean_mask_gradient_lands_on_selected_elements() -> None:
    mask = np.array([[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(_grad(lambda x: 2 * x[mask], np.zeros((2, 3))), 2 * mask)
    np.testing.assert_array_equal(_grad(lambda x: x[ag.Tensor(mask[0])], np.zeros(3)), mask[0])


def test_matmul_one_dimensional_operands_and_batch_broadcasting() -> None:
    rng = np.random.default_rng(1)
    for sa, sb, out in [((3,), (3,), ()), ((3,), (2, 3, 4), (2, 4)), ((2, 1, 4, 3), (3,), (2, 1, 4)),
                        ((2, 1, 4, 3), (5, 3, 2), (2, 5, 4, 2))]:
        a = ag.Tensor(rng.standard_normal(sa), requires_grad=True)
        b = ag.Tensor(rng.standard_normal(sb), requires_grad=True)
        assert (a @ b).shape == out
        assert ag.gradcheck(ag.matmul, [a, b]) and ag.gradgradcheck(ag.matmul, [a, b])


def test_astype_between_float_types_is_differentiable_both_ways() -> None:
    x = ag.Tensor(np.array([1.5, -2.0], dtype=F32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == F32
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])
    z = ag.Tensor(np.array([0.25]), requires_grad=True)
    w = z.astype(F32)
    (w * 4).sum().backward()
    assert w.dtype == F32 and z.grad.dtype == np.float64 and z.grad[0] == 4
    assert not ag.astype(z, np.int64).requires_grad


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_var_std_ddof_match_numpy_and_gradcheck(ddof: int) -> None:
    x = ag.Tensor(np.random.default_rng(ddof).standard_normal((3, 4)), requires_grad=True)
    for name in ("var", "std"):
        got = getattr(x, name)(axis=1, ddof=ddof, keepdims=True)
        np.testing.assert_allclose(got.data, getattr(np, name)(x.data, axis=1, ddof=ddof, keepdims=True), rtol=1e-12)
        assert ag.gradcheck(lambda t: getattr(t, name)(axis=(0, 1), ddof=ddof), [x])
        assert ag.gradgradcheck(lambda t: getattr(t, name)(axis=-1, ddof=ddof), [x])


def test_std_of_constant_slice_has_zero_gradient_like_pytorch() -> None:
    x = ag.Tensor(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    x.std(axis=1).sum().backward()  # RuntimeWarnings are errors here: 0/0 must not happen
    np.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
    assert np.isfinite(x.grad).all() and np.abs(x.grad[1]).sum() > 0


# ----------------------------------------------------------------- forward mode
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(15)
@given(data=st.data())
def test_forward_mode_gradcheck(case: Case, data: st.DataObject) -> None:
    """Every op's jvp against central differences, as its vjp is checked above."""
    xs, params = _draw(data, case, side=3)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "gradcheck: .* is not float64", UserWarning)
        assert ag.gradcheck(lambda *t: case.fn(*t, **params), ts, eps=case.eps,
                            check_forward_ad=True, check_backward_ad=False)


@pytest.mark.parametrize("case", [c for c in CASES if c.gradgrad], ids=lambda c: c.id)
@examples(8)
@given(data=st.data())
def test_forward_over_reverse_equals_reverse_over_reverse(case: Case, data: st.DataObject) -> None:
    """Hessian-vector products both ways: tangents through the backward pass, and double backward."""
    xs, params = _draw(data, case, side=3)
    rng = np.random.default_rng(0)
    outs = _outputs(case.fn(*[ag.Tensor(x) for x in xs], **params))
    weights = [rng.standard_normal(o.shape) for o in outs]
    directions = [rng.standard_normal(x.shape) for x in xs]

    def loss(*ts: ag.Tensor) -> ag.Tensor:
        return sum(((o * w).sum() for o, w in zip(_outputs(case.fn(*ts, **params)), weights)), ag.Tensor(0.0))

    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    total = loss(*ts)
    if not total.requires_grad:
        return
    grads = ag.grad(total, ts, create_graph=True, allow_unused=True)
    inner = sum(((g * v).sum() for g, v in zip(grads, directions) if g is not None), ag.Tensor(0.0))
    expected = ag.grad(inner, ts, allow_unused=True) if inner.requires_grad else [None] * len(ts)

    with ag.forward_ad.dual_level():
        leaves = [ag.Tensor(x, requires_grad=True) for x in xs]
        duals = [ag.forward_ad.make_dual(t, v) for t, v in zip(leaves, directions)]
        got = ag.grad(loss(*duals), duals, allow_unused=True)
        tangents = [None if g is None else ag.forward_ad.unpack_dual(g).tangent for g in got]
    for want, have, x in zip(expected, tangents, xs):
        want_data = np.zeros(x.shape) if want is None else want.data
        have_data = np.zeros(x.shape) if have is None else have.data
        np.testing.assert_allclose(have_data, want_data, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_forward_mode_on_arrays_equals_forward_mode_on_tensors(case: Case, data: st.DataObject) -> None:
    """With nothing to record (no_grad), tangents take the array fast path; it must agree exactly."""
    xs, params = _draw(data, case, side=3)
    rng = np.random.default_rng(1)
    directions = [rng.standard_normal(x.shape) for x in xs]

    def tangents(recorded: bool) -> list[Any]:
        with ag.forward_ad.dual_level():
            duals = [ag.forward_ad.make_dual(ag.Tensor(x, requires_grad=recorded), v) for x, v in zip(xs, directions)]
            if recorded:
                outs = _outputs(case.fn(*duals, **params))
            else:
                with ag.no_grad():
                    outs = _outputs(case.fn(*duals, **params))
            return [ag.forward_ad.unpack_dual(o).tangent for o in outs]

    for fast, slow in zip(tangents(False), tangents(True)):
        assert (fast is None) == (slow is None)
        if fast is not None:
            np.testing.assert_allclose(fast.data, slow.data, rtol=1e-12, atol=1e-12)

"""`ag.linalg` (and `np.linalg.NAME(tensor)`) against NumPy, finite differences and PyTorch.

One table of cases drives the forward, `gradcheck`, `gradgradcheck` and float32 checks.
Hypothesis draws batch shapes, sizes, arguments and a seed; the seed builds matrices
that are well conditioned with distinct eigen/singular values (built from their
factors), SPD where needed, and noisy in the triangle that `eigh`/`cholesky` do not
read (so the triangle-restricted gradient is exercised). Each case's `view` turns the
outputs into gauge-invariant quantities (sign-fixed vectors, projectors onto the extra
columns of complete bases), since only those have derivatives.
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
from autograd_core.ops import decompositions
from autograd_core.testing import broadcastable_shapes, shapes

LinAlgError = np.linalg.LinAlgError
Inputs = tuple[list[np.ndarray], dict[str, Any]]


# ----------------------------------------------------------------- matrices
def _orth(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _stack(batch: tuple[int, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
    items = [make() for _ in range(int(np.prod(batch)))]
    return np.array(items).reshape(batch + items[0].shape)


def _gaps(rng: np.random.Generator, k: int, start: float) -> np.ndarray:
    """k values, start and up, at least 0.4 apart (descending)."""
    return (start + np.cumsum(0.4 + 0.3 * rng.random(k)))[::-1]


def general(rng: np.random.Generator, batch: tuple[int, ...], n: int) -> np.ndarray:
    """Random + n*I, rows flipped at random so determinants take both signs."""
    a = rng.standard_normal(batch + (n, n)) + (n + 1) * np.eye(n)
    return a * rng.choice([-1.0, 1.0], batch + (n, 1))


def singular_values(rng: np.random.Generator, batch: tuple[int, ...], m: int, n: int) -> np.ndarray:
    """U diag(s) V^T with distinct s in about [1, 3]."""
    k = min(m, n)
    return _stack(batch, lambda: (_orth(rng, m)[:, :k] * _gaps(rng, k, 0.6)) @ _orth(rng, n)[:, :k].T)


def symmetric(rng: np.random.Generator, batch: tuple[int, ...], n: int, lower: bool = True,
              spd: bool = False) -> np.ndarray:
    """V diag(w) V^T with distinct w of both signs (|w| distinct too), noise in the unread triangle."""

    def one() -> np.ndarray:
        w = _gaps(rng, n, 0.6) * (1 if spd else rng.choice([-1.0, 1.0], n))
        v = _orth(rng, n)
        return (v * w) @ v.T

    s = _stack(batch, one)
    unread = np.triu(np.ones((n, n)), 1) if lower else np.tril(np.ones((n, n)), -1)
    return s + unread * rng.standard_normal(s.shape)


def _val(x: Any) -> np.ndarray:
    return x.data if isinstance(x, ag.Tensor) else np.asarray(x)


# ----------------------------------------------------------------- gauge-invariant views
def _mT(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def _signs(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, -1, 1).astype(x.dtype)


def _column_signs(v: np.ndarray) -> np.ndarray:
    """Per column, the sign of its largest-magnitude entry (as scikit-learn's svd_flip): a
    smooth choice, since that entry is far from 0. The first entry could be near 0, and a
    finite-difference step would then flip the column."""
    largest = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    return _signs(largest)


def _sign_fixed(v: Any) -> Any:
    """Columns made to have a positive largest-magnitude entry."""
    return v * _column_signs(_val(v))


def _projector(q: Any) -> Any:
    return q @ _mT(q)


def eigh_view(r: Any) -> tuple[Any, ...]:
    return r[0], _sign_fixed(r[1])


def svd_view(r: Any) -> tuple[Any, ...]:
    u, s, vh = r
    k = s.shape[-1]
    sign = _column_signs(_val(u)[..., :, :k])
    out = [u[..., :, :k] * sign, s, vh[..., :k, :] * _mT(sign)]
    if u.shape[-1] > k:
        out.append(_projector(u[..., :, k:]))
    if vh.shape[-2] > k:
        out.append(_projector(_mT(vh[..., k:, :])))
    return tuple(out)


def qr_view(r: Any) -> tuple[Any, ...]:
    q, rr = r
    k = min(q.shape[-2], rr.shape[-1])
    if q.shape[-1] > k:  # complete with m > n
        return q[..., :, :k], rr, _projector(q[..., :, k:])
    return q, rr


def _as_tuple(r: Any) -> tuple[Any, ...]:
    return tuple(r) if isinstance(r, tuple) else (r,)


# ----------------------------------------------------------------- input families
def _rng(draw: st.DrawFn) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))


def _side(draw: st.DrawFn, small: bool) -> int:
    return draw(st.integers(1, 3 if small else 4))


def _batch(draw: st.DrawFn, small: bool) -> tuple[int, ...]:
    return draw(shapes(0, 1 if small else 2, 1, 2), label="batch")


@st.composite
def squares(draw: st.DrawFn, small: bool) -> Inputs:
    n = _side(draw, small)
    return [general(_rng(draw), _batch(draw, small), n)], {}


@st.composite
def solves(draw: st.DrawFn, small: bool, vector: bool) -> Inputs:
    rng, n = _rng(draw), _side(draw, small)
    ba, bb = draw(broadcastable_shapes(2, 0, 1 if small else 2, 1, 2))
    b = (n,) if vector else bb + (n, draw(st.integers(1, 2)))
    return [general(rng, ba, n), rng.standard_normal(b)], {}


@st.composite
def rectangles(draw: st.DrawFn, small: bool, **options: st.SearchStrategy[Any]) -> Inputs:
    m, n = _side(draw, small), _side(draw, small)
    params = {key: draw(s, label=key) for key, s in options.items()}
    return [singular_values(_rng(draw), _batch(draw, small), m, n)], params


@st.composite
def symmetrics(draw: st.DrawFn, small: bool, key: str | None = None, spd: bool = False) -> Inputs:
    n = _side(draw, small)
    params: dict[str, Any] = {}
    lower = True
    if key == "UPLO":
        params["UPLO"] = draw(st.sampled_from(["L", "U", "l"]))
        lower = params["UPLO"] != "U"
    elif key == "upper":
        params["upper"] = draw(st.booleans())
        lower = not params["upper"]
    return [symmetric(_rng(draw), _batch(draw, small), n, lower, spd)], params


@st.composite
def vector_norms(draw: st.DrawFn, small: bool) -> Inputs:
    rng = _rng(draw)
    shape = draw(shapes(1, 2 if small else 3, 1, 3))
    x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    ords = [None, 2, 1, np.inf, -np.inf, 0, 3, 1.5, 0.5, -1]
    params = {"ord": draw(st.sampled_from(ords)), "axis": draw(st.integers(-len(shape), len(shape) - 1)),
              "keepdims": draw(st.booleans())}
    return [x], params


@st.composite
def matrix_norms(draw: st.DrawFn, small: bool) -> Inputs:
    rng = _rng(draw)
    batch = _batch(draw, small)
    m, n = _side(draw, small), _side(draw, small)
    nd = len(batch) + 2
    row, col = draw(st.permutations(range(nd)))[:2]
    x = np.moveaxis(singular_values(rng, batch, m, n), (-2, -1), (row, col))
    if draw(st.booleans()):
        row, col = row - nd, col  # negative axes
    params = {"ord": draw(st.sampled_from(["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf, None])),
              "axis": (row, col), "keepdims": draw(st.booleans())}
    return [x], params


@st.composite
def default_norms(draw: st.DrawFn, small: bool) -> Inputs:
    shape = draw(shapes(0, 2 if small else 3, 1, 3))
    x = _rng(draw).standard_normal(shape)
    params: dict[str, Any] = {"keepdims": draw(st.booleans())}
    if len(shape) == 2 and draw(st.booleans()):
        params["ord"] = draw(st.sampled_from(["fro", "f", 2, 1, "nuc", np.inf]))
        x = singular_values(_rng(draw), (), *shape)
    elif len(shape) == 1 and draw(st.booleans()):
        params["ord"] = draw(st.sampled_from([2, 1, np.inf, 3]))
    return [x], params


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    name: str  # the op in decompositions.__all__
    run: Callable[..., Any]  # run(la, *inputs, **params) with la = ag.linalg or np.linalg
    family: Callable[[bool], st.SearchStrategy[Inputs]]  # small -> (arrays, params)
    view: Callable[[Any], tuple[Any, ...]] = _as_tuple  # gauge-invariant outputs for the gradient checks
    label: str = ""

    @property
    def id(self) -> str:
        return self.name + (f"-{self.label}" if self.label else "")


def _rect(**options: Any) -> Callable[[bool], st.SearchStrategy[Inputs]]:
    return lambda small: rectangles(small, **options)


CASES = [
    Case("inv", lambda la, a: la.inv(a), squares),
    Case("solve", lambda la, a, b: la.solve(a, b), lambda small: solves(small, True), label="vector"),
    Case("solve", lambda la, a, b: la.solve(a, b), lambda small: solves(small, False), label="matrix"),
    Case("det", lambda la, a: la.det(a), squares),
    Case("slogdet", lambda la, a: la.slogdet(a), squares),
    Case("norm", lambda la, x, **p: la.norm(x, **p), vector_norms, label="vector"),
    Case("norm", lambda la, x, **p: la.norm(x, **p), matrix_norms, label="matrix"),
    Case("norm", lambda la, x, **p: la.norm(x, **p), default_norms, label="default-axis"),
    Case("pinv", lambda la, a, **p: la.pinv(a, **p), _rect(rcond=st.sampled_from([None, 1e-10]))),
    Case("pinv", lambda la, a, **p: la.pinv(a, **p), _rect(rtol=st.sampled_from([None, 1e-8])), label="rtol"),
    Case("pinv", lambda la, a: la.pinv(a, hermitian=True), lambda small: symmetrics(small), label="hermitian"),
    Case("eigh", lambda la, a, **p: la.eigh(a, **p), lambda small: symmetrics(small, "UPLO"), eigh_view),
    Case("svd", lambda la, a, **p: la.svd(a, **p), _rect(full_matrices=st.booleans()), svd_view),
    Case("svd", lambda la, a: la.svd(a, compute_uv=False), _rect(), label="values"),
    Case("svd", lambda la, a: la.svd(a, hermitian=True), lambda small: symmetrics(small), svd_view, "hermitian"),
    Case("svd", lambda la, a: la.svd(a, compute_uv=False, hermitian=True), lambda small: symmetrics(small),
         label="hermitian-values"),
    Case("cholesky", lambda la, a, **p: la.cholesky(a, **p), lambda small: symmetrics(small, "upper", spd=True)),
    Case("qr", lambda la, a, **p: la.qr(a, **p), _rect(mode=st.sampled_from(["reduced", "complete"])), qr_view),
    Case("qr", lambda la, a: la.qr(a, mode="r"), _rect(), label="r"),
]


def test_every_op_has_a_gradient_case() -> None:
    assert {c.name for c in CASES} == set(decompositions.__all__)
    for name in decompositions.__all__:
        assert decompositions.NUMPY_RULES[getattr(np.linalg, name)] is getattr(ag.linalg, name)
        assert name not in ag.ops.__all__  # reached as ag.linalg.NAME, not at the top level


def examples(n: int) -> settings:
    return settings(max_examples=max(n, settings.default.max_examples // 4))


def _draw(data: st.DataObject, case: Case, small: bool) -> Inputs:
    return data.draw(case.family(small), label="inputs")


def _check_like(got: Any, want: Any) -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        assert getattr(got, "_fields", None) == getattr(want, "_fields", None)
        assert type(got).__name__ == type(want).__name__
        for g, w in zip(got, want):
            _check_like(g, w)
        return
    w = np.asarray(want)
    assert isinstance(got, ag.Tensor) and got.shape == w.shape and got.dtype == w.dtype, (got, w)
    np.testing.assert_allclose(got.data, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(25)
@given(data=st.data())
def test_forward_matches_numpy_and_gradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, small=False)
    want = case.run(np.linalg, *xs, **params)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    for la in (ag.linalg, np.linalg):  # np.linalg.NAME(tensor) dispatches to ag.linalg.NAME
        _check_like(case.run(la, *ts, **params), want)
    with ag.no_grad():
        _check_like(case.run(ag.linalg, *ts, **params), want)
    assert ag.gradcheck(lambda *t: case.view(case.run(ag.linalg, *t, **params)), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(10)
@given(data=st.data())
def test_gradgradcheck(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, small=True)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradgradcheck(lambda *t: case.view(case.run(ag.linalg, *t, **params)), ts)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(5)
@given(data=st.data())
def test_float32_stays_float32(case: Case, data: st.DataObject) -> None:
    xs, params = _draw(data, case, small=True)
    ts = [ag.Tensor(x.astype(np.float32), requires_grad=True) for x in xs]
    outs = case.view(case.run(ag.linalg, *ts, **params))
    assert all(o.dtype == np.float32 for o in outs)
    total = sum((o.sum() for o in outs if o.requires_grad), ag.Tensor(np.float32(0)))
    total.backward()
    for t in ts:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape and np.isfinite(t.grad).all()


# ----------------------------------------------------------------- points where care is needed
@pytest.mark.parametrize("ord", [None, 2, "fro"])
def test_two_norm_gradient_at_zero_is_zero(ord: Any) -> None:
    for shape, axis in [((3,), None), ((2, 3), -1), ((2, 2), (0, 1))]:
        if (ord == "fro") != (axis == (0, 1)) and ord is not None:  # ord=2 on a matrix is the spectral norm
            continue
        x = ag.Tensor(np.zeros(shape), requires_grad=True)
        ag.linalg.norm(x, ord, axis).sum().backward()
        np.testing.assert_array_equal(x.grad, 0.0)
    (g,) = ag.grad(ag.linalg.norm(x), [x], create_graph=True)
    assert np.isfinite(g.data).all()


def _cofactors(a: np.ndarray) -> np.ndarray:
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, -2), j, -1)
            out[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix() -> None:
    a = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 5.0]], np.zeros((3, 3)),
                  [[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]]])
    a[1, 0, 0] = 1.0  # rank 1
    t = ag.Tensor(a, requires_grad=True)
    ag.linalg.det(t).sum().backward()
    np.testing.assert_allclose(t.grad, _cofactors(a), atol=1e-12)


def test_spectrum_alone_is_differentiable_at_repeated_values() -> None:
    q = _orth(np.random.default_rng(0), 3)
    t = ag.Tensor(q, requires_grad=True)  # singular values all 1
    ag.linalg.svd(t, compute_uv=False).sum().backward()
    np.testing.assert_allclose(t.grad, q, atol=1e-12)  # d(nuclear norm) = U V^T = Q
    s = ag.Tensor(2 * np.eye(3), requires_grad=True)  # eigenvalues all 2
    w = ag.linalg.eigh(s).eigenvalues
    (w * np.arange(1.0, 4.0)).sum().backward()
    assert np.isfinite(s.grad).all()
    np.testing.assert_allclose(np.trace(s.grad), 6.0)


def test_results_are_numpy_structures_of_tensors() -> None:
    a = ag.Tensor(symmetric(np.random.default_rng(1), (), 3, spd=True), requires_grad=True)
    w, v = np.linalg.eigh(a)
    r = ag.linalg.eigh(a)
    assert r.eigenvalues is r[0] and r.eigenvectors is r[1] and w.requires_grad and v.op is not None
    u, s, vh = ag.linalg.svd(a)
    assert ag.linalg.svd(a).S.shape == s.shape and ag.linalg.qr(a).R.shape == (3, 3)
    assert ag.linalg.slogdet(a).logabsdet.requires_grad and not ag.linalg.slogdet(a).sign.requires_grad
    assert isinstance(ag.linalg.svd(a, compute_uv=False), ag.Tensor)
    assert isinstance(ag.linalg.qr(a, mode="r"), ag.Tensor)


# ----------------------------------------------------------------- errors
def test_errors_name_the_op_and_keep_numpys_types() -> None:
    sq = ag.Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(LinAlgError, match=r"^inv: .*square"):
        ag.linalg.inv(ag.Tensor(np.ones((2, 3))))
    with pytest.raises(LinAlgError, match="^inv: Singular matrix"):
        ag.linalg.inv(sq)
    with pytest.raises(LinAlgError, match="^inv: Singular matrix"):
        np.linalg.inv(sq)
    with pytest.raises(LinAlgError, match="^solve: Singular matrix"):
        ag.linalg.solve(sq, np.ones(2))
    with pytest.raises(ValueError, match="^solve: "):
        ag.linalg.solve(np.eye(2), ag.Tensor(np.ones(3)))
    with pytest.raises(LinAlgError, match="^cholesky: Matrix is not positive definite"):
        ag.linalg.cholesky(-ag.Tensor(np.eye(2)))
    with pytest.raises(LinAlgError, match="^svd: 1-dimensional"):
        ag.linalg.svd(ag.Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="^norm: Invalid norm order for matrices"):
        ag.linalg.norm(sq, "bad")
    with pytest.raises(ValueError, match="^norm: Invalid norm order 'fro' for vectors"):
        ag.linalg.norm(sq, "fro", axis=0)
    with pytest.raises(ValueError, match="^norm: Improper number of dimensions"):
        ag.linalg.norm(ag.Tensor(np.ones((2, 2, 2))), 2)
    with pytest.raises(ValueError, match="^norm: Duplicate axes"):
        ag.linalg.norm(sq, axis=(0, -2))
    with pytest.raises(ValueError, match="^eigh: "):
        ag.linalg.eigh(sq, "X")
    with pytest.raises(ValueError, match="^qr: mode 'raw' is not differentiable"):
        ag.linalg.qr(sq, mode="raw")
    h, tau = ag.linalg.qr(sq.detach(), mode="raw")  # without a gradient it is NumPy's
    np.testing.assert_array_equal(h.data, np.linalg.qr(np.ones((2, 2)), mode="raw")[0])


def test_slogdet_of_a_singular_matrix_is_numpys() -> None:
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    sign, logabsdet = ag.linalg.slogdet(ag.Tensor(a, requires_grad=True))
    assert (sign.item(), logabsdet.item()) == tuple(np.linalg.slogdet(a))


# ----------------------------------------------------------------- PyTorch parity
def _torch_parity(ag_fn: Callable[..., Any], torch_fn: Callable[..., Any], xs: list[np.ndarray],
                  second_order: bool = True) -> None:
    """Gradient (and a Hessian-vector product) of sum(W * fn(xs)) agree with PyTorch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    ps = [torch.tensor(x, requires_grad=True) for x in xs]
    out_a, out_p = _as_tuple(ag_fn(*ts)), _as_tuple(torch_fn(*ps))
    weights = [rng.standard_normal(o.shape) for o in out_a]
    loss_a = sum(((o * w).sum() for o, w in zip(out_a, weights)), ag.Tensor(0.0, dtype=np.float64))
    loss_p = sum((o * torch.tensor(w)).sum() for o, w in zip(out_p, weights))
    for o, p in zip(out_a, out_p):
        np.testing.assert_allclose(o.data, p.detach().numpy(), rtol=1e-8, atol=1e-10)
    grads_a = ag.grad(loss_a, ts, create_graph=second_order)
    grads_p = torch.autograd.grad(loss_p, ps, create_graph=second_order)
    for g, p in zip(grads_a, grads_p):
        np.testing.assert_allclose(g.data, p.detach().numpy(), rtol=1e-7, atol=1e-9)
    if second_order:
        dirs = [rng.standard_normal(x.shape) for x in xs]
        hv_a = ag.grad(sum((g * d).sum() for g, d in zip(grads_a, dirs)), ts, allow_unused=True)
        hv_p = torch.autograd.grad(sum((g * torch.tensor(d)).sum() for g, d in zip(grads_p, dirs)), ps,
                                   allow_unused=True)
        for g, p in zip(hv_a, hv_p):
            np.testing.assert_allclose(g.data, p.numpy(), rtol=1e-6, atol=1e-8)


def _sym(x: Any) -> Any:
    return x + _mT(x)


RNG = np.random.default_rng(11)
SQ = general(RNG, (2,), 3)
TALL = singular_values(RNG, (2,), 4, 3)
SPD = symmetric(RNG, (2,), 3, spd=True)


@pytest.mark.parametrize(
    "name",
    ["inv", "det", "slogdet", "solve", "cholesky", "eigh", "svd", "svdvals", "qr", "pinv", "norm-nuc", "norm-2",
     "norm-p"],
)
def test_gradients_match_pytorch(name: str) -> None:
    torch = pytest.importorskip("torch")
    tla = torch.linalg
    la = ag.linalg
    b = np.random.default_rng(3).standard_normal((2, 3, 2))
    sym_spd = lambda x: _sym(x) + 6 * np.eye(3)  # noqa: E731
    table: dict[str, tuple[Any, Any, list[np.ndarray]]] = {
        "inv": (la.inv, tla.inv, [SQ]),
        "det": (la.det, tla.det, [SQ]),
        "slogdet": (lambda a: la.slogdet(a)[1], lambda a: tla.slogdet(a)[1], [SQ]),
        "solve": (la.solve, tla.solve, [SQ, b]),
        "cholesky": (lambda a: la.cholesky(sym_spd(a)), lambda a: tla.cholesky(_sym(a) + 6 * torch.eye(3)), [SPD]),
        "eigh": (lambda a: (lambda w, v: (w, v * v))(*la.eigh(_sym(a))),
                 lambda a: (lambda w, v: (w, v * v))(*tla.eigh(_sym(a))), [SQ]),
        "svd": (lambda a: (lambda u, s, vh: (u * u, s, vh * vh))(*la.svd(a, full_matrices=False)),
                lambda a: (lambda u, s, vh: (u * u, s, vh * vh))(*tla.svd(a, full_matrices=False)), [TALL]),
        "svdvals": (lambda a: la.svd(a, compute_uv=False), tla.svdvals, [TALL]),
        "qr": (lambda a: tuple(la.qr(a)), lambda a: tuple(tla.qr(a)), [TALL]),
        "pinv": (la.pinv, tla.pinv, [TALL]),
        "norm-nuc": (lambda a: la.norm(a, "nuc", axis=(-2, -1)), lambda a: tla.matrix_norm(a, "nuc"), [TALL]),
        "norm-2": (lambda a: la.norm(a, 2, axis=(1, 2)), lambda a: tla.matrix_norm(a, 2), [TALL]),
        "norm-p": (lambda a: la.norm(a, 3, axis=-1), lambda a: tla.vector_norm(a, 3, dim=-1), [TALL]),
    }
    ag_fn, torch_fn, xs = table[name]
    _torch_parity(ag_fn, torch_fn, xs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@examples(8)
@given(data=st.data())
def test_forward_mode_gradcheck(case: Case, data: st.DataObject) -> None:
    """The forward-mode column: each op's tangents against central differences."""
    xs, params = _draw(data, case, small=True)
    ts = [ag.Tensor(x, requires_grad=True) for x in xs]
    assert ag.gradcheck(lambda *t: case.view(case.run(ag.linalg, *t, **params)), ts,
                        check_forward_ad=True, check_backward_ad=False)

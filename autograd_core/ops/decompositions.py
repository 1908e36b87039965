"""`ag.linalg`: NumPy's `np.linalg` on Tensors, differentiable to first and second order.

`inv, solve, det, slogdet, norm, pinv, eigh, svd, cholesky, qr` take real inputs,
batch over leading axes, take NumPy's arguments and return NumPy 2's structures
(`EighResult`, `SVDResult`, `QRResult`, `SlogdetResult` with NumPy's field names).
They are reached as `ag.linalg.NAME(x)` and as `np.linalg.NAME(x)` on a Tensor.

How gradients are built
-----------------------
Single-output ops record one node whose vjp (in `_decomp_rules`) is written with
NumPy functions that dispatch to Tensor ops, among them `np.linalg.solve`, which on
Tensors is `solve` here. Under `create_graph=True` the engine hands the vjp Tensors,
so the gradient is itself a graph and second derivatives come for free.

A decomposition with several outputs (`eigh`, `svd`, `qr`) records ONE node whose
value packs all outputs, flattened, along a last axis; each output the caller sees is
a getitem + reshape view of it. Gradients from whichever outputs a loss uses meet in
that node's single vjp, which unpacks the cotangent and the value the same way. Under
`create_graph` that value is the packed Tensor itself, so the rule differentiates
through U, S, V (and so on) exactly as the forward defined them. `slogdet`'s sign is
piecewise constant and comes back as a Tensor outside the graph. When no gradient can
flow (no input requires grad, or grad mode is off) nothing is packed: outputs are plain
Tensors.

Where derivatives do not exist
------------------------------
- `eigh`: eigenvector derivatives divide by eigenvalue gaps; with repeated eigenvalues
  the eigenvectors are not unique and their gradient is undefined. Gaps that are
  exactly zero contribute 0 (not nan), so losses of the eigenvalues alone (and of
  eigenvectors of simple eigenvalues only) still get their gradient at, e.g., `eye(n)`.
- `svd`: the same for repeated singular values; the terms with 1/s for m != n are
  undefined at zero singular values (taken as 0). `compute_uv=False` needs only
  U diag(sbar) V^T, which is defined for repeated singular values; its second
  derivative is not.
- Gauge freedom: eigenvectors and singular vector pairs are defined up to sign, and
  the extra columns of `svd(full_matrices=True)` and of `qr(mode='complete')` (m > n)
  up to any orthonormal basis of their subspace. Gradients are right for losses that
  do not depend on that choice (|v|^2, u s v^T, sign-fixed vectors, projectors);
  losses that do depend on it have no derivative.
- `pinv`: differentiable where the rank is locally constant and no singular value is
  cut off by `rcond`/`rtol`; at rank changes it is discontinuous.
- `det`: the gradient is the cofactor matrix det(A) A^{-T}, one LU solve; for an
  exactly singular A (det == 0) the first-order rule uses the SVD form of the adjugate,
  so it stays finite. Under create_graph the rule is the solve form, so second
  derivatives need a nonsingular A (a singular one raises `LinAlgError` or is inaccurate).
- `slogdet`: logabsdet is -inf at singular A and has no gradient there.
- `norm`: the 2-norm and 'fro' norm have gradient 0 at 0 (not nan); p-norms with
  p < 1 have no derivative where an element is 0; max/min-type norms share the
  gradient among tied elements.
- `cholesky`, `eigh` and the `hermitian=True` paths of `svd` and `pinv` read one
  triangle of the input (as NumPy's LAPACK calls do); their gradient lives on that
  triangle (see `_decomp_rules.to_triangle`).

Failures keep NumPy's types and get the op's name: `np.linalg.LinAlgError("inv:
Singular matrix")`; shape and argument errors are `ValueError`/`TypeError` as in ag.ops.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import grad_mode
from ..tensor import Tensor, as_tensor, make_result
from . import _decomp_rules as rules
from ._util import named_errors, normalize_axes, normalize_axis
from .elementwise import abs as _abs
from .elementwise import sqrt as _sqrt
from .indexing import where as _where
from .reductions import max as _max
from .reductions import min as _min
from .reductions import sum as _sum
from .shape import reshape as _reshape
from .shape import transpose as _transpose

__all__ = ["inv", "solve", "det", "slogdet", "norm", "pinv", "eigh", "svd", "cholesky", "qr"]


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class _LinAlgFailure(Exception):
    """Carries a LinAlgError past `named_errors`, which would turn it into a ValueError."""


def _public(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`named_errors`, plus NumPy's `LinAlgError` kept as that type with the op's name."""
    name = fn.__name__

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except np.linalg.LinAlgError as exc:
            raise _LinAlgFailure(str(exc)) from None

    checked = named_errors(guarded)

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(*args, **kwargs)
        except _LinAlgFailure as exc:
            message = str(exc)
            raise np.linalg.LinAlgError(message if message.startswith(name + ":") else f"{name}: {message}") from None

    return op


def _tracks(a: Tensor) -> bool:
    """Whether an op on `a` records a graph (so multi-output results must be packed)."""
    return a.requires_grad and grad_mode.is_grad_enabled()


def _matrix(a: Any) -> Tensor:
    a = as_tensor(a)
    if a.ndim < 2:
        raise np.linalg.LinAlgError(f"{a.ndim}-dimensional array given. Array must be at least two-dimensional")
    return a


def _outputs(name: str, a: Tensor, parts: list[np.ndarray], make_rule: Callable[..., Any]) -> list[Tensor]:
    """Tensors for the outputs `parts` of one decomposition of `a`, sharing one packed node."""
    if not _tracks(a):
        return [Tensor(p) for p in parts]
    batch = a.shape[:-2]
    cores = [p.shape[len(batch) :] for p in parts]
    packed = make_result(rules.pack(parts, batch), name, (a,), (make_rule(cores),))
    return rules.unpack(packed, cores)


# ----------------------------------------------------------------- inverse, solve, determinants
@_public
def inv(a: Any) -> Tensor:
    """`np.linalg.inv`: the inverse of each square matrix; `LinAlgError` if one is singular."""
    a = as_tensor(a)
    return make_result(np.linalg.inv(a.data), "inv", (a,), (rules.inv_vjp,))


@_public
def solve(a: Any, b: Any) -> Tensor:
    """`np.linalg.solve`: x with a @ x = b. As in NumPy 2, b is a vector only when 1-d,
    else a stack of matrices (..., M, K) whose batch axes broadcast against a's.
    """
    a = as_tensor(a)
    b = as_tensor(b, a)
    data = np.linalg.solve(a.data, b.data)
    return make_result(data, "solve", (a, b), rules.solve_vjps(b.ndim == 1))


@_public
def det(a: Any) -> Tensor:
    """`np.linalg.det`. Gradient: the cofactor matrix (also at singular matrices, first order)."""
    a = as_tensor(a)
    return make_result(np.linalg.det(a.data), "det", (a,), (rules.det_vjp,))


@_public
def slogdet(a: Any) -> SlogdetResult:
    """`np.linalg.slogdet` -> (sign, logabsdet); logabsdet's gradient is A^{-T} (one solve)."""
    a = as_tensor(a)
    sign, logabsdet = np.linalg.slogdet(a.data)
    return SlogdetResult(Tensor(sign), make_result(logabsdet, "slogdet", (a,), (rules.logabsdet_vjp,)))


# ----------------------------------------------------------------- norm
def _safe_root(s: Tensor, root: Callable[[Tensor], Tensor]) -> Tensor:
    """root(s), with value and gradient 0 where s == 0 (sqrt would give 0 * inf = nan)."""
    zero = s.data == 0
    if not zero.any():
        return root(s)
    return _where(zero, 0, root(_where(zero, 1, s)))


def _count_nonzero(x: Tensor, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    """ord=0: the count of nonzero elements, piecewise constant, so its gradient is 0."""
    data = (x.data != 0).astype(x.dtype).sum(axis=axes, keepdims=keepdims)
    return make_result(data, "norm", (x,), (lambda g, y, x: np.zeros_like(x),))


def _svdvals(a: Tensor, hermitian: bool = False) -> Tensor:
    """Singular values alone (`svd(compute_uv=False)`): gradient U diag(sbar) V^T."""
    if not _tracks(a):
        return Tensor(np.linalg.svd(a.data, compute_uv=False, hermitian=hermitian))
    u, s, vh = np.linalg.svd(a.data, full_matrices=False, hermitian=hermitian)

    def factors(x: Any) -> tuple[Any, Any]:
        if isinstance(x, Tensor):  # create_graph: U and V^T as functions of a
            fu, _, fvh = svd(x, full_matrices=False, hermitian=hermitian)
            return fu, fvh
        return u, vh

    return make_result(s, "svd", (a,), (rules.svdvals_vjp(hermitian, factors),))


def _vector_norm(x: Tensor, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Tensor:
    if ord is None or (not isinstance(ord, str) and ord == 2):
        return _safe_root(_sum(x * x, axes, keepdims), _sqrt)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == np.inf:
        return _max(_abs(x), axes, keepdims)
    if ord == -np.inf:
        return _min(_abs(x), axes, keepdims)
    if ord == 0:
        return _count_nonzero(x, axes, keepdims)
    if ord == 1:
        return _sum(_abs(x), axes, keepdims)
    p = float(ord)
    return _safe_root(_sum(_abs(x) ** p, axes, keepdims), lambda s: s ** (1 / p))


def _matrix_norm(x: Tensor, ord: Any, row: int, col: int) -> Tensor:
    numeric = not isinstance(ord, str) and ord is not None
    if numeric and ord in (2, -2):
        rest = [i for i in range(x.ndim) if i not in (row, col)]
        s = _svdvals(_transpose(x, tuple(rest + [row, col])))
        return (_max if ord == 2 else _min)(s, -1)
    if numeric and ord in (1, -1):
        return (_max if ord == 1 else _min)(_sum(_abs(x), row), col - (col > row))
    if numeric and ord in (np.inf, -np.inf):
        return (_max if ord == np.inf else _min)(_sum(_abs(x), col), row - (row > col))
    if ord in (None, "fro", "f"):
        return _safe_root(_sum(x * x, (row, col)), _sqrt)
    if ord == "nuc":
        rest = [i for i in range(x.ndim) if i not in (row, col)]
        return _sum(_svdvals(_transpose(x, tuple(rest + [row, col]))), -1)
    raise ValueError("Invalid norm order for matrices.")


@_public
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """`np.linalg.norm` with every real `ord`: vectors None/2/1/inf/-inf/0/p, matrices
    'fro'/'nuc'/1/-1/2/-2/inf/-inf, `axis` None, an int or a pair, and `keepdims`.
    """
    x = as_tensor(x)
    if x.dtype.kind not in "fc":
        x = Tensor(x.data.astype(float))
    nd = x.ndim
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (not isinstance(ord, str) and ord == 2 and nd == 1):
            return _safe_root(_sum(x * x, None, keepdims), _sqrt)
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (operator.index(axis),)
        except TypeError:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from None
    if len(axis) == 1:
        return _vector_norm(x, ord, normalize_axes(axis, nd, "norm"), keepdims)
    if len(axis) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    row, col = (normalize_axis(a, nd, "norm") for a in axis)
    if row == col:
        raise ValueError("Duplicate axes given.")
    out = _matrix_norm(x, ord, row, col)
    if keepdims:
        out = _reshape(out, tuple(1 if i in (row, col) else n for i, n in enumerate(x.shape)))
    return out


# ----------------------------------------------------------------- pinv, eigh, cholesky
_UNSET: Any = object()


@_public
def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _UNSET) -> Tensor:
    """`np.linalg.pinv` (`rcond`, or NumPy 2's `rtol`; `hermitian` reads the lower triangle).

    Differentiable where the rank is locally constant and no singular value is cut off.
    """
    a = as_tensor(a)
    extra = {} if rtol is _UNSET else {"rtol": rtol}
    data = np.linalg.pinv(a.data, rcond, hermitian, **extra)
    return make_result(data, "pinv", (a,), (rules.pinv_vjp(bool(hermitian)),))


@_public
def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """`np.linalg.eigh` of symmetric matrices -> (eigenvalues ascending, eigenvectors).

    Only the `UPLO` triangle is read. Eigenvectors have no derivative at repeated
    eigenvalues and are defined up to sign: differentiate losses invariant to the sign.
    """
    a = as_tensor(a)
    w, v = np.linalg.eigh(a.data, UPLO)
    lower = str(UPLO).upper() == "L"
    return EighResult(*_outputs("eigh", a, [w, v], lambda cores: rules.eigh_vjp(lower, cores)))


@_public
def cholesky(a: Any, /, *, upper: bool = False) -> Tensor:
    """`np.linalg.cholesky`: L with A = L L^T (or U = L^T with `upper=True`, reading A's upper triangle)."""
    a = as_tensor(a)
    data = np.linalg.cholesky(a.data, upper=upper)
    return make_result(data, "cholesky", (a,), (rules.cholesky_vjp(bool(upper)),))


# ----------------------------------------------------------------- svd, qr
@_public
def svd(
    a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
) -> SVDResult | Tensor:
    """`np.linalg.svd` -> SVDResult(U, S, Vh), or S alone with `compute_uv=False`.

    Singular vectors are defined up to joint sign flips (and, with `full_matrices` and
    m != n, the extra columns up to a basis of their subspace); their derivative needs
    distinct nonzero singular values. S alone (`compute_uv=False`) has first
    derivatives at repeated singular values too; its second derivatives need them distinct.
    """
    a = _matrix(a)
    if not compute_uv:
        return _svdvals(a, bool(hermitian))
    u, s, vh = np.linalg.svd(a.data, full_matrices=full_matrices, hermitian=hermitian)
    m, n = a.shape[-2:]
    full = u.shape[-1] > min(m, n) or vh.shape[-2] > min(m, n)
    make_rule = lambda cores: rules.svd_vjp(m, n, full, bool(hermitian), cores)
    return SVDResult(*_outputs("svd", a, [u, s, vh], make_rule))


@_public
def qr(a: Any, mode: str = "reduced") -> QRResult | Tensor:
    """`np.linalg.qr` with mode 'reduced' (default), 'complete' or 'r' (R alone).

    Needs full rank (R's leading block invertible). 'raw' is not differentiable.
    """
    a = _matrix(a)
    if mode not in ("reduced", "complete", "r"):
        if _tracks(a):
            raise ValueError(f"mode {mode!r} is not differentiable; use 'reduced', 'complete' or 'r'")
        result = np.linalg.qr(a.data, mode=mode)
        return tuple(Tensor(p) for p in result) if isinstance(result, tuple) else Tensor(result)
    if mode == "r" and not _tracks(a):
        return Tensor(np.linalg.qr(a.data, mode="r"))
    complete = mode == "complete"
    q, r = np.linalg.qr(a.data, mode="complete" if complete else "reduced")
    m, n = a.shape[-2:]
    q_out, r_out = _outputs("qr", a, [q, r], lambda cores: rules.qr_vjp(m, n, complete, cores))
    return r_out if mode == "r" else QRResult(q_out, r_out)


# NumPy callable (ufunc or function) -> the op that handles it on Tensors.
NUMPY_RULES: dict[Any, Callable[..., Any]] = {getattr(np.linalg, name): globals()[name] for name in __all__}

# Tensor method name -> function(self, ...) installed on Tensor.
TENSOR_METHODS: dict[str, Callable[..., Any]] = {}

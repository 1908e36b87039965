"""Backward rules of the `ag.linalg` decompositions (see `decompositions.py` for the ops).

Every rule here is a vjp `rule(g, y, *inputs)` or a helper it uses, and every line
works on two kinds of values: `ndarray`s on the first-order path and Tensors under
`create_graph=True`. They are written with NumPy operators and functions that have
Tensor rules (`@`, `np.swapaxes`, `np.einsum`, `np.expand_dims`, `np.concatenate`,
getitem, reshape) and with `np.linalg.solve`, which on Tensors dispatches to
`ag.linalg.solve`. A rule that reads the op's output `y` therefore differentiates
through it under `create_graph`, which is what makes second derivatives right.

Constants (identity, triangle masks, masks of exactly tied values) are plain arrays
in the input's dtype, so float32 stays float32. Divisions by differences of
eigenvalues or singular values go through `_reciprocal_gaps`, which puts 0 where two
values are exactly equal: a loss that does not read the affected vectors then gets
its (well-defined) gradient instead of `0 * inf = nan`.

References: M. Giles, "An extended collection of matrix derivative results for
forward and reverse mode AD" (2008); J. Townsend, "Differentiating the singular value
decomposition" (2016); I. Murray, "Differentiation of the Cholesky decomposition"
(2016); G. Golub and V. Pereyra (1973) for the pseudo-inverse; PyTorch's
`FunctionsManual.cpp` for the QR rule's wide case.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..tensor import Tensor

Rule = Callable[..., Any]


# ----------------------------------------------------------------- helpers (ndarray or Tensor)
def value(x: Any) -> np.ndarray:
    """The array behind `x`, for decisions that are not differentiated (masks, branches)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def mT(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a stack)."""
    return np.swapaxes(x, -1, -2)


def eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=value(like).dtype)


def diag_embed(v: Any) -> Any:
    """(..., n) -> (..., n, n) with `v` on the diagonal."""
    return np.expand_dims(v, -1) * eye(v.shape[-1], v)


def tril(x: Any, k: int = 0) -> Any:
    return x * np.tri(x.shape[-2], x.shape[-1], k, dtype=value(x).dtype)


def triu(x: Any, k: int = 0) -> Any:
    return x * (1 - np.tri(x.shape[-2], x.shape[-1], k - 1, dtype=value(x).dtype))


def to_triangle(g: Any, lower: bool) -> Any:
    """The gradient of f(S(A)) where S reads one triangle of A as a symmetric matrix.

    `g` is f's gradient at S (only its symmetric part matters). NumPy's `eigh`,
    `cholesky` and the `hermitian=True` paths read just one triangle, so this is the
    derivative finite differences see: off the diagonal, g + g^T on the read triangle
    and 0 on the other; on the diagonal, g's diagonal.
    """
    s = g + mT(g)
    off = tril(s, -1) if lower else triu(s, 1)
    return off + g * eye(g.shape[-1], g)


def read_triangle(a: Any, lower: bool) -> Any:
    """The symmetric matrix that a routine reading one triangle of `a` works on."""
    part = tril(a, -1) if lower else triu(a, 1)
    return part + mT(part) + a * eye(a.shape[-1], a)


def solve_left(a: Any, b: Any) -> Any:
    """a^{-1} b for stacks of matrices b (never NumPy 2's vector case)."""
    return np.linalg.solve(a, b)


def solve_right(b: Any, a: Any) -> Any:
    """b a^{-1}, as (a^{-T} b^T)^T."""
    return mT(np.linalg.solve(mT(a), mT(b)))


def _reciprocal_gaps(e: Any) -> Any:
    """1/e elementwise, with 0 where e is exactly 0 (the diagonal and exact ties)."""
    tie = (value(e) == 0).astype(value(e).dtype)
    return (1 - tie) / (e + tie)


def pack(parts: list[np.ndarray], batch: tuple[int, ...]) -> np.ndarray:
    """Concatenate the outputs of one decomposition, flattened, along a last axis."""
    return np.concatenate([p.reshape(batch + (math.prod(p.shape[len(batch):]),)) for p in parts], axis=-1)


def unpack(p: Any, cores: list[tuple[int, ...]]) -> list[Any]:
    """Undo `pack`: slices of the last axis reshaped to each output's matrix shape."""
    batch = tuple(p.shape[:-1])
    out, start = [], 0
    for core in cores:
        size = math.prod(core)
        out.append(p[..., start : start + size].reshape(batch + tuple(core)))
        start += size
    return out


# ----------------------------------------------------------------- inverse, solve, determinants
def inv_vjp(g: Any, y: Any, a: Any) -> Any:
    """d(A^{-1}) = -A^{-1} dA A^{-1}, so abar = -Y^T g Y^T."""
    yt = mT(y)
    return -(yt @ g @ yt)


def solve_vjps(vector: bool) -> tuple[Rule, Rule]:
    """x = A^{-1} b: bbar = A^{-T} g and Abar = -bbar x^T (b a vector when `vector`)."""

    last: list[Any] = [None, None]  # (g, bbar): the engine asks for Abar and bbar with the same g

    def b_bar(g: Any, x: Any, a: Any, b: Any) -> Any:
        if last[0] is g:
            return last[1]
        if vector:
            bb = solve_left(mT(a), np.expand_dims(g, -1))[..., 0]
        else:
            bb = solve_left(mT(a), g)
        last[0], last[1] = g, bb
        return bb

    def a_bar(g: Any, x: Any, a: Any, b: Any) -> Any:
        bb = b_bar(g, x, a, b)
        if vector:
            return -(np.expand_dims(bb, -1) * np.expand_dims(x, -2))
        return -(bb @ mT(x))

    return a_bar, b_bar


def _others_product(s: np.ndarray) -> np.ndarray:
    """prod_{j != i} s_j along the last axis, without dividing (exact when some s_j = 0)."""
    ones = np.ones_like(s[..., :1])
    left = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def cofactor(a: np.ndarray, det: np.ndarray) -> np.ndarray:
    """The cofactor matrix det(A) A^{-T} (= adj(A)^T), also for singular A.

    Regular matrices: one LU solve, A^{-T} scaled by det. Matrices whose determinant
    is exactly 0: from the SVD A = U S V^T, cof(A) = det(U) det(V) U diag(prod_{j!=i} s_j) V^T,
    which needs no inverse.
    """
    out = np.zeros(a.shape, dtype=a.dtype)
    det = np.asarray(det)
    regular = det != 0
    if regular.any():
        scaled = eye(a.shape[-1], a) * det[regular][..., None, None]
        out[regular] = np.linalg.solve(mT(a[regular]), scaled)
    if (~regular).any():
        u, s, vh = np.linalg.svd(a[~regular])
        sign = np.linalg.det(u) * np.linalg.det(vh)
        out[~regular] = sign[..., None, None] * ((u * _others_product(s)[..., None, :]) @ vh)
    return out


def det_vjp(g: Any, y: Any, a: Any) -> Any:
    """abar = g * cof(A) = g det(A) A^{-T}; singular A uses the SVD form on the first-order path."""
    if isinstance(a, Tensor):  # create_graph: the solve form, differentiable again
        return solve_left(mT(a), np.expand_dims(g * y, (-1, -2)) * eye(a.shape[-1], a))
    return np.expand_dims(g, (-1, -2)) * cofactor(a, y)


def logabsdet_vjp(g: Any, y: Any, a: Any) -> Any:
    """d log|det A| = tr(A^{-1} dA), so abar = g A^{-T} (one solve, no explicit inverse)."""
    return solve_left(mT(a), np.expand_dims(g, (-1, -2)) * eye(a.shape[-1], a))


def pinv_vjp(hermitian: bool) -> Rule:
    """Golub-Pereyra: for X = A^+ of locally constant rank,
    Abar = -X^T g X^T + (I - A X) g^T X X^T + X^T X g^T (I - X A).
    """

    def rule(g: Any, x: Any, a: Any) -> Any:
        if hermitian:
            a = read_triangle(a, lower=True)
        xt, gt = mT(x), mT(g)
        h = gt @ x @ xt
        k = xt @ x @ gt
        out = -(xt @ g @ xt) + (h - a @ (x @ h)) + (k - (k @ x) @ a)
        return to_triangle(out, lower=True) if hermitian else out

    return rule


# ----------------------------------------------------------------- eigh, cholesky
def eigh_vjp(lower: bool, cores: list[tuple[int, ...]]) -> Rule:
    """A = V diag(w) V^T: Abar = V (diag(wbar) + F o (V^T Vbar)) V^T, F_ij = 1/(w_j - w_i)."""

    def rule(g: Any, y: Any, a: Any) -> Any:
        gw, gv = unpack(g, cores)
        w, v = unpack(y, cores)
        f = _reciprocal_gaps(np.expand_dims(w, -2) - np.expand_dims(w, -1))
        inner = diag_embed(gw) + f * (mT(v) @ gv)
        return to_triangle(v @ inner @ mT(v), lower)

    return rule


def cholesky_vjp(upper: bool) -> Rule:
    """A = L L^T (Murray 2016): Abar = L^{-T} Phi(L^T Lbar) L^{-1}, read onto the used triangle.

    Phi takes the lower triangle and halves the diagonal. With `upper`, U = L^T.
    """

    def rule(g: Any, y: Any, a: Any) -> Any:
        low, g_low = (mT(y), mT(g)) if upper else (y, g)
        p = low.shape[-1]
        m = mT(low) @ g_low
        phi = tril(m, -1) + 0.5 * (m * eye(p, m))
        s = solve_right(solve_left(mT(low), phi), low)
        return to_triangle(s, lower=not upper)

    return rule


# ----------------------------------------------------------------- svd, qr
def _drop_extra_columns(q: Any, gq: Any, k: int) -> tuple[Any, Any]:
    """Complete bases: fold the extra columns' gradient into the first k columns.

    Columns k: of a complete Q (or U, V) are any orthonormal basis of the complement of
    the first k; a loss that is invariant to that choice depends on them through
    Q2 Q2^T = I - Q1 Q1^T only, which gives Q1bar += -Q2 Q2bar^T Q1.
    """
    q1, q2 = q[..., :, :k], q[..., :, k:]
    return q1, gq[..., :, :k] - q2 @ (mT(gq[..., :, k:]) @ q1)


def svd_vjp(m: int, n: int, full: bool, hermitian: bool, cores: list[tuple[int, ...]]) -> Rule:
    """A = U S V^T (Townsend 2016), with F_ij = 1/(s_j^2 - s_i^2):
    Abar = U [(F o (U^T Ubar - Ubar^T U)) S + diag(sbar) + S (F o (V^T Vbar - Vbar^T V))] V^T
           + (I - U U^T) Ubar S^{-1} V^T + U S^{-1} Vbar^T (I - V V^T).
    """
    k = min(m, n)

    def rule(g: Any, y: Any, a: Any) -> Any:
        gu, gs, gvh = unpack(g, cores)
        u, s, vh = unpack(y, cores)
        v, gv = mT(vh), mT(gvh)
        if full and m > k:
            u, gu = _drop_extra_columns(u, gu, k)
        if full and n > k:
            v, gv = _drop_extra_columns(v, gv, k)
        f = _reciprocal_gaps(np.expand_dims(s * s, -2) - np.expand_dims(s * s, -1))
        ut_gu, vt_gv = mT(u) @ gu, mT(v) @ gv
        j = f * (ut_gu - mT(ut_gu))
        kk = f * (vt_gv - mT(vt_gv))
        inner = j * np.expand_dims(s, -2) + diag_embed(gs) + np.expand_dims(s, -1) * kk
        out = u @ inner @ mT(v)
        if m > k or n > k:
            s_inv = _reciprocal_gaps(s)  # 0 for zero singular values (where the rule is undefined)
            if m > k:
                out = out + ((gu - u @ ut_gu) * np.expand_dims(s_inv, -2)) @ mT(v)
            if n > k:
                out = out + u @ (np.expand_dims(s_inv, -1) * mT(gv - v @ vt_gv))
        return to_triangle(out, lower=True) if hermitian else out

    return rule


def svdvals_vjp(hermitian: bool, factors: Callable[[Any], tuple[Any, Any]]) -> Rule:
    """s alone: Abar = U diag(sbar) V^T, defined even for repeated singular values.

    `factors(a)` gives (U, V^T) for a: cached arrays on the first-order path, the
    differentiable SVD op under create_graph (whose second derivative needs distinct s).
    """

    def rule(g: Any, y: Any, a: Any) -> Any:
        u, vh = factors(a)
        out = u @ (np.expand_dims(g, -1) * vh)
        return to_triangle(out, lower=True) if hermitian else out

    return rule


def _qr_tall(gq: Any, gr: Any, q: Any, r: Any) -> Any:
    """A = QR with R square and invertible: Abar = (Qbar + Q N) R^{-T},
    N = triu(M) + tril(M^T, -1), M = Rbar R^T - Q^T Qbar.
    """
    m = gr @ mT(r) - mT(q) @ gq
    n = triu(m) + tril(mT(m), -1)
    return mT(solve_left(r, mT(gq + q @ n)))


def qr_vjp(m: int, n: int, complete: bool, cores: list[tuple[int, ...]]) -> Rule:
    """QR for full-rank A. Wide A = [X | Y] (m < n): X = Q U is the square case with
    Qbar + Y Vbar^T in place of Qbar, and Ybar = Q Vbar (R = [U | V], V = Q^T Y).
    """

    def rule(g: Any, y: Any, a: Any) -> Any:
        gq, gr = unpack(g, cores)
        q, r = unpack(y, cores)
        if complete and m > n:  # R's last m - n rows are zeros
            q, gq = _drop_extra_columns(q, gq, n)
            r, gr = r[..., :n, :], gr[..., :n, :]
        if m >= n:
            return _qr_tall(gq, gr, q, r)
        u, gu, gv = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
        gx = _qr_tall(gq + a[..., :, m:] @ mT(gv), gu, q, u)
        return np.concatenate([gx, q @ gv], axis=-1)

    return rule

"""Matrix products: `matmul` (batched, 1-d operands), `dot`, and `einsum`."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from .. import kernels
from ..tensor import Tensor, as_tensor, make_result
from .arithmetic import _pair, multiply


def _swap(a: Any) -> Any:
    return np.swapaxes(a, -1, -2)


def _matmul_grad_a(g: Any, y: Any, a: Any, b: Any) -> Any:
    if b.ndim == 1:
        return g * b if a.ndim == 1 else np.expand_dims(g, -1) * b
    if a.ndim == 1:  # a (k,) @ b (..., k, m): the engine sums the batch axes away
        return np.matmul(b, np.expand_dims(g, -1))[..., 0]
    return kernels.matmul(g, _swap(b))


def _matmul_grad_b(g: Any, y: Any, a: Any, b: Any) -> Any:
    if a.ndim == 1:
        return g * a if b.ndim == 1 else np.expand_dims(a, -1) * np.expand_dims(g, -2)
    if b.ndim == 1:  # a (..., n, k) @ b (k,)
        return np.matmul(_swap(a), np.expand_dims(g, -1))[..., 0]
    if a.shape[-2] == 1:  # a contraction of length 1 is an outer product: far faster than matmul
        return _swap(a) * g
    return kernels.matmul(_swap(a), g)


_MATMUL_VJPS = (_matmul_grad_a, _matmul_grad_b)


def _matmul_jvp(ts: list[Any], y: Any, a: Any, b: Any) -> Any:
    """d(a @ b) = da @ b + a @ db: the product itself, once per tangent."""
    ta, tb = ts
    if ta is None:
        return np.matmul(a, tb)
    if tb is None:
        return np.matmul(ta, b)
    return np.matmul(ta, b) + np.matmul(a, tb)


def matmul(a: Any, b: Any) -> Tensor:
    """`a @ b` with NumPy's rules: batched over leading axes, 1-d operands promoted."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-d, got shapes {a.shape} and {b.shape}")
    try:
        data = kernels.matmul(a.data, b.data)  # a stack of small products runs split over threads
    except ValueError:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned "
            f"({a.shape[-1]} != {b.shape[-2] if b.ndim > 1 else b.shape[0]}) or batch axes do not broadcast"
        ) from None
    return make_result(data, "matmul", (a, b), _MATMUL_VJPS, _matmul_jvp)


def dot(a: Any, b: Any) -> Tensor:
    """`np.dot`: scalar product, matrix product, or a sum over a's last and b's second-to-last axis."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    if a.shape[-1] != b.shape[-2]:  # einsum would broadcast a size-1 axis; np.dot never does
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} are not aligned ({a.shape[-1]} != {b.shape[-2]})")
    letters = iter(string.ascii_letters)
    sa = "".join(next(letters) for _ in range(a.ndim))
    sb = "".join(next(letters) for _ in range(b.ndim))
    sb = sb[:-2] + sa[-1] + sb[-1]
    return einsum(f"{sa},{sb}->{sa[:-1]}{sb[:-2]}{sb[-1]}", a, b)


# ------------------------------------------------------------------ einsum


def _parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit per-operand labels and output labels, with `...` spelled out as letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
    else:
        lhs, out = subscripts, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} operand subscripts in {subscripts!r} for {len(shapes)} operands")
    used = set(subscripts)
    spare = iter(c for c in string.ascii_letters if c not in used)
    n_ell = 0
    for s, shape in zip(ins, shapes):
        explicit = len(s.replace("...", ""))
        if "..." in s:
            n_ell = max(n_ell, len(shape) - explicit)
        elif explicit != len(shape):
            raise ValueError(f"einsum: subscripts {s!r} do not match an operand of shape {shape}")
    ell = "".join(next(spare) for _ in range(n_ell))
    labels = []
    for s, shape in zip(ins, shapes):
        if "..." in s:
            k = len(shape) - len(s.replace("...", ""))
            if k < 0:
                raise ValueError(f"einsum: subscripts {s!r} have more labels than shape {shape} has axes")
            s = s.replace("...", ell[n_ell - k :])
        labels.append(s)
    if out is None:
        counts = "".join(labels)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return labels, out


def _einsum_vjp(i: int, labels: list[str], out: str, sizes: dict[str, int]) -> Any:
    """Gradient for operand i: contract g with the other operands back onto operand i's labels."""
    target = labels[i]
    others = [j for j in range(len(labels)) if j != i]
    available = set(out).union(*(labels[j] for j in others))
    used = set("".join(labels)) | set(out)
    spare = iter(c for c in string.ascii_letters if c not in used)
    extra: list[tuple[str, Any]] = []
    for c in dict.fromkeys(target):
        if c not in available:  # summed only inside operand i: broadcast back with ones
            extra.append((c, lambda dt, n=sizes[c]: np.ones(n, dtype=dt)))
    result = ""
    seen: set[str] = set()
    for c in target:
        if c in seen:  # a repeated label (a diagonal): write it through an identity matrix
            fresh = next(spare)
            extra.append((c + fresh, lambda dt, n=sizes[c]: np.eye(n, dtype=dt)))
            result += fresh
        else:
            result += c
            seen.add(c)
    spec = ",".join([out] + [labels[j] for j in others] + [s for s, _ in extra]) + "->" + result

    def vjp(g: Any, y: Any, *xs: Any) -> Any:
        consts = [make(g.dtype) for _, make in extra]
        return np.einsum(spec, g, *(xs[j] for j in others), *consts, optimize=len(xs) > 1)

    return vjp


def einsum(subscripts: str, *operands: Any, optimize: Any = None) -> Tensor:
    """Einstein summation as `np.einsum` (implicit or explicit output, `...`, repeated labels)."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got {subscripts!r}")
    first = next((t for t in operands if isinstance(t, Tensor)), None)
    xs = [as_tensor(t, first) for t in operands]
    labels, out = _parse(subscripts, [x.shape for x in xs])
    sizes: dict[str, int] = {}
    for s, x in zip(labels, xs):
        for c, n in zip(s, x.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise ValueError(f"einsum: label {c!r} has sizes {sizes[c]} and {n} in {subscripts!r}")
    # A size-1 axis broadcast against a longer one is squeezed out, so every label has one size.
    for k, (s, x) in enumerate(zip(labels, xs)):
        drop = [a for a, c in enumerate(s) if x.shape[a] == 1 and sizes[c] != 1]
        if drop:
            xs[k] = x.reshape([n for a, n in enumerate(x.shape) if a not in drop])
            labels[k] = "".join(c for a, c in enumerate(s) if a not in drop)
    spec = ",".join(labels) + "->" + out
    if optimize is None:
        optimize = len(xs) > 2 or sum(x.size for x in xs) > 4096
    data = np.einsum(spec, *(x.data for x in xs), optimize=optimize)
    vjps = tuple(_einsum_vjp(i, labels, out, sizes) for i in range(len(xs)))

    def jvp(ts: list[Any], y: Any, *xs: Any) -> Any:  # multilinear: one einsum per tangent
        terms = [np.einsum(spec, *xs[:i], t, *xs[i + 1 :]) for i, t in enumerate(ts) if t is not None]
        return sum(terms[1:], terms[0])

    return make_result(data, "einsum", tuple(xs), vjps, jvp)

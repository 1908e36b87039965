"""Checks shared by the layers: constructor arguments and input data, with errors naming the layer.

Input rule (PyTorch's): a layer whose math needs floats (Linear, Conv*, activations,
Dropout, norms, pooling, RNNs, attention, losses' inputs) takes floating-point input
only and never casts silently; an int, bool or complex input is a `TypeError` naming
the layer and the dtype and saying how to convert. `Embedding` takes integer indices
only. Shape-only layers (`Flatten`, `Identity`) take any dtype. Sparse matrices are
refused everywhere data enters `nn` (layers, datasets, `fit`/`predict`).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor
from autograd_core.tensor import as_tensor


def size(layer: str, name: str, value: Any, minimum: int = 0) -> int:
    """`value` as an int >= `minimum` (a feature count, a number of heads or layers)."""
    if isinstance(value, bool):
        raise TypeError(f"{layer}: {name} must be an int, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{layer}: {name} must be an int, got {type(value).__name__} {value!r}") from None
    if n < minimum:
        raise ValueError(f"{layer}: {name} must be >= {minimum}, got {n}")
    return n


def number(layer: str, name: str, value: Any, low: float | None = None, high: float | None = None,
           open_low: bool = False) -> float:
    """`value` as a float in [low, high] (or (low, high] with `open_low`): rates, eps, momentum."""
    if isinstance(value, (bool, str)) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{layer}: {name} must be a number, got {type(value).__name__} {value!r}")
    x = float(value)
    below = low is not None and (x <= low if open_low else x < low)
    if below or (high is not None and x > high) or x != x:
        if low is not None and high is not None:
            raise ValueError(f"{layer}: {name} must be between {low:g} and {high:g}, got {value!r}")
        bound = f"> {low:g}" if open_low else f">= {low:g}" if low is not None else f"<= {high:g}"
        raise ValueError(f"{layer}: {name} must be {bound}, got {value!r}")
    return x


def choice(layer: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    """`value` must be one of the string `options`."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{layer}: {name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def sizes(layer: str, name: str, value: Any, n: int, minimum: int = 0) -> tuple[int, ...]:
    """An int or a tuple/list of `n` ints, each >= `minimum` (kernel sizes, strides, padding)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n:
        raise ValueError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(size(layer, name, v, minimum) for v in items)


# ----------------------------------------------------------------- input data
def is_sparse(x: Any) -> bool:
    """True for a scipy.sparse matrix or array (checked by module name: scipy need not be installed)."""
    return type(x).__module__.startswith("scipy.sparse") and hasattr(x, "toarray")


def reject_sparse(where: str, x: Any) -> None:
    """A sparse matrix would become a 0-d object array (`len() of unsized object`): say what to do instead."""
    if is_sparse(x):
        raise TypeError(
            f"{where}: got a scipy sparse matrix ({type(x).__name__} of shape {x.shape}); nn works on dense "
            f"arrays: call .toarray() first (e.g. x.toarray().astype(np.float32))"
        )


def float_input(where: str, x: Any, dtype: Any = None) -> Tensor:
    """`x` as a Tensor, refused unless floating point (see the module docstring).

    `dtype` is the layer's parameter dtype, suggested in the message (else the default float dtype).
    """
    reject_sparse(where, x)
    t = as_tensor(x)
    kind = t.dtype.kind
    if kind == "f":
        return t
    if kind == "c":
        raise TypeError(f"{where}: expected a real floating-point input, got dtype {t.dtype} (no complex support)")
    target = np.dtype(dtype if dtype is not None else ag.get_default_dtype()).name
    raise TypeError(
        f"{where}: expected a floating-point input, got dtype {t.dtype}; convert it first (there is no silent "
        f"cast), e.g. x.astype(np.{target})"
    )


def layer_input(layer: Any, x: Any, what: str = "") -> Tensor:
    """`float_input` named after `layer`'s class (and `what` input), suggesting the layer's parameter dtype."""
    if isinstance(x, Tensor) and x.dtype.kind == "f":  # the hot path: no parameter walk
        return x
    dtype = next((p.dtype for p in layer.parameters() if p.dtype.kind == "f"), None)
    return float_input(type(layer).__name__ + (f" ({what})" if what else ""), x, dtype)


def index_input(where: str, x: Any) -> np.ndarray:
    """Integer indices as an array (Embedding's input); floats and bools are refused, not truncated."""
    reject_sparse(where, x)
    if type(x).__name__ == "BatchedTensor":  # inside vmap: the values stay batched; check the dtype only
        idx = x
    else:
        idx = x.data if isinstance(x, Tensor) else np.asarray(x)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: indices must be integers, got dtype {idx.dtype}; convert them first, e.g. x.astype(np.int64)"
        )
    return idx

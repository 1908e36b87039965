"""`linear`: the affine map `x @ W.T + b` as one recorded op (one matmul, one bias add)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core.tensor import as_tensor, make_result

from .. import _checks


def _grad_input(g: Any, y: Any, x: Any, w: Any, *b: Any) -> Any:
    return g @ w


def _grad_weight(g: Any, y: Any, x: Any, w: Any, *b: Any) -> Any:
    # Fold every leading (batch) axis into one, so any input rank is a single matmul.
    return g.reshape(-1, w.shape[0]).T @ x.reshape(-1, w.shape[1])


def _grad_bias(g: Any, y: Any, x: Any, w: Any, b: Any) -> Any:
    return g  # the engine sums the batch axes down to b's shape


_VJPS = (_grad_input, _grad_weight, _grad_bias)


def _jvp(tangents: list[Any], y: Any, x: Any, w: Any, b: Any = None) -> Any:
    """Forward mode: d(x w^T + b) = dx w^T + x dw^T + db, each term only where a tangent exists."""
    tx, tw, *tb = tangents
    terms = []
    if tx is not None:
        terms.append(np.matmul(tx, np.swapaxes(w, -1, -2)))
    if tw is not None:
        terms.append(np.matmul(x, np.swapaxes(tw, -1, -2)))
    if tb and tb[0] is not None:
        terms.append(tb[0])
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """`input @ weight.T + bias` with `weight` of shape (out_features, in_features), as PyTorch."""
    w = as_tensor(weight)
    x = _checks.float_input("linear", input, w.dtype)  # an int input would silently give float64
    if w.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not match weight of shape {w.shape}: "
            f"the input's last axis must have in_features={w.shape[1]} entries"
        )
    data = np.matmul(x.data, w.data.T)
    if bias is None:
        return make_result(data, "linear", (x, w), _VJPS[:2], _jvp)
    b = as_tensor(bias)
    if b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},) to match weight {w.shape}, got {b.shape}")
    if np.result_type(data, b.data) == data.dtype:
        np.add(data, b.data, out=data)  # data is a fresh array: add in place, no second allocation
    else:
        data = data + b.data
    return make_result(data, "linear", (x, w, b), _VJPS, _jvp)

"""Loss functions with PyTorch's names, arguments, values and gradients.

Arguments after `weight` are keyword-only: PyTorch's positional slots there hold the
deprecated `size_average`/`reduce`, so a positional call would mean something else.

`reduction` is 'none' | 'mean' | 'sum' everywhere. Targets may be Tensors, ndarrays or
lists. Regression targets (and class probabilities) given as arrays are cast to the
input's dtype, so float32 stays float32; a target Tensor keeps its graph, so losses
are differentiable in it as well. Input and target shapes must match exactly (no
silent broadcasting of an (N, 1) prediction against an (N,) target).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import autograd_core as ag
from autograd_core import Tensor, kernels
from autograd_core.ops.indexing import scatter_add
from autograd_core.tensor import make_result

from .. import _checks
from .activation import softplus_op

_REDUCTIONS = ("none", "mean", "sum")


def _float_input(input: Any, where: str) -> Tensor:
    return _checks.float_input(where, input)


def _check_reduction(reduction: str, where: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{where}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        # An empty batch has mean NaN, as in PyTorch, without NumPy's "Mean of empty slice" warning.
        return loss.mean() if loss.size else loss.sum() + np.nan
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(x: Tensor, t: Any, where: str) -> None:
    if x.shape != t.shape:
        raise ValueError(
            f"{where}: target shape {t.shape} differs from input shape {x.shape}; they must be equal "
            f"(reshape one of them, e.g. input.reshape(-1) or target.reshape(-1, 1))"
        )


def _target_array(target: Any, x: Tensor, where: str) -> np.ndarray:
    """A constant target as an array of x's dtype; complex, None and strings are refused, not cast."""
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind not in "biuf":  # a cast would drop an imaginary part or turn None into NaN
        raise TypeError(f"{where}: the target must hold real numbers, got dtype {raw.dtype}")
    return raw.astype(x.dtype, copy=False)


def _float_target(target: Any, x: Tensor, where: str) -> Tensor:
    """A target Tensor as given (cast if needed, keeping its graph), else a constant of x's dtype."""
    if isinstance(target, Tensor):
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{where}: the target must hold real numbers, got dtype {target.dtype}")
        t = target if target.dtype == x.dtype else ag.astype(target, x.dtype)
    else:
        try:
            t = Tensor(_target_array(target, x, where))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: cannot use {type(target).__name__} as a target: {exc}") from None
    _check_same_shape(x, t, where)
    return t


def _const(value: Any, x: Tensor, where: str, name: str) -> np.ndarray | None:
    """An optional constant (weight, pos_weight) as an array of x's dtype."""
    if value is None:
        return None
    arr = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=x.dtype)
    try:
        np.broadcast_shapes(arr.shape, x.shape)
    except ValueError:
        raise ValueError(f"{where}: {name} of shape {arr.shape} does not broadcast to input shape {x.shape}") from None
    return arr


# ----------------------------------------------------------------------------- regression
def mse_loss(input: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """(input - target)**2, reduced."""
    _check_reduction(reduction, "mse_loss")
    x = _float_input(input, "mse_loss")
    d = x - _float_target(target, x, "mse_loss")
    return _reduce(d * d, reduction)


def l1_loss(input: Any, target: Any, *, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced; the gradient at 0 is 0, as PyTorch."""
    _check_reduction(reduction, "l1_loss")
    x = _float_input(input, "l1_loss")
    return _reduce(ag.abs(x - _float_target(target, x, "l1_loss")), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d**2 where |d| < delta, else delta (|d| - delta/2), with d = input - target."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x = _float_input(input, "huber_loss")
    d = x - _float_target(target, x, "huber_loss")
    # With dc = clip(d): 0.5 dc**2 + delta (|d| - |dc|) is both branches at once and never squares a large d.
    dc = ag.clip(d, -delta, delta)
    return _reduce(dc * dc * 0.5 + (ag.abs(d) - ag.abs(dc)) * delta, reduction)


# ----------------------------------------------------------------------------- binary
def _clamped_logs(x: Any) -> tuple[Any, Any]:
    """(max(log x, -100), max(log(1 - x), -100)): PyTorch's clamp keeps p = 0 and p = 1 finite."""
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped next
        if isinstance(x, Tensor):  # under create_graph: differentiable ops (log1p may lack a Tensor rule)
            return np.maximum(np.log(x), -100), np.maximum(np.log(1 - x), -100)
        return np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, *, reduction: str = "mean") -> Tensor:
    """-w [t log(x) + (1 - t) log(1 - x)] for probabilities x in [0, 1]; logs clamped at -100 (PyTorch).

    The input gradient is PyTorch's: w (x - t) / max(x (1 - x), 1e-12). A target Tensor
    that requires grad gets w (log(1 - x) - log(x)), with the same clamped logs as the
    value, so it stays finite at x = 0 and x = 1 (where PyTorch's is +-inf).
    """
    where = "binary_cross_entropy"
    _check_reduction(reduction, where)
    x = _float_input(input, where)
    t = _float_target(target, x, where)  # a Tensor keeps its graph
    if x.size and not (np.all(x.data >= 0) and np.all(x.data <= 1)):
        raise ValueError(
            f"{where}: all elements of input should be between 0 and 1 (got min {x.data.min()}, "
            f"max {x.data.max()}); apply sigmoid first, or use binary_cross_entropy_with_logits"
        )
    if t.size and not (np.all(t.data >= 0) and np.all(t.data <= 1)):
        raise ValueError(f"{where}: all elements of target should be between 0 and 1")
    w = _const(weight, x, where, "weight")
    scale = 1 if w is None else w
    log_x, log_1mx = _clamped_logs(x.data)
    data = (t.data - 1) * log_1mx - t.data * log_x
    if w is not None:
        data = data * w

    def grad_input(g: Any, y: Any, x: Any, t: Any) -> Any:
        return g * scale * (x - t) / np.maximum((1 - x) * x, 1e-12)

    def grad_target(g: Any, y: Any, x: Any, t: Any) -> Any:
        log_x, log_1mx = _clamped_logs(x)
        return g * scale * (log_1mx - log_x)

    loss = make_result(data.astype(x.dtype, copy=False), where, (x, t), (grad_input, grad_target))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula: (1 - t) x + lw softplus(-x).

    lw = 1 + (pos_weight - 1) t weighs the positive term (pos_weight broadcasts over the
    last, class axis). Finite for logits of any magnitude.
    """
    where = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, where)
    x = _float_input(input, where)
    t = _float_target(target, x, where)
    pw = _const(pos_weight, x, where, "pos_weight")
    w = _const(weight, x, where, "weight")
    sp = softplus_op(-x)
    loss = (1 - t) * x + (sp if pw is None else sp * ((pw - 1) * t + 1))
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------- classification
def _class_axis(x: Tensor, where: str) -> int:
    if x.ndim == 0:
        raise ValueError(f"{where}: input must have a class axis: (C,), (N, C) or (N, C, d1, ...); got a scalar")
    return 0 if x.ndim == 1 else 1


def _class_indices(target: Any, x: Tensor, cdim: int, ignore_index: int, where: str) -> np.ndarray:
    idx = np.asarray(target.data if isinstance(target, Tensor) else target)
    expected = x.shape[:cdim] + x.shape[cdim + 1 :]
    if idx.shape == x.shape and idx.shape != expected:  # one-hot (or probabilities) in an int/bool array
        hint = f"class indices of shape {expected}: target.argmax(axis={cdim})"
        if where == "cross_entropy":  # PyTorch: probability targets must be floating point
            raise TypeError(
                f"{where}: target has the input's shape {x.shape} but dtype {idx.dtype}; a target of the input's "
                f"shape holds class probabilities and must be floating point: target.astype(np.{x.dtype.name}); "
                f"or pass {hint}"
            )
        raise ValueError(f"{where}: target of shape {idx.shape} (dtype {idx.dtype}) looks one-hot; pass {hint}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{where}: class-index targets must be integers, got dtype {idx.dtype}")
    if idx.shape != expected:
        raise ValueError(
            f"{where}: target shape {idx.shape} does not match input shape {x.shape}; class indices need shape "
            f"{expected} (the input without its class axis {cdim})"
        )
    n_classes = x.shape[cdim]
    bad = (idx != ignore_index) & ((idx < 0) | (idx >= n_classes))
    if bad.any():
        raise IndexError(f"{where}: target {idx[bad].flat[0]} is out of bounds for {n_classes} classes")
    return idx


def _target_index(safe: np.ndarray, cdim: int) -> tuple[np.ndarray, ...]:
    """Index that reads each sample's target-class entry: x[index] has the target's shape."""
    if cdim == 0:
        return (safe,)
    grids = [np.arange(n).reshape([-1 if i == j else 1 for i in range(safe.ndim)]) for j, n in enumerate(safe.shape)]
    return (grids[0], safe, *grids[1:])


def _target_weights(
    idx: np.ndarray, weight: np.ndarray | None, ignore_index: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """(valid mask, indices with ignored ones set to 0, per-sample weight w[t] (0 if ignored), their sum)."""
    valid = idx != ignore_index
    safe = np.where(valid, idx, 0)
    w_t = valid.astype(dtype) if weight is None else np.where(valid, weight[safe], 0).astype(dtype)
    return valid, safe, w_t, w_t.sum()


def _coefficients(w_t: np.ndarray, denom: Any, reduction: str) -> np.ndarray:
    """Per-sample factors of -log p[t]: the weights, divided by PyTorch's denominator for 'mean'."""
    if reduction != "mean":
        return w_t
    return w_t / denom if denom != 0 else np.zeros_like(w_t)


def _weighted_sum(terms: Any, coef: np.ndarray, denom: Any, reduction: str) -> Any:
    """Reduce -coef * terms; an all-ignored 'mean' is NaN with a zero gradient, as in PyTorch."""
    if reduction == "none":
        return terms * -coef
    out = (terms * -coef).sum()
    return out + np.nan if reduction == "mean" and denom == 0 else out


def _nll(
    logp: Tensor, idx: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str, cdim: int
) -> Tensor:
    """Weighted negative log-likelihood of log-probabilities `logp` (composed from autograd ops)."""
    _, safe, w_t, denom = _target_weights(idx, weight, ignore_index, logp.dtype)
    picked = logp[_target_index(safe, cdim)]
    return _weighted_sum(picked, _coefficients(w_t, denom, reduction), denom, reduction)


# Simple NumPy passes over the logits that cross-entropy's softmax makes (its work for `kernels`).
_CE_PASSES = 5


def _shifted_softmax(x: np.ndarray, cdim: int, z: Any = None, probs: Any = None, total: Any = None) -> Any:
    """(x - max, softmax, sum of exps) along the class axis, written into the arrays given, if any."""
    z = np.subtract(x, np.max(x, axis=cdim, keepdims=True), out=z)  # every exponent <= 0: no overflow
    probs = np.exp(z, out=probs)
    total = np.sum(probs, axis=cdim, keepdims=True, out=total)
    probs /= total
    return z, probs, total


def _cross_entropy_indices(
    x: Tensor, idx: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str, cdim: int
) -> Tensor:
    """log_softmax + NLL as one op: the gradient is c * (softmax - onehot), computed in one pass.

    This is the hot path of classifier training, so it avoids recording the four or five
    ops the composed form needs. Under `create_graph` the vjp rebuilds softmax from
    autograd ops, so higher orders still work.
    """
    _, safe, w_t, denom = _target_weights(idx, weight, ignore_index, x.dtype)
    index = _target_index(safe, cdim)
    d = x.data
    if d.size * _CE_PASSES < kernels.SPLIT_MIN:
        z, probs, total = _shifted_softmax(d, cdim)
    else:  # row-wise in the class axis: big inputs run split over the other axes (same results)
        z, probs = np.empty_like(d), np.empty_like(d)
        total = np.empty(d.shape[:cdim] + (1,) + d.shape[cdim + 1 :], dtype=d.dtype)
        kernels.split(lambda z, p, t, x: _shifted_softmax(x, cdim, z, p, t), z, probs, total, d,
                      axis=kernels.free_axis(d.shape, (cdim,)), work=d.size * _CE_PASSES)
    picked = z[index] - np.squeeze(np.log(total), axis=cdim)
    coef = _coefficients(w_t, denom, reduction)
    data = _weighted_sum(picked, coef, denom, reduction)

    def vjp(g: Any, y: Any, x: Any) -> Any:
        c = g * coef  # d loss / d logp[target], per sample, negated
        if isinstance(x, Tensor):
            return ag.softmax(x, axis=cdim) * np.expand_dims(c, cdim) - scatter_add(c, x.shape, index)
        ce = np.expand_dims(c, cdim)
        out = probs * ce if probs.size < kernels.SPLIT_MIN else kernels.ufunc(np.multiply, probs, ce)
        out[index] -= c  # one entry per sample: no repeated positions
        return out

    return make_result(np.asarray(data, dtype=x.dtype), "cross_entropy", (x,), (vjp,))


def _class_weight(weight: Any, x: Tensor, cdim: int, where: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=x.dtype)
    if w.shape != (x.shape[cdim],):
        raise ValueError(f"{where}: weight must have shape ({x.shape[cdim]},) (one per class), got {w.shape}")
    return w


def nll_loss(
    input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """-weight[t] * input[n, t] for log-probabilities `input` (N, C, d1, ...) and class indices `target`.

    'mean' divides by the sum of the target weights of the non-ignored samples (PyTorch's rule).
    """
    _check_reduction(reduction, "nll_loss")
    x = _float_input(input, "nll_loss")
    cdim = _class_axis(x, "nll_loss")
    idx = _class_indices(target, x, cdim, ignore_index, "nll_loss")
    return _nll(x, idx, _class_weight(weight, x, cdim, "nll_loss"), ignore_index, reduction, cdim)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax over the class axis (1, or 0 for unbatched input) followed by the NLL.

    `target` holds class indices (integers, shape of input without the class axis) or
    class probabilities (floats, input's shape). `label_smoothing` mixes the target with
    the uniform distribution; weights, ignored indices and the mean's denominator follow
    PyTorch exactly.
    """
    where = "cross_entropy"
    _check_reduction(reduction, where)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = _float_input(input, where)
    cdim = _class_axis(x, where)
    n_classes = x.shape[cdim]
    w = _class_weight(weight, x, cdim, where)
    w_b = None if w is None else w.reshape([-1 if i == cdim else 1 for i in range(x.ndim)])
    t_dtype = target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if t_dtype.kind == "f":
        return _cross_entropy_probs(ag.log_softmax(x, axis=cdim), target, w_b, reduction, label_smoothing, cdim)
    idx = _class_indices(target, x, cdim, ignore_index, where)
    nll = _cross_entropy_indices(x, idx, w, ignore_index, reduction, cdim)
    if label_smoothing == 0:
        return nll
    # PyTorch's smoothing term: -sum_c w_c log p_c per sample, ignored samples zeroed, same denominator.
    logp = ag.log_softmax(x, axis=cdim)
    valid, _, w_t, denom = _target_weights(idx, w, ignore_index, x.dtype)
    per_sample = (logp if w_b is None else logp * w_b).sum(axis=cdim)
    smooth = _weighted_sum(per_sample, _coefficients(valid.astype(x.dtype), denom, reduction), denom, reduction)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(
    logp: Tensor, target: Any, w_b: np.ndarray | None, reduction: str, label_smoothing: float, cdim: int
) -> Tensor:
    t = _float_target(target, logp, "cross_entropy")
    n_classes = logp.shape[cdim]
    if label_smoothing > 0:
        t = t * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * t if w_b is None else logp * t * w_b
    if reduction == "none":
        return -prod.sum(axis=cdim)
    if reduction == "sum":
        return -prod.sum()
    return prod.sum() * (-n_classes / logp.size)  # mean over samples (and positions), not classes

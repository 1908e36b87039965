"""Check analytic gradients against central finite differences.

`gradcheck` builds the whole Jacobian both ways: numerically, two evaluations per input
element, and analytically, one backward per output element. It compares them with
`|analytic - numeric| <= atol + rtol * |numeric|`. It also checks what PyTorch's
gradcheck checks beyond the values: gradients have the input's shape and dtype, and a
zero `grad_output` gives zero gradients.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, forward_ad
from .locate import locate_faulty_op
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences; the message says where."""


def _as_inputs(inputs: Any) -> list[Tensor]:
    items = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    return [t if isinstance(t, Tensor) else Tensor(t) for t in items]


def _outputs(fn: Callable[..., Any], inputs: list[Tensor]) -> list[Tensor]:
    out = fn(*inputs)
    outs = [out] if isinstance(out, Tensor) else list(out)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, output {i} is {type(o).__name__}")
    return outs


def _flat_outputs(fn: Callable[..., Any], inputs: list[Tensor]) -> np.ndarray:
    # Grad mode stays on: fn may take gradients itself (as gradgradcheck's does).
    return np.concatenate([np.asarray(o.data, dtype=np.float64).ravel() for o in _outputs(fn, inputs)])


def _numeric_jacobian(fn: Callable[..., Any], inputs: list[Tensor], t: Tensor, eps: float) -> np.ndarray:
    """Columns d(flat outputs)/d(t.flat[j]) by central differences, perturbing t in place."""
    flat = t.data.reshape(-1)  # a view: writes below reach t.data
    if not np.shares_memory(flat, t.data) or not t.data.flags.writeable:
        t.data = t.data.copy()
        flat = t.data.reshape(-1)
    columns = []
    for j in range(flat.size):
        original = flat[j]
        flat[j] = original + eps
        plus = _flat_outputs(fn, inputs)
        flat[j] = original - eps
        minus = _flat_outputs(fn, inputs)
        flat[j] = original
        columns.append((plus - minus) / (2 * eps))
    return np.stack(columns, axis=1) if columns else np.zeros((0, 0))


def _analytic_jacobians(
    fn: Callable[..., Any], inputs: list[Tensor], wrt: list[Tensor], n_out: int
) -> list[np.ndarray]:
    """Rows d(flat output k)/d(inputs) by one backward pass per output element."""
    outs = _outputs(fn, inputs)
    jac = [np.zeros((n_out, t.size)) for t in wrt]
    live = [o for o in outs if o.requires_grad]
    offsets = np.cumsum([0] + [o.size for o in outs])
    for oi, o in enumerate(outs):
        if not o.requires_grad:
            continue  # an output that does not depend on any input has zero rows
        for k in range(o.size):
            seed = np.zeros(o.shape, dtype=o.dtype)
            seed.reshape(-1)[k] = 1
            grads = engine.grad(o, wrt, grad_outputs=seed, retain_graph=True, allow_unused=True)
            for t, g, rows in zip(wrt, grads, jac):
                if g is None:
                    continue
                if g.shape != t.shape or g.dtype != t.dtype:
                    raise GradcheckError(
                        f"gradcheck: the gradient for an input of shape {t.shape} and dtype {t.dtype} "
                        f"came back with shape {g.shape} and dtype {g.dtype}"
                    )
                rows[offsets[oi] + k] = g.data.reshape(-1)
    if live:
        zero = engine.grad(live, wrt, grad_outputs=[np.zeros(o.shape, o.dtype) for o in live],
                           retain_graph=True, allow_unused=True)
        for i, g in enumerate(zero):
            if g is not None and np.any(g.data != 0):
                raise GradcheckError(f"gradcheck: a zero grad_output gave a nonzero gradient for input {i}")
    return jac


def _forward_jacobians(fn: Callable[..., Any], inputs: list[Tensor], wrt: list[Tensor], n_out: int) -> list[np.ndarray]:
    """Columns d(flat outputs)/d(t.flat[j]) by one forward-mode pass per input element."""
    jac = []
    for t in wrt:
        cols = np.zeros((n_out, t.size))
        for j in range(t.size):
            unit = np.zeros(t.shape, dtype=t.dtype)
            unit.reshape(-1)[j] = 1
            with forward_ad.dual_level():
                args = [forward_ad.make_dual(x, unit) if x is t else x for x in inputs]
                outs = _outputs(fn, args)
                tangents = [forward_ad.unpack_dual(o).tangent for o in outs]
            cols[:, j] = np.concatenate(
                [np.zeros(o.size) if d is None else np.asarray(d.data, dtype=np.float64).ravel()
                 for o, d in zip(outs, tangents)]
            )
        jac.append(cols)
    return jac


def _describe(t: Tensor, i: int) -> str:
    label = f" '{t.name}'" if t.name else ""
    return f"input {i}{label} (shape {t.shape}, {t.dtype})"


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
) -> bool:
    """True if `fn`'s backward matches central differences for every input that requires grad.

    `fn(*inputs)` returns a Tensor (or a sequence of Tensors). Raises `GradcheckError`
    naming the input, the worst element's index, the output element, and both values,
    and, when `fn` is a composite, the first op inside it whose own derivative is wrong.
    With `check_forward_ad=True` the forward-mode tangents are checked the same way.
    Use float64 inputs: in float32 the finite differences themselves are unreliable.
    """
    inputs = _as_inputs(inputs)
    wrt = [t for t in inputs if t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i, t in enumerate(inputs):
        if t.requires_grad and t.dtype != np.float64:
            warnings.warn(
                f"gradcheck: {_describe(t, i)} is not float64; finite differences need float64 to be reliable",
                stacklevel=2,
            )
    n_out = _flat_outputs(fn, inputs).size
    out_shapes = [o.shape for o in _outputs(fn, inputs)]
    numeric: dict[int, np.ndarray] = {}
    if check_backward_ad:
        _compare(fn, inputs, wrt, _analytic_jacobians(fn, inputs, wrt, n_out), numeric, out_shapes,
                 eps, atol, rtol, "backward")
    if check_forward_ad:
        _compare(fn, inputs, wrt, _forward_jacobians(fn, inputs, wrt, n_out), numeric, out_shapes,
                 eps, atol, rtol, "forward")
    return True


def _compare(
    fn: Callable[..., Any],
    inputs: list[Tensor],
    wrt: list[Tensor],
    analytic: list[np.ndarray],
    numeric_cache: dict[int, np.ndarray],
    out_shapes: list[tuple[int, ...]],
    eps: float,
    atol: float,
    rtol: float,
    mode: str,
) -> None:
    for t, a in zip(wrt, analytic):
        i = next(k for k, s in enumerate(inputs) if s is t)
        if id(t) not in numeric_cache:
            numeric_cache[id(t)] = _numeric_jacobian(fn, inputs, t, eps)
        n = numeric_cache[id(t)]
        if n.size == 0:
            continue
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        bad = ~(excess <= 0)  # NaN on either side counts as a failure
        if bad.any():
            k, j = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)), a.shape)
            where_in = np.unravel_index(j, t.shape) if t.shape else ()
            where_out = _output_position(int(k), out_shapes)
            culprit = locate_faulty_op(fn, inputs, forward=mode == "forward")
            raise GradcheckError(
                f"gradcheck ({mode} mode) failed for {_describe(t, i)} at element "
                f"{tuple(int(v) for v in where_in)}, "
                f"derivative of output {where_out}: analytic {a[k, j]:.10g}, numeric {n[k, j]:.10g}, "
                f"|difference| {abs(a[k, j] - n[k, j]):.3g} > atol + rtol*|numeric| = "
                f"{atol + rtol * abs(n[k, j]):.3g} (atol={atol}, rtol={rtol}, eps={eps}); "
                f"{int(bad.sum())} of {bad.size} Jacobian entries disagree"
                + (f"; {culprit}" if culprit else "")
            )


def _output_position(k: int, shapes: list[tuple[int, ...]]) -> str:
    for oi, shape in enumerate(shapes):
        size = int(np.prod(shape))
        if k < size:
            index = tuple(int(v) for v in np.unravel_index(k, shape)) if shape else ()
            return f"{index}" if len(shapes) == 1 else f"{oi} element {index}"
        k -= size
    return str(k)


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """`gradcheck` one order up: differentiate the vector-Jacobian product of `fn` again.

    The cotangent vectors (random unless `grad_outputs` is given) are checked as inputs
    too, so both the Hessian-vector part and the Jacobian part of the second pass are
    verified.
    """
    inputs = _as_inputs(inputs)
    wrt_index = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not wrt_index:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    outs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        cotangents = [Tensor(rng.standard_normal(o.shape).astype(o.dtype), requires_grad=True) for o in outs]
    else:
        cotangents = [Tensor(np.asarray(g.data if isinstance(g, Tensor) else g, dtype=o.dtype), requires_grad=True)
                      for g, o in zip(grad_outputs, outs)]
    n_in = len(inputs)

    def first_order(*args: Tensor) -> list[Tensor]:
        xs, us = list(args[:n_in]), list(args[n_in:])
        ys = _outputs(fn, xs)
        live = [(y, u) for y, u in zip(ys, us) if y.requires_grad]
        if not live:
            return [Tensor(np.zeros(xs[i].shape, xs[i].dtype)) for i in wrt_index]
        grads = engine.grad([y for y, _ in live], [xs[i] for i in wrt_index], grad_outputs=[u for _, u in live],
                            create_graph=True, allow_unused=True)
        return [g if g is not None else Tensor(np.zeros(xs[i].shape, xs[i].dtype)) for g, i in zip(grads, wrt_index)]

    return gradcheck(first_order, inputs + cotangents, eps=eps, atol=atol, rtol=rtol)

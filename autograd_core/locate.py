"""Find the op to blame when a composite function's derivative is wrong.

`gradcheck` says which input's gradient disagrees with finite differences; this module
says why. It runs the function once more while every public op call (built-in or a
custom `ag.Function`) is logged with its inputs' values, then checks each logged op on
its own, in call order: a random directional derivative by central differences against
the op's vjp (and its jvp, for forward mode). The first op whose own derivative
disagrees is named with its input shapes and the line of user code that called it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, forward_ad, grad_mode
from .ops import _util
from .tensor import Tensor


def _leaves(args: tuple[Any, ...]) -> tuple[list[Any], list[Tensor]]:
    """Fresh copies of the call's arguments; the float Tensors become float64 leaves."""
    leaves: list[Tensor] = []

    def fresh(a: Any) -> Any:
        if isinstance(a, Tensor):
            t = Tensor(a.data.astype(np.float64) if a.dtype.kind == "f" else a.data.copy())
            if t.dtype.kind == "f":
                t.requires_grad = True
                leaves.append(t)
            return t
        if isinstance(a, (list, tuple)) and any(isinstance(v, Tensor) for v in a):
            return type(a)(fresh(v) for v in a)
        return a

    return [fresh(a) for a in args], leaves


def _flat(result: Any) -> list[Tensor]:
    items = result if isinstance(result, (list, tuple)) else [result]
    return [r for r in items if isinstance(r, Tensor) and r.dtype.kind == "f"]


def _op_disagrees(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], forward: bool) -> bool:
    rng = np.random.default_rng(0)
    call_args, leaves = _leaves(args)
    if not leaves:
        return False
    outs = _flat(fn(*call_args, **kwargs))
    if not outs:
        return False
    directions = [rng.standard_normal(t.shape) for t in leaves]
    cotangents = [rng.standard_normal(o.shape) for o in outs]
    eps = 1e-6

    def at(sign: float) -> list[np.ndarray]:
        shifted, moved = _leaves(args)
        for t, v in zip(moved, directions):
            t.data = t.data + sign * eps * v
        with grad_mode.no_grad():
            return [o.data.astype(np.float64) for o in _flat(fn(*shifted, **kwargs))]

    numeric = [(p - m) / (2 * eps) for p, m in zip(at(1.0), at(-1.0))]
    if forward:
        with forward_ad.dual_level():
            duals, moved = _leaves(args)
            dual_map = {id(t): forward_ad.make_dual(t, Tensor(v)) for t, v in zip(moved, directions)}
            duals = [dual_map.get(id(a), a) for a in duals]
            tangents = [forward_ad.unpack_dual(o).tangent for o in _flat(fn(*duals, **kwargs))]
        analytic = sum(
            float(np.sum(u * (0 if t is None else t.data))) for u, t in zip(cotangents, tangents)
        )
    else:
        live = [(o, u) for o, u in zip(outs, cotangents) if o.requires_grad]
        if not live:
            return any(np.any(np.abs(n) > 1e-6) for n in numeric)
        grads = engine.grad([o for o, _ in live], leaves, grad_outputs=[u for _, u in live], allow_unused=True)
        analytic = sum(float(np.sum(v * (0 if g is None else g.data))) for v, g in zip(directions, grads))
    expected = sum(float(np.sum(u * n)) for u, n in zip(cotangents, numeric))
    return not abs(analytic - expected) <= 1e-5 + 1e-3 * abs(expected)


def locate_faulty_op(fn: Callable[..., Any], inputs: Sequence[Tensor], forward: bool = False) -> str | None:
    """A sentence naming the first op in `fn` whose own derivative is wrong, or None."""
    log: list[tuple[Any, ...]] = []
    previous, _util.recording = _util.recording, log
    grad_mode.special[0] += 1
    try:
        fn(*inputs)
    except Exception:  # noqa: BLE001 - the locator must never hide the original failure
        return None
    finally:
        grad_mode.special[0] -= 1
        _util.recording = previous
    for op, args, kwargs, _, site in log:
        try:
            wrong = _op_disagrees(op, args, kwargs, forward)
        except Exception:  # noqa: BLE001 - an op that cannot be re-run alone is not blamed
            continue
        if wrong:
            name = getattr(op, "__qualname__", getattr(op, "__name__", repr(op)))
            shapes = ", ".join(str(a.shape) for a in args if isinstance(a, Tensor))
            kind = "jvp (forward mode)" if forward else "vjp (backward)"
            return (
                f"the first op whose own {kind} disagrees with finite differences is '{name}' "
                f"(input shapes {shapes}), called at {site}"
            )
    return None

"""Anomaly detection: find the first operation whose value or gradient stops being finite.

Inside `with ag.detect_anomaly():` every op records where user code created it, and
forward values and backward gradients are checked as they are made. The first NaN or
inf raises an `AnomalyError` naming the op, that site, the input shapes and which
input or gradient was at fault. Off, it costs one flag test per op.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from . import grad_mode

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn", "__init__.py"))
)


class AnomalyError(RuntimeError):
    """A value or gradient became NaN or inf; the message says where it was created."""


class detect_anomaly:
    """Context manager (and decorator via `with`) turning anomaly detection on in this thread."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = grad_mode._state.anomaly
        grad_mode._state.anomaly = self.check_nan
        # NumPy's own floating-point warnings would fire first and say less than our error.
        self._errstate = np.errstate(all="ignore")
        self._errstate.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._errstate.__exit__(*exc)
        grad_mode._state.anomaly = self._previous


def is_anomaly_enabled() -> bool:
    return grad_mode._state.anomaly


def creation_site() -> str:
    """`file:line in function` of the nearest caller outside autograd_core and nn."""
    frame = sys._getframe(2)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIRS):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "<unknown>"


def _finite(a: Any) -> bool:
    a = np.asarray(a)
    return a.dtype.kind not in "fc" or bool(np.isfinite(a).all())


def _shapes(parents: tuple[Any, ...]) -> str:
    return ", ".join(str(p.shape) for p in parents)


def check_forward(out: Any, op: str, parents: tuple[Any, ...]) -> None:
    """Record the creation site; raise if an input or the value is NaN or inf."""
    out._site = creation_site()
    for i, p in enumerate(parents):
        if not _finite(p.data):
            origin = f"'{p._op}' created at {p._site}" if p._op else "a leaf (user data)"
            raise AnomalyError(
                f"input {i} of '{op}' (created at {out._site}; input shapes {_shapes(parents)}) "
                f"contains NaN or inf; it came from {origin}"
            )
    if not _finite(out.data):
        raise AnomalyError(
            f"'{op}' created at {out._site} produced NaN or inf from finite inputs "
            f"(input shapes {_shapes(parents)}, output shape {out.shape})"
        )


def check_backward(node: Any, index: int, grad_in: Any, grad_out: Any) -> None:
    """Raise if the gradient flowing into `node` or out of it to input `index` is non-finite."""
    value = grad_out.data if hasattr(grad_out, "_op") else grad_out
    if _finite(value):
        return
    upstream = grad_in.data if hasattr(grad_in, "_op") else grad_in
    cause = "from a finite incoming gradient"
    if not _finite(upstream):
        cause = "the incoming gradient was already non-finite"
    raise AnomalyError(
        f"backward of '{node._op}' created at {node._site or '<site not recorded>'} returned NaN or inf "
        f"for input {index} (input shapes {_shapes(node._parents)}, output shape {node.shape}); {cause}"
    )

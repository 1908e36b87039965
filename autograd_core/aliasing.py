"""What a Tensor shares with others: version anchors for aliases, hook handles, and the conversion guard.

`t.detach()` and `Tensor(t)` share `t`'s array; both link to one `_VersionAnchor`, so a
write through either ticks the version that backward checks. The conversion guard keeps
NumPy from quietly turning a Tensor that requires grad into plain values.
"""

from __future__ import annotations

import dis
import itertools
import sys
from typing import Any


class _VersionAnchor:
    """The version count that a tensor and its aliases (detach, Tensor(t)) share."""

    __slots__ = ("_modified_at", "_version", "_base")

    def __init__(self, modified_at: int, version: int) -> None:
        self._modified_at, self._version, self._base = modified_at, version, None


def _alias_of(t: Any) -> Any:
    """What a new alias of `t`'s array links to, so writes through either are seen by both."""
    if t._view_fn is not None:
        return t._base
    if t._base is None:
        t._base = _VersionAnchor(t._modified_at, t._version)
    return t._base


def _conversion_error(t: Any, how: str) -> str:
    return (
        f"a Tensor that requires grad (shape {t.shape}) cannot be {how}: its gradient would be lost "
        f"silently. Take the values explicitly with x.detach(), x.numpy() or x.data, or keep the "
        f"computation in Tensors (e.g. ag.zeros(...) instead of np.zeros(...), ag.stack instead of np.array)"
    )


_STORE_SUBSCR = dis.opmap["STORE_SUBSCR"]


def _storing_into_array() -> bool:
    """True when `float(t)` was called by NumPy for `array[i] = t` (not by the user's `float(t)`)."""
    frame = sys._getframe(2)
    return frame.f_code.co_code[frame.f_lasti] == _STORE_SUBSCR


class RemovableHandle:
    """What `register_hook` returns: `.remove()` unregisters the hook (PyTorch's handle)."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Any]) -> None:
        self.hooks_dict = hooks
        self.id = next(self._ids)

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

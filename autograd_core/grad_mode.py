"""Grad mode: whether operations are recorded for backward. Per thread, like PyTorch."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    enabled = True  # record operations (grad mode)
    anomaly = False  # check values and record creation sites (anomaly.detect_anomaly)
    scope: ScopeFrame | None = None  # the innermost open scope (e.g. an nn module's call)
    levels: tuple[int, ...] = ()  # open forward-mode levels, outermost first (forward_ad.dual_level)
    recomputing = False  # ag.checkpoint is re-running a forward in backward: layers must not update state twice
    accumulating = False  # inside `backward()` (gradients go into `.grad`), not `ag.grad`
    callbacks: list[Any] | None = None  # run when the current `backward()` has filled `.grad`
    vmap_levels: list[Any] = []  # open vmap levels, outermost first (reassigned, never mutated)


vmap_active = [0]  # open vmap levels in any thread: the op interceptor's one cheap test
# Open vmap levels, dual levels and locator recordings in any thread: while it is 0, ops
# skip every one of those checks with a single test (the hot path stays as it was).
special = [0]


_state = _State()


def is_grad_enabled() -> bool:
    """True when new operations are recorded into the graph (the per-thread default)."""
    return _state.enabled


def is_recomputing() -> bool:
    """True while `ag.checkpoint` re-runs a forward pass during backward (in this thread).

    Layers with side effects consult it, so running statistics (BatchNorm) are updated
    by the original forward only, not again by the recomputation.
    """
    return _state.recomputing


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    _target: bool

    def __enter__(self) -> None:
        self._previous = _state.enabled
        _state.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous

    def __call__(self, func: F) -> F:
        target = self._target

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _state.enabled
            _state.enabled = target
            try:
                return func(*args, **kwargs)
            finally:
                _state.enabled = previous

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Record nothing inside: results never require grad. Use as `with` or `@no_grad()`."""

    _target = False


class enable_grad(_GradMode):
    """Turn recording back on inside a `no_grad` region."""

    _target = True


class ScopeFrame:
    """One opening of a scope: its `owner` (e.g. a module) and the frame it opened inside.

    Every call gets a new frame, so two calls of the same module are told apart (an RNN
    cell unrolled over time), while their `owners()` are equal.
    """

    __slots__ = ("owner", "parent")

    def __init__(self, owner: object, parent: ScopeFrame | None) -> None:
        self.owner = owner
        self.parent = parent

    def frames(self) -> tuple[ScopeFrame, ...]:
        """This frame and its enclosing ones, outermost first."""
        chain = []
        frame: ScopeFrame | None = self
        while frame is not None:
            chain.append(frame)
            frame = frame.parent
        return tuple(reversed(chain))

    def owners(self) -> tuple[object, ...]:
        """The owners of `frames()`, outermost first."""
        return tuple(f.owner for f in self.frames())


def current_scope() -> ScopeFrame | None:
    """The innermost scope open in this thread (None outside every scope)."""
    return _state.scope


class scope:
    """Mark the ops created inside as belonging to `owner` (e.g. an `nn.Module`).

    Scopes nest; each recorded op keeps the innermost `ScopeFrame`, which the graph
    drawing uses to cluster and fold nodes. `owner` can be any object: drawings label
    it by the model's module names when given, else by `str(owner)` for strings and
    the class name otherwise.
    """

    __slots__ = ("owner", "_previous")

    def __init__(self, owner: object) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        self._previous = _state.scope
        _state.scope = ScopeFrame(self.owner, self._previous)

    def __exit__(self, *exc: object) -> None:
        _state.scope = self._previous

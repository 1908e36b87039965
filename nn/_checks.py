"""Constructor argument checks shared by the layers: clear errors naming the layer and argument."""

from __future__ import annotations

import operator
from typing import Any


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

"""Input domains for gradient checks: maps from drawn arrays to arrays where the
function under test is smooth, so finite differences are meaningful.

    @given(arrays(shapes()))
    def test_abs(x):
        (x,) = away_from(0.0)([x])           # no element sits on the kink
        assert ag.gradcheck(ag.abs, [ag.Tensor(x, requires_grad=True)])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Domain = Callable[[list[np.ndarray]], list[np.ndarray]]


def positive(xs: list[np.ndarray]) -> list[np.ndarray]:
    """Every value moved to |x| + 0.2: inside the domain of log, sqrt, reciprocal ..."""
    return [np.abs(x) + 0.2 for x in xs]


def away_from(*points: float, gap: float = 0.05, which: int | None = None) -> Domain:
    """Values within `gap` of a kink pushed out to the kink +- gap (only input `which`, if given)."""

    def move(x: np.ndarray) -> np.ndarray:
        for p in points:
            d = x - p
            x = np.where(np.abs(d) < gap, p + np.where(d < 0, -gap, gap), x)
        return x

    return lambda xs: [move(x) if which in (None, i) else x for i, x in enumerate(xs)]


def distinct(xs: list[np.ndarray]) -> list[np.ndarray]:
    """Keep only the order of all drawn values, spaced 0.1 apart: no two elements tie
    (max, sort, maximum ... are smooth there)."""
    flat = np.concatenate([x.ravel() for x in xs])
    ranks = np.argsort(np.argsort(flat, kind="stable"), kind="stable")
    spread = (ranks - flat.size / 2) * 0.1
    bounds = np.cumsum([0] + [x.size for x in xs])
    return [spread[lo:hi].reshape(x.shape) for x, lo, hi in zip(xs, bounds[:-1], bounds[1:])]

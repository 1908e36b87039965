"""Shared test setup: Hypothesis profiles and a float64 default-dtype fixture.

Profile "ci" (the default) keeps example counts small so the suite stays fast;
`AUTOGRAD_HYPOTHESIS_PROFILE=long` runs many more examples for a deeper search.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import autograd_core as ag

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Under CI the examples are derandomized: every run checks the same cases, so a landing is
# never decided by a lucky draw. Local runs (and the long profile) explore new cases each time.
settings.register_profile("ci", max_examples=20, derandomize=bool(os.environ.get("CI")), print_blob=True, **_COMMON)
settings.register_profile("long", max_examples=500, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("AUTOGRAD_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def float64_default() -> Iterator[None]:
    """Make Python floats float64 for one test, restoring the previous default afterwards."""
    previous = ag.get_default_dtype()
    ag.set_default_dtype(np.float64)
    try:
        yield
    finally:
        ag.set_default_dtype(previous)

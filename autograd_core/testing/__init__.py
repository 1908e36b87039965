"""Hypothesis strategies for property tests of code built on `autograd_core`.

Needs `hypothesis` (the `testing` extra: `pip install "autograd-core[testing]"`)::

    from hypothesis import given
    import autograd_core as ag
    from autograd_core.testing import tensors

    @given(tensors())
    def test_tanh_gradient(x):
        assert ag.gradcheck(ag.tanh, [x])
"""

from .domains import away_from, distinct, positive
from .strategies import arrays, axes, broadcastable_shapes, indices, shapes, tensors

__all__ = [
    "arrays", "axes", "broadcastable_shapes", "indices", "shapes", "tensors",  # strategies
    "away_from", "distinct", "positive",  # input domains for gradient checks
]

"""Pooling: values against direct references, PyTorch's tie rule, gradcheck over drawn geometries, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F


def _distinct(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values spaced 0.1 apart in random order: no ties, so max pooling is differentiable."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.1


@st.composite
def pool2d_cases(draw: st.DrawFn, dilation: bool = True) -> dict:
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    span = [(ki - 1) * di + 1 for ki, di in zip(k, d)]
    pad = tuple(draw(st.integers(0, s // 2)) for s in span)
    h = draw(st.integers(max(1, span[0] - 2 * pad[0]), 7))
    w = draw(st.integers(max(1, span[1] - 2 * pad[1]), 7))
    return dict(shape=(draw(st.integers(1, 2)), 2, h, w), k=k, stride=stride, pad=pad, dilation=d,
                ceil_mode=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _ref_max_pool2d(x: np.ndarray, k: tuple, stride: tuple, pad: tuple, dilation: tuple, out: tuple) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0] + k[0] * dilation[0]), (pad[1], pad[1] + k[1] * dilation[1])),
                constant_values=-np.inf)
    res = np.full(x.shape[:2] + out, -np.inf)
    for i, j in itertools.product(range(k[0]), range(k[1])):
        a, b = i * dilation[0], j * dilation[1]
        res = np.maximum(res, xp[:, :, a : a + stride[0] * out[0] : stride[0], b : b + stride[1] * out[1] : stride[1]])
    return res


@settings(max_examples=25, deadline=None)
@given(pool2d_cases())
def test_max_pool2d_values_and_gradcheck(case: dict) -> None:
    x = ag.Tensor(_distinct(case["shape"], case["seed"]), requires_grad=True)
    args = (case["k"], case["stride"], case["pad"], case["dilation"], case["ceil_mode"])
    out = F.max_pool2d(x, *args)
    ref = _ref_max_pool2d(x.data, case["k"], case["stride"], case["pad"], case["dilation"], out.shape[2:])
    np.testing.assert_array_equal(out.data, ref)
    assume(np.isfinite(out.data).all())  # a dilated window can fall entirely on padding (-inf, no gradient)
    assert ag.gradcheck(lambda x: F.max_pool2d(x, *args), [x], eps=1e-4)
    assert ag.gradgradcheck(lambda x: F.max_pool2d(x, *args) ** 2, [x], eps=1e-4)


@settings(max_examples=25, deadline=None)
@given(pool2d_cases(dilation=False), st.booleans())
def test_avg_pool2d_values_and_gradcheck(case: dict, include_pad: bool) -> None:
    x = ag.Tensor(np.random.default_rng(case["seed"]).standard_normal(case["shape"]), requires_grad=True)
    args = (case["k"], case["stride"], case["pad"], case["ceil_mode"], include_pad)
    out = F.avg_pool2d(x, *args)
    # Reference: window sums of the zero-padded input over window sums of a ones mask.
    k, s, p = case["k"], case["stride"], case["pad"]
    oh, ow = out.shape[2:]
    big = ((p[0], p[0] + k[0] + s[0] * oh), (p[1], p[1] + k[1] + s[1] * ow))
    xp = np.pad(x.data, ((0, 0), (0, 0)) + big)
    counted = np.zeros(xp.shape[2:])  # which padded cells count in the mean (never ceil_mode's extra cells)
    inside = [(0, n + 2 * pi) if include_pad else (pi, pi + n) for n, pi in zip(case["shape"][2:], p)]
    counted[inside[0][0] : inside[0][1], inside[1][0] : inside[1][1]] = 1
    total, count = 0.0, 0.0
    for i, j in itertools.product(range(k[0]), range(k[1])):
        total = total + xp[:, :, i : i + s[0] * oh : s[0], j : j + s[1] * ow : s[1]]
        count = count + counted[i : i + s[0] * oh : s[0], j : j + s[1] * ow : s[1]]
    np.testing.assert_allclose(out.data, total / count, rtol=1e-12)
    assert ag.gradcheck(lambda x: F.avg_pool2d(x, *args), [x])
    assert ag.gradgradcheck(lambda x: F.avg_pool2d(x, *args) ** 2, [x])


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 5), st.one_of(st.none(), st.integers(1, 5)),
       st.integers(0, 2**16))
def test_adaptive_avg_pool2d(h: int, w: int, oh: int, ow: int | None, seed: int) -> None:
    x = ag.Tensor(np.random.default_rng(seed).standard_normal((2, 3, h, w)), requires_grad=True)
    out = F.adaptive_avg_pool2d(x, (oh, ow))
    ow_ = w if ow is None else ow
    assert out.shape == (2, 3, oh, ow_)
    for i, j in itertools.product(range(oh), range(ow_)):  # PyTorch's window boundaries
        rows = slice(i * h // oh, -(-(i + 1) * h // oh))
        cols = slice(j * w // ow_, -(-(j + 1) * w // ow_))
        expected = x.data[:, :, rows, cols].mean(axis=(2, 3))
        np.testing.assert_allclose(out.data[:, :, i, j], expected, rtol=1e-12, atol=1e-15)
    assert ag.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (oh, ow)), [x])


def test_max_pool_gradient_goes_to_first_maximum() -> None:
    x = ag.Tensor(np.array([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])
    # overlapping windows: one element chosen by two windows gets both gradients
    y = ag.Tensor(np.array([[[0.0, 5.0, 1.0, 5.0, 2.0]]]), requires_grad=True)
    F.max_pool1d(y, 3, stride=1).sum().backward()
    np.testing.assert_array_equal(y.grad, [[[0, 2, 0, 1, 0]]])


def test_max_pool_nan_propagates() -> None:
    x = ag.Tensor(np.array([[[1.0, np.nan, 2.0, np.nan]]]), requires_grad=True)
    out = F.max_pool1d(x, 4)
    assert np.isnan(out.data).all()
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[0, 0, 0, 1]]])  # PyTorch picks the last NaN


def test_float32_and_unbatched() -> None:
    x = ag.Tensor(np.random.default_rng(0).standard_normal((3, 8, 8)).astype(np.float32), requires_grad=True)
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(3)):
        out = layer(x)
        assert out.dtype == np.float32 and out.ndim == 3
        out.sum().backward()
        assert x.grad.dtype == np.float32
        x.grad = None
    assert nn.MaxPool1d(2)(ag.Tensor(np.zeros((2, 3, 6), np.float32))).shape == (2, 3, 3)
    assert nn.AvgPool1d(2)(ag.Tensor(np.zeros((2, 3, 6), np.float32))).shape == (2, 3, 3)
    assert nn.AdaptiveAvgPool1d(4)(ag.Tensor(np.zeros((2, 3, 6), np.float32))).shape == (2, 3, 4)


def test_modules_have_no_parameters_and_default_stride() -> None:
    pool = nn.MaxPool2d(3)
    assert list(pool.parameters()) == [] and pool.stride == 3
    assert F.max_pool2d(ag.Tensor(np.zeros((1, 1, 9, 9))), 3).shape == (1, 1, 3, 3)


def test_errors_name_the_problem() -> None:
    x = ag.Tensor(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="max_pool2d.*half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="max_pool2d.*does not fit"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="avg_pool2d.*3-d.*4-d"):
        F.avg_pool2d(ag.Tensor(np.zeros((4, 4))), 2)
    with pytest.raises(ValueError, match="kernel_size"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(TypeError, match="floating"):
        F.avg_pool2d(ag.Tensor(np.zeros((1, 1, 4, 4), dtype=np.int64)), 2)

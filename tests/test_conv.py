"""conv1d / conv2d and Conv1d / Conv2d: gradients over drawn geometries, layouts, init, errors."""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F


def _direct_conv2d(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pad: tuple[int, int],
                   dilation: tuple[int, int], groups: int) -> np.ndarray:
    """A slow, obviously correct reference: sum over kernel offsets of shifted input slices."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dilation[0] : i * dilation[0] + stride[0] * (oh - 1) + 1 : stride[0],
                           j * dilation[1] : j * dilation[1] + stride[1] * (ow - 1) + 1 : stride[1]]
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j])
    return out


@st.composite
def conv2d_cases(draw: st.DrawFn) -> dict:
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = (draw(st.integers(0, 2)), draw(st.integers(0, 1)))
    span = [(ki - 1) * d + 1 for ki, d in zip(k, dilation)]
    h = draw(st.integers(max(1, span[0] - 2 * pad[0]), 7))
    w = draw(st.integers(max(1, span[1] - 2 * pad[1]), 6))
    return dict(n=draw(st.integers(1, 2)), c=cg * groups, o=og * groups, h=h, w=w, k=k, stride=stride,
                dilation=dilation, pad=pad, groups=groups, bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _tensors(case: dict) -> tuple[ag.Tensor, ag.Tensor, ag.Tensor | None]:
    rng = np.random.default_rng(case["seed"])
    x = ag.Tensor(rng.standard_normal((case["n"], case["c"], case["h"], case["w"])), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((case["o"], case["c"] // case["groups"]) + case["k"]), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(case["o"]), requires_grad=True) if case["bias"] else None
    return x, w, b


@settings(max_examples=25, deadline=None)
@given(conv2d_cases())
def test_conv2d_matches_direct_sum_and_gradcheck(case: dict) -> None:
    x, w, b = _tensors(case)
    geo = (case["stride"], case["pad"], case["dilation"], case["groups"])
    out = F.conv2d(x, w, b, *geo)
    expected = _direct_conv2d(x.data, w.data, *geo) + (0 if b is None else b.data[:, None, None])
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    inputs = [x, w] + ([b] if b is not None else [])
    assert ag.gradcheck(lambda *t: F.conv2d(t[0], t[1], t[2] if len(t) > 2 else None, *geo), inputs)


@contextlib.contextmanager
def _images_per_block(k: int) -> Iterator[None]:
    """Run convolutions in blocks of `k` images (the default packs these small batches into one)."""
    impl = importlib.import_module("nn.functional.conv")
    saved = impl.images_per_block
    impl.images_per_block = lambda column_bytes, n: min(k, n)
    try:
        yield
    finally:
        impl.images_per_block = saved


@settings(max_examples=20, deadline=None)
@given(conv2d_cases(), st.integers(3, 5), st.sampled_from([1, 2]), st.sampled_from(["x", "w", "b", "xw", "xwb"]))
def test_conv2d_in_blocks_gives_the_same_output_and_gradients(case: dict, n: int, per_block: int,
                                                              wanted: str) -> None:
    """Several blocks, a short last one, and every subset of gradients match the one-block result."""
    case = {**case, "n": n, "bias": True}
    geo = (case["stride"], case["pad"], case["dilation"], case["groups"])
    seed = np.random.default_rng(case["seed"] + 1).standard_normal
    x, w, b = _tensors(case)
    out = F.conv2d(x, w, b, *geo)
    g = seed(out.shape)
    out.backward(g)
    x2, w2, b2 = _tensors(case)
    for name, t in zip("xwb", (x2, w2, b2)):
        t.requires_grad = name in wanted
    with _images_per_block(per_block):
        out2 = F.conv2d(x2, w2, b2, *geo)
        out2.backward(g)
    np.testing.assert_allclose(out2.data, out.data, rtol=1e-12, atol=1e-12)
    for name, t, ref in zip("xwb", (x2, w2, b2), (x, w, b)):
        if name in wanted:
            np.testing.assert_allclose(t.grad, ref.grad, rtol=1e-12, atol=1e-12)
        else:
            assert t.grad is None


@settings(max_examples=8, deadline=None)
@given(conv2d_cases())
def test_conv2d_second_order(case: dict) -> None:
    case = {**case, "n": 1, "bias": True}
    x, w, b = _tensors(case)
    geo = (case["stride"], case["pad"], case["dilation"], case["groups"])
    assert ag.gradgradcheck(lambda x, w, b: F.conv2d(x, w, b, *geo), [x, w, b])


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.sampled_from([1, 2]),
       st.integers(0, 2**16))
def test_conv1d_gradcheck(k: int, stride: int, pad: int, dilation: int, groups: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    length = max(1, (k - 1) * dilation + 1 - 2 * pad) + rng.integers(0, 4)
    x = ag.Tensor(rng.standard_normal((2, 2 * groups, length)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((groups, 2, k)), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(groups), requires_grad=True)
    out = F.conv1d(x, w, b, stride, pad, dilation, groups)
    # conv1d is conv2d over a height-1 image
    as_2d = F.conv2d(x.data[:, :, None], w.data[:, :, None], b.data, (1, stride), (0, pad), (1, dilation), groups)
    np.testing.assert_allclose(out.data, as_2d.data[:, :, 0], rtol=1e-12, atol=1e-12)
    assert ag.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride, pad, dilation, groups), [x, w, b])
    assert ag.gradgradcheck(lambda x, w: F.conv1d(x, w, None, stride, pad, dilation, groups), [x, w])


def test_padding_same_and_valid() -> None:
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal((1, 2, 5, 6)), requires_grad=True)
    w = ag.Tensor(rng.standard_normal((3, 2, 4, 3)), requires_grad=True)
    same = F.conv2d(x, w, padding="same", dilation=(1, 2))
    assert same.shape == (1, 3, 5, 6)
    # even kernel: the extra padding goes on the right/bottom, as in PyTorch
    manual = F.conv2d(ag.pad(x, ((0, 0), (0, 0), (1, 2), (2, 2))), w, dilation=(1, 2))
    np.testing.assert_allclose(same.data, manual.data, rtol=1e-12)
    assert F.conv2d(x, w, padding="valid").shape == (1, 3, 2, 4)
    assert ag.gradcheck(lambda x, w: F.conv2d(x, w, padding="same"), [x, w])


def test_unbatched_input_and_float32() -> None:
    x = np.random.default_rng(1).standard_normal((3, 6, 6)).astype(np.float32)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    y = conv(ag.Tensor(x))
    assert y.shape == (4, 6, 6) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, conv(ag.Tensor(x[None])).data[0], rtol=1e-6)
    xt = ag.Tensor(x[None], requires_grad=True)
    conv(xt).sum().backward()
    assert xt.grad.dtype == np.float32 and conv.weight.grad.dtype == np.float32 and conv.bias.grad.dtype == np.float32


def test_conv_module_layout_and_init() -> None:
    nn.manual_seed(0)
    conv = nn.Conv2d(6, 8, (3, 2), stride=2, groups=2, bias=True)
    assert dict((k, v.shape) for k, v in conv.state_dict().items()) == {"weight": (8, 3, 3, 2), "bias": (8,)}
    bound = 1 / math.sqrt(3 * 3 * 2)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound  # uniform over the whole range, not a narrower one
    assert conv.weight.dtype == ag.get_default_dtype()
    c1 = nn.Conv1d(2, 3, 5, bias=False)
    assert c1.bias is None and [n for n, _ in c1.named_parameters()] == ["weight"]
    assert "groups=2" in repr(conv)


@pytest.mark.parametrize("mode, np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_padding_modes(mode: str, np_mode: str) -> None:
    ag.set_default_dtype(np.float64)
    try:
        conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode)
    finally:
        ag.set_default_dtype(np.float32)
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 5))
    expected = F.conv2d(np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode), conv.weight, conv.bias)
    np.testing.assert_allclose(conv(ag.Tensor(x)).data, expected.data, rtol=1e-12)
    xt = ag.Tensor(x, requires_grad=True)
    assert ag.gradcheck(lambda x: conv(x), [xt])


def test_errors_name_the_problem() -> None:
    x = ag.Tensor(np.zeros((1, 4, 5, 5)))
    with pytest.raises(ValueError, match="conv2d.*channels"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="conv2d.*4-d"):
        F.conv2d(x, np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(x, np.zeros((2, 4, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="does not fit"):
        F.conv2d(x, np.zeros((2, 4, 7, 7)))
    with pytest.raises(ValueError, match="bias"):
        F.conv2d(x, np.zeros((2, 4, 3, 3)), bias=np.zeros(3))
    with pytest.raises(ValueError, match="padding"):
        F.conv2d(x, np.zeros((2, 4, 3, 3)), padding="full")
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(x.astype(np.float32), np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(4, 6, 3, padding_mode="mirror")


def test_empty_batch_and_zero_channels() -> None:
    w = ag.Tensor(np.ones((2, 3, 3, 3)), requires_grad=True)
    b = ag.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    x = ag.Tensor(np.zeros((0, 3, 5, 5)), requires_grad=True)
    y = F.conv2d(x, w, b, padding=1)
    assert y.shape == (0, 2, 5, 5)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 5, 5) and not w.grad.any() and not b.grad.any()
    # No input channels: the output is the bias alone, so each bias entry's gradient counts its outputs.
    x0 = ag.Tensor(np.zeros((2, 0, 4, 5)), requires_grad=True)
    w0 = ag.Tensor(np.zeros((2, 0, 3, 3)), requires_grad=True)
    b.grad = None
    y0 = F.conv2d(x0, w0, b, padding=1)
    np.testing.assert_array_equal(y0.data, np.broadcast_to(b.data[:, None, None], (2, 2, 4, 5)))
    y0.sum().backward()
    np.testing.assert_array_equal(b.grad, [40.0, 40.0])
    assert w0.grad.shape == (2, 0, 3, 3) and x0.grad.shape == (2, 0, 4, 5)



@contextlib.contextmanager
def _split_on_two_threads(calls: list) -> Iterator[None]:
    """Two threads, with even tiny batches split across them; `calls` records each split."""
    from autograd_core import parallel

    previous, per_thread, run = ag.get_num_threads(), parallel.MIN_ELEMENTS_PER_THREAD, parallel.parallel_for
    ag.set_num_threads(2)
    parallel.MIN_ELEMENTS_PER_THREAD = 1
    parallel.parallel_for = lambda *a: calls.append(a) or run(*a)
    try:
        yield
    finally:
        ag.set_num_threads(previous)
        parallel.MIN_ELEMENTS_PER_THREAD, parallel.parallel_for = per_thread, run


@settings(max_examples=15, deadline=None)
@given(conv2d_cases(), st.integers(2, 7), st.sampled_from(["x", "w", "b", "xw", "xwb"]))
def test_conv2d_on_two_threads_equals_one_thread(case: dict, n: int, wanted: str) -> None:
    """Ranges of images on the pool give the one-thread results to rounding: not bit for bit,
    because a thread's block holds fewer images, and BLAS's accumulation order depends on a
    product's width; the weight and bias gradients also sum one partial per range."""
    case = {**case, "n": n, "bias": True}
    geo = (case["stride"], case["pad"], case["dilation"], case["groups"])

    def run() -> tuple[np.ndarray, list]:
        x, w, b = _tensors(case)
        for name, t in zip("xwb", (x, w, b)):
            t.requires_grad = name in wanted
        out = F.conv2d(x, w, b, *geo)
        out.backward(np.random.default_rng(case["seed"] + 1).standard_normal(out.shape))
        return out.data, [t.grad for t in (x, w, b)]

    previous = ag.get_num_threads()
    ag.set_num_threads(1)
    try:
        out1, grads1 = run()
    finally:
        ag.set_num_threads(previous)
    calls: list = []
    with _split_on_two_threads(calls):
        out2, grads2 = run()
    assert calls  # the split really happened
    np.testing.assert_allclose(out2, out1, rtol=1e-12, atol=1e-12)
    for name, a, r in zip("xwb", grads2, grads1):
        if name not in wanted:
            assert a is None and r is None
        else:
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)

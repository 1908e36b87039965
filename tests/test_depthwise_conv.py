"""Depthwise conv1d / conv2d (groups == in_channels): the channel-major plan against the general
im2col plan, finite differences and PyTorch, over drawn geometries; its use, tiles and threads."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_core as ag
import nn
import nn.functional as F
from autograd_core import parallel
from nn.functional import _depthwise
from nn.functional.conv import _Plan


@st.composite
def depthwise_cases(draw: st.DrawFn, nd: int) -> dict:
    """A depthwise convolution: channels, filters per channel, kernel, stride, dilation, padding, bias."""
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    kind = draw(st.sampled_from(["ints", "ints", "same", "valid"]))
    stride = (1,) * nd if kind == "same" else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    pad: Any = kind if kind != "ints" else tuple(draw(st.integers(0, 3)) for _ in range(nd))
    pads = pad if kind == "ints" else (0,) * nd
    size = tuple(draw(st.integers(max(1, (ki - 1) * d + 1 - 2 * p), 8)) for ki, d, p in zip(k, dilation, pads))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(2, 4)), m=draw(st.integers(1, 3)), size=size, k=k,
                stride=stride, pad=pad, dilation=dilation, bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def _arrays(case: dict, dtype: Any = np.float64) -> list[np.ndarray | None]:
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"]) + case["size"])
    w = rng.standard_normal((case["c"] * case["m"], 1) + case["k"])
    b = rng.standard_normal(case["c"] * case["m"]) if case["bias"] else None
    return [None if a is None else a.astype(dtype) for a in (x, w, b)]


def _conv(case: dict) -> Any:
    fn = F.conv2d if len(case["k"]) == 2 else F.conv1d
    return lambda x, w, b=None: fn(x, w, b, case["stride"], case["pad"], case["dilation"], case["c"])


@contextlib.contextmanager
def _general_plan_only() -> Iterator[None]:
    """Send every convolution down the im2col path, as before the depthwise plan."""
    saved = _depthwise.depthwise_eligible
    _depthwise.depthwise_eligible = lambda *a: False
    try:
        yield
    finally:
        _depthwise.depthwise_eligible = saved


@contextlib.contextmanager
def _tile_bytes(n: int) -> Iterator[None]:
    saved = _depthwise.TILE_BYTES
    _depthwise.TILE_BYTES = n
    try:
        yield
    finally:
        _depthwise.TILE_BYTES = saved


@contextlib.contextmanager
def _spy_plans() -> Iterator[list[str]]:
    """Record which plan class each convolution's forward and backward ran on."""
    seen: list[str] = []
    saved = {cls: (cls.forward, cls.backward) for cls in (_depthwise.DepthwisePlan, _Plan)}
    for cls, (fwd, bwd) in saved.items():
        cls.forward = lambda self, *a, _f=fwd, _n=cls.__name__: seen.append(_n + ".forward") or _f(self, *a)
        cls.backward = lambda self, *a, _f=bwd, _n=cls.__name__: seen.append(_n + ".backward") or _f(self, *a)
    try:
        yield seen
    finally:
        for cls, (fwd, bwd) in saved.items():
            cls.forward, cls.backward = fwd, bwd


def _run(case: dict, wanted: str = "xwb", dtype: Any = np.float64) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The output and the (x, w, b) gradients for a fixed random cotangent; None where not wanted."""
    arrays = _arrays(case, dtype)
    ts = [None if a is None else ag.Tensor(a, requires_grad=name in wanted) for name, a in zip("xwb", arrays)]
    out = _conv(case)(*ts)
    seed = np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(dtype)
    if any(t is not None and t.requires_grad for t in ts):
        out.backward(seed)
    return out.data, [None if t is None else t.grad for t in ts]


def _assert_same(a: tuple, b: tuple, **tol: float) -> None:
    np.testing.assert_allclose(a[0], b[0], **tol)
    for ga, gb in zip(a[1], b[1]):
        assert (ga is None) == (gb is None)
        if ga is not None:
            np.testing.assert_allclose(ga, gb, **tol)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases), st.sampled_from(["xwb", "x", "w", "b", "xb", "wb"]))
def test_matches_the_general_plan(case: dict, wanted: str) -> None:
    """Values and every subset of gradients agree with im2col's, and the depthwise plan ran them."""
    with _spy_plans() as seen:
        ours = _run(case, wanted)
    backward = any(name in wanted for name in "xw") or ("b" in wanted and case["bias"])
    assert seen == ["DepthwisePlan.forward"] + ["DepthwisePlan.backward"] * backward
    with _general_plan_only():
        reference = _run(case, wanted)
    _assert_same(ours, reference, rtol=1e-11, atol=1e-11)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases))
def test_gradcheck(case: dict) -> None:
    x, w, b = (None if a is None else ag.Tensor(a, requires_grad=True) for a in _arrays(case))
    conv = _conv(case)
    if b is None:
        assert ag.gradcheck(lambda x, w: conv(x, w), [x, w])
    else:
        assert ag.gradcheck(conv, [x, w, b])


@settings(max_examples=8, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases))
def test_second_order(case: dict) -> None:
    """create_graph runs the differentiable vjps, which read the plan's geometry."""
    case = {**case, "n": 1, "c": 2, "m": min(case["m"], 2), "bias": True}
    x, w, b = (ag.Tensor(a, requires_grad=True) for a in _arrays(case))
    assert ag.gradgradcheck(_conv(case), [x, w, b])


def test_double_backward_matches_the_general_plan() -> None:
    case = dict(n=2, c=3, m=2, size=(6, 5), k=(3, 2), stride=(1, 2), pad=(1, 1), dilation=(2, 1), bias=True, seed=3)

    def hvp() -> list[np.ndarray]:
        x, w, b = (ag.Tensor(a, requires_grad=True) for a in _arrays(case))
        out = _conv(case)(x, w, b)
        gx, gw = ag.grad((out * out).sum(), [x, w], create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        return [x.grad, w.grad, b.grad]

    ours = hvp()
    with _general_plan_only():
        reference = hvp()
    for a, r in zip(ours, reference):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
@settings(max_examples=15, deadline=None)
@given(case=st.sampled_from([1, 2]).flatmap(depthwise_cases))
def test_matches_torch(case: dict, dtype: Any, tol: float) -> None:
    torch = pytest.importorskip("torch")
    ours = _run(case, dtype=dtype)
    fn = torch.nn.functional.conv2d if len(case["k"]) == 2 else torch.nn.functional.conv1d
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in _arrays(case, dtype)]
    out = fn(*ts, stride=case["stride"], padding=case["pad"], dilation=case["dilation"], groups=case["c"])
    out.backward(torch.tensor(np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(dtype)))
    theirs = (out.detach().numpy(), [None if t is None else t.grad.numpy() for t in ts])
    assert ours[0].dtype == dtype and all(g is None or g.dtype == dtype for g in ours[1])
    _assert_same(ours, theirs, rtol=tol, atol=tol)


def test_benchmark_shape_matches_torch_in_float32() -> None:
    """The shape the plan was tuned on (several tiles), with PyTorch's float32 as the reference."""
    torch = pytest.importorskip("torch")
    case = dict(n=8, c=64, m=1, size=(28, 28), k=(3, 3), stride=(1, 1), pad=1, dilation=(1, 1), bias=True, seed=0)
    with _spy_plans() as seen:
        ours = _run(case, dtype=np.float32)
    assert "DepthwisePlan.backward" in seen
    ts = [torch.tensor(a, requires_grad=True) for a in _arrays(case, np.float32)]
    out = torch.nn.functional.conv2d(*ts, padding=1, groups=64)
    out.backward(torch.tensor(np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)))
    np.testing.assert_allclose(ours[0], out.detach().numpy(), rtol=1e-4, atol=1e-4)
    for a, t in zip(ours[1], ts):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("k, stride, pad, dilation", [
    ((3, 1), (1, 1), (1, 0), (1, 1)), ((1, 3), (1, 1), (0, 1), (1, 1)),  # tall and wide: both orientations
    ((2, 5), (2, 1), (1, 3), (1, 2)), ((5, 2), (1, 2), (2, 0), (2, 1)), ((1, 1), (1, 1), (0, 0), (1, 1)),
    ((3, 3), (2, 2), (1, 1), (1, 1)), ((4, 4), (1, 1), "same", (1, 1)), ((3, 3), (1, 1), "valid", (2, 2)),
])
@pytest.mark.parametrize("m", [1, 3])
def test_orientations_and_geometries(k: tuple, stride: tuple, pad: Any, dilation: tuple, m: int) -> None:
    """Kernels taller and wider than each other (the backward's two orientations), 1x1, strides, 'same'."""
    case = dict(n=3, c=3, m=m, size=(9, 8), k=k, stride=stride, pad=pad, dilation=dilation, bias=True, seed=7)
    ours = _run(case)
    with _general_plan_only():
        reference = _run(case)
    _assert_same(ours, reference, rtol=1e-11, atol=1e-11)
    with _tile_bytes(600):
        _assert_same(_run(case), reference, rtol=1e-11, atol=1e-11)


@contextlib.contextmanager
def _dot_run(n: int | None) -> Iterator[None]:
    """Take the weight gradient's products with `np.dot` from runs of `n` on (None: unchanged)."""
    saved = _depthwise.DOT_RUN
    _depthwise.DOT_RUN = saved if n is None else n
    try:
        yield
    finally:
        _depthwise.DOT_RUN = saved


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases))
def test_dot_products_match_matmul(case: dict) -> None:
    """The per-channel `np.dot` products (the GIL-free ones long runs take) equal the batched matmul's."""
    reference = _run(case, "wb")
    with _dot_run(1):
        _assert_same(_run(case, "wb"), reference, rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases), st.sampled_from([1, 600, 5000]),
       st.sampled_from(["xwb", "x", "wb", "b"]))
def test_small_tiles_give_the_same_results(case: dict, tile_bytes: int, wanted: str) -> None:
    """Channel blocks and image ranges of any size (down to one channel of one image) agree with one
    tile; the weight gradient then sums one partial per image range."""
    case = {**case, "n": case["n"] + 2}
    whole = _run(case, wanted)
    with _tile_bytes(tile_bytes):
        tiled = _run(case, wanted)
    _assert_same(tiled, whole, rtol=1e-12, atol=1e-12)


@contextlib.contextmanager
def _threads(n: int, split_everything: bool = False) -> Iterator[list]:
    """`n` threads (restoring the previous count); optionally splitting even tiny passes. Yields the
    recorded parallel_for calls."""
    calls: list = []
    previous, per_thread, run = ag.get_num_threads(), _depthwise.WORK_PER_THREAD, parallel.parallel_for
    ag.set_num_threads(n)
    if split_everything:
        _depthwise.WORK_PER_THREAD = 1
    parallel.parallel_for = lambda *a: calls.append(a) or run(*a)
    try:
        yield calls
    finally:
        ag.set_num_threads(previous)
        _depthwise.WORK_PER_THREAD, parallel.parallel_for = per_thread, run


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1, 2]).flatmap(depthwise_cases), st.sampled_from([None, 600]),
       st.sampled_from(["xwb", "x", "wb"]), st.sampled_from([np.float32, np.float64]), st.sampled_from([None, 1]))
def test_two_threads_equal_one_thread_bit_for_bit(case: dict, tile_bytes: int | None, wanted: str,
                                                  dtype: Any, dot_run: int | None) -> None:
    """Threads take whole channel blocks and every channel does the same arithmetic as on one thread."""
    with _tile_bytes(tile_bytes or _depthwise.TILE_BYTES), _dot_run(dot_run):
        with _threads(1):
            one = _run(case, wanted, dtype)
        with _threads(2, split_everything=True) as calls:
            two = _run(case, wanted, dtype)
    assert any(workers > 1 for _, _, workers in calls)  # the split really happened
    _assert_same(two, one, rtol=0, atol=0)


def test_a_big_pass_splits_on_two_threads_by_itself() -> None:
    x = ag.Tensor(np.random.default_rng(0).standard_normal((16, 64, 28, 28)).astype(np.float32), requires_grad=True)
    w = ag.Tensor(np.random.default_rng(1).standard_normal((64, 1, 3, 3)).astype(np.float32), requires_grad=True)
    with _threads(2) as calls:
        F.conv2d(x, w, padding=1, groups=64).sum().backward()
    assert [workers for _, _, workers in calls] == [2, 2]
    small = ag.Tensor(np.zeros((2, 64, 28, 28), dtype=np.float32), requires_grad=True)
    with _threads(2) as calls:
        F.conv2d(small, w, padding=1, groups=64).sum().backward()
    assert [workers for _, _, workers in calls] == [1, 1]  # too little work to pay for a second thread


def test_which_convolutions_take_the_depthwise_plan() -> None:
    rng = np.random.default_rng(0)
    x2, x1 = ag.Tensor(rng.standard_normal((2, 4, 6, 6))), ag.Tensor(rng.standard_normal((2, 4, 9)))
    cases = [
        (lambda: F.conv2d(x2, rng.standard_normal((4, 1, 3, 3)), groups=4), True),
        (lambda: F.conv2d(x2, rng.standard_normal((8, 1, 3, 3)), stride=2, dilation=2, groups=4), True),
        (lambda: F.conv1d(x1, rng.standard_normal((12, 1, 5)), padding="same", groups=4), True),
        (lambda: nn.Conv2d(4, 4, 3, groups=4, bias=False).to(np.float64)(x2), True),
        (lambda: F.conv2d(x2, rng.standard_normal((4, 4, 3, 3))), False),  # groups=1
        (lambda: F.conv2d(x2, rng.standard_normal((4, 2, 3, 3)), groups=2), False),  # two channels per group
        (lambda: F.conv2d(x2, rng.standard_normal((20, 1, 3, 3)), groups=4), False),  # 5 filters per channel
        (lambda: F.conv2d(x2[:, :1], rng.standard_normal((4, 1, 3, 3))), False),  # one input channel
    ]
    for make, depthwise in cases:
        with _spy_plans() as seen:
            make()
        assert seen == (["DepthwisePlan.forward"] if depthwise else ["_Plan.forward"])


def test_unbatched_empty_batch_and_module() -> None:
    rng = np.random.default_rng(0)
    w = ag.Tensor(rng.standard_normal((6, 1, 3, 3)), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(6), requires_grad=True)
    x = rng.standard_normal((3, 5, 7))
    single = F.conv2d(x, w, b, padding=1, groups=3)
    np.testing.assert_allclose(single.data, F.conv2d(x[None], w, b, padding=1, groups=3).data[0], rtol=1e-12)
    empty = ag.Tensor(np.zeros((0, 3, 5, 7)), requires_grad=True)
    y = F.conv2d(empty, w, b, padding=1, groups=3)
    assert y.shape == (0, 6, 5, 7)
    w.grad = b.grad = None
    y.sum().backward()
    assert empty.grad.shape == (0, 3, 5, 7) and not w.grad.any() and not b.grad.any()
    conv = nn.Conv1d(4, 8, 3, padding=2, dilation=2, groups=4)
    xt = ag.Tensor(rng.standard_normal((2, 4, 10)).astype(np.float32), requires_grad=True)
    out = conv(xt)
    assert out.shape == (2, 8, 10) and out.dtype == np.float32
    out.sum().backward()
    assert xt.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32

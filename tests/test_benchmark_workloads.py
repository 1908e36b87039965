"""The benchmark suite's workloads at tiny size: every factory runs, and the peers compute what ours does.

Each step workload runs twice at `tiny=True` in this engine, in every peer engine that
defines a factory for it (skipped with the reason where the peer is not installed) and
as its BLAS floor; the job workloads run at tiny size. Beyond "it ran": the scalar MLP
gives the same losses, step after step, in every engine, and the peers' hand-written
attention, GRU and convolutions match PyTorch's modules on the same weights. No timings.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import shutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from benchmarks.workloads import ENGINES, WORKLOADS

STEP_WORKLOADS = [w for w in WORKLOADS.values() if w.kind == "step"]
JOB_WORKLOADS = [w for w in WORKLOADS.values() if w.kind == "job"]
# Factories whose first step compiles code for a long time: built always, stepped only with AUTOGRAD_SLOW_TESTS=1.
SLOW_FIRST_STEP = {("rnn_step", "mygrad"): "MyGrad's gru is compiled by numba on its first call (30 s or more)"}


def _factory(name: str, suffix: str) -> Callable[..., Any] | None:
    w = WORKLOADS[name]
    return getattr(importlib.import_module(w.module), f"{w.prefix}_{suffix}", None)


def _defined(suffixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(workload, suffix) for every factory the workload modules define."""
    return [(w.name, s) for w in STEP_WORKLOADS for s in suffixes if _factory(w.name, s) is not None]


# The package each engine is, for telling "this engine is absent" from "a package it needs is absent".
ENGINE_PACKAGES = {"ours": "autograd_core", "torch": "torch", "mygrad": "mygrad", "hips": "autograd",
                   "micrograd": "micrograd", "blas": "numpy"}


def _build(name: str, suffix: str) -> Callable[[], Any] | None:
    """The tiny step; None when a package the workload needs beyond its engine is absent (after
    checking that the error says what to install). An absent engine skips the test."""
    try:
        return _factory(name, suffix)(tiny=True)
    except ImportError as exc:
        if importlib.util.find_spec(ENGINE_PACKAGES[suffix]) is None:
            pytest.skip(f"{name}_{suffix}: {exc}")
        assert "pip install" in str(exc), f"{name}_{suffix} raised an ImportError that names no package: {exc}"
        return None


@pytest.mark.parametrize("name", [w.name for w in STEP_WORKLOADS])
def test_ours_runs_tiny(name: str) -> None:
    step = _build(name, "ours")
    if step is None:
        return
    step()
    step()  # a second step: what the first left behind (grads, updated weights) is handled


@pytest.mark.parametrize(("name", "engine"), _defined(tuple(e for e in ENGINES if e != "ours")))
def test_peer_runs_tiny(name: str, engine: str) -> None:
    step = _build(name, engine)
    if step is None:
        return
    if (name, engine) in SLOW_FIRST_STEP and not os.environ.get("AUTOGRAD_SLOW_TESTS"):
        pytest.skip(f"{SLOW_FIRST_STEP[name, engine]}; set AUTOGRAD_SLOW_TESTS=1 to run it")
    step()
    step()


@pytest.mark.parametrize(("name", "suffix"), _defined(("blas",)))
def test_blas_floor_runs_tiny(name: str, suffix: str) -> None:
    step = _build(name, suffix)
    if step is not None:
        step()


@pytest.mark.parametrize("name", [w.name for w in STEP_WORKLOADS])
def test_factories_take_tiny(name: str) -> None:
    assert _factory(name, "ours") is not None and _factory(name, "torch") is not None
    for suffix in (*ENGINES, "blas"):
        factory = _factory(name, suffix)
        if factory is not None:
            assert "tiny" in inspect.signature(factory).parameters, f"{name}_{suffix}"


@pytest.mark.parametrize("engine", [e for e in ENGINES if e != "ours"])
def test_scalar_mlp_same_losses_in_every_engine(engine: str) -> None:
    """Same data, same initial weights, same float64 scalar code: the same losses, and they go down."""
    from benchmarks import bench_scalar

    try:
        theirs = getattr(bench_scalar, f"scalar_mlp_{engine}")(tiny=True)
    except ImportError as exc:
        pytest.skip(f"scalar_mlp_{engine}: {exc}")
    ours = bench_scalar.scalar_mlp_ours(tiny=True)
    ours_losses = [ours() for _ in range(4)]
    their_losses = [theirs() for _ in range(4)]
    np.testing.assert_allclose(their_losses, ours_losses, rtol=1e-12)
    assert all(b < a for a, b in zip(ours_losses, ours_losses[1:])), ours_losses


def test_peer_attention_matches_torch() -> None:
    """The matmul-and-softmax attention MyGrad and HIPS autograd run is MultiheadAttention's forward."""
    torch = pytest.importorskip("torch")
    from benchmarks import bench_sequence as seq

    x = seq._attention_data(tiny=True)
    p = seq._attention_params(tiny=True)
    p["b_in"] = np.random.default_rng(2).standard_normal(p["b_in"].shape).astype(np.float32)
    _, _, dim, heads = seq._attention_config(tiny=True)

    def softmax(s: np.ndarray) -> np.ndarray:
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    mha = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(p["w_in"].T))
        mha.in_proj_bias.copy_(torch.from_numpy(p["b_in"]))
        mha.out_proj.weight.copy_(torch.from_numpy(p["w_out"].T))
        mha.out_proj.bias.copy_(torch.from_numpy(p["b_out"]))
        t = torch.from_numpy(x)
        expected = mha(t, t, t)[0].numpy()
    np.testing.assert_allclose(seq._self_attention(x, p, heads, softmax), expected, rtol=1e-5, atol=1e-6)


def test_peer_gru_matches_torch() -> None:
    """The GRU loop HIPS autograd runs is PyTorch's GRU, gate for gate."""
    torch = pytest.importorskip("torch")
    from benchmarks import bench_sequence as seq

    xs = seq._rnn_data(tiny=True)
    p = seq._gru_params(tiny=True)
    gru = torch.nn.GRU(xs.shape[2], p["w_hh"].shape[0])
    with torch.no_grad():
        for name, key in (("weight_ih_l0", "w_ih"), ("weight_hh_l0", "w_hh")):
            getattr(gru, name).copy_(torch.from_numpy(p[key].T))
        gru.bias_ih_l0.copy_(torch.from_numpy(p["b_ih"]))
        gru.bias_hh_l0.copy_(torch.from_numpy(p["b_hh"]))
        expected = gru(torch.from_numpy(xs))[1][-1].numpy()
    state = seq._gru_last_state(xs, p, lambda a: 1 / (1 + np.exp(-a)), np.tanh)
    np.testing.assert_allclose(state, expected, rtol=1e-5, atol=1e-6)


def test_peer_convolutions_match_torch() -> None:
    """MyGrad's conv_nd and HIPS autograd's convolve (kernel flipped) as the workloads call them: torch's conv2d."""
    torch = pytest.importorskip("torch")
    from benchmarks import bench_cnn

    x, w, _ = bench_cnn._conv_data(tiny=True)
    b = np.arange(w.shape[0], dtype=np.float32)
    expected = torch.nn.functional.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), padding=1).numpy()
    checked = 0
    if importlib.util.find_spec("mygrad"):
        from mygrad.nnet import conv_nd

        out = conv_nd(x, w, stride=1, padding=1) + b[:, None, None]
        np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
        checked += 1
    if importlib.util.find_spec("autograd"):
        import autograd.numpy as anp
        from autograd.scipy.signal import convolve

        flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        np.testing.assert_allclose(bench_cnn._hips_conv(anp, convolve, x, flipped, b), expected, rtol=1e-5, atol=1e-5)
        checked += 1
    if not checked:
        pytest.skip("neither MyGrad nor HIPS autograd is installed")


def test_mnist1d_job_tiny() -> None:
    pytest.importorskip("mnist1d")
    from benchmarks.bench_jobs import MNIST1D_TINY_STEPS, mnist1d_job

    engines = ["ours"] + (["torch"] if importlib.util.find_spec("torch") else [])
    for engine in engines:
        out = mnist1d_job(engine, 1, tiny=True)
        assert set(out["per_model"]) == set(out["accuracy"]) == {"mlp", "cnn", "gru"}
        assert out["seconds"] == pytest.approx(sum(out["per_model"].values()))
        assert all(0.0 <= a <= 1.0 for a in out["accuracy"].values())
        assert out["steps"] == MNIST1D_TINY_STEPS
    with pytest.raises(NotImplementedError):  # the suite reports n/a, not a missing package
        mnist1d_job("micrograd", 1, tiny=True)


def test_ddp_job_tiny() -> None:
    from benchmarks.bench_jobs import ddp_job

    with pytest.raises(NotImplementedError):
        ddp_job("torch", 1, tiny=True)
    if shutil.which("mpiexec") is None or importlib.util.find_spec("mpi4py") is None:
        pytest.skip("ddp_throughput needs mpiexec and mpi4py")
    out = ddp_job("ours", 1, tiny=True)
    assert out["seconds"] > 0 and out["one_process_s"] > 0 and out["speedup"] > 0
    assert 0.0 <= out["overlap"] <= 1.0


def test_every_job_workload_has_its_job() -> None:
    for w in JOB_WORKLOADS:
        job = getattr(importlib.import_module(w.module), f"{w.prefix}_job")
        assert list(inspect.signature(job).parameters)[:3] == ["engine", "threads", "tiny"]


def test_scalar_mlp_moons_without_sklearn() -> None:
    """The NumPy stand-in for make_moons: two half circles, half the points each, labels 0/1."""
    from benchmarks.bench_scalar import _moons

    x, y = _moons(9, 0.0, 0)
    assert x.shape == (9, 2) and sorted(set(y.tolist())) == [0, 1] and (y == 0).sum() == 4
    np.testing.assert_allclose(np.hypot(*x[y == 0].T), 1.0)  # the outer moon: the unit half circle
    np.testing.assert_allclose(np.hypot(x[y == 1, 0] - 1, x[y == 1, 1] - 0.5), 1.0)

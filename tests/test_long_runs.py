"""Long runs and threads: flat memory, no reference cycles, no graph under no_grad,
and two threads training at once give exactly the sequential results."""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import autograd_core as ag
import nn
from autograd_core import Tensor


def _rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def _train(seed: int, steps: int, record: list[float] | None = None) -> dict[str, np.ndarray]:
    """A small MLP trained with Adam on a fixed synthetic task; returns its final weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 2))
    for p in model.parameters():  # deterministic init without the shared global generator
        p.data = rng.uniform(-0.3, 0.3, p.shape).astype(np.float32)
    optimizer = nn.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        batch = slice((step * 16) % 64, (step * 16) % 64 + 16)
        loss = loss_fn(model(Tensor(x[batch])), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if record is not None:
            record.append(loss.item())
    return model.state_dict()


@pytest.mark.skipif(not hasattr(__import__("sys"), "getrefcount"), reason="needs CPython")
def test_ten_thousand_steps_keep_memory_flat() -> None:
    _train(0, 500)  # warm-up: allocator pools, caches
    gc.collect()
    before = _rss_bytes()
    _train(0, 10_000)
    gc.collect()
    growth = _rss_bytes() - before
    # A leaked graph per step would hold >= 10,000 * ~20 KiB = 200 MiB here.
    assert growth < 8 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB over 10,000 steps"


def test_graphs_are_freed_by_reference_counting_alone() -> None:
    gc.disable()  # anything kept alive by a cycle would survive without the collector
    try:
        model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
        x = Tensor(np.ones((3, 4), dtype=np.float32))
        hidden = model[0](x)
        probe = weakref.ref(hidden)
        loss = model[2](model[1](hidden)).sum()
        del hidden
        assert probe() is not None  # the graph holds it until backward
        loss.backward()
        assert probe() is None  # backward released the graph
        hidden = model[0](x)
        probe = weakref.ref(hidden)
        loss = model[2](model[1](hidden)).sum()
        del hidden, loss  # dropped without backward: still no cycle keeps it
        assert probe() is None
    finally:
        gc.enable()


def test_no_grad_inference_records_nothing() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    with ag.no_grad():
        out = model(Tensor(np.ones((2, 4), dtype=np.float32)))
    assert not out.requires_grad and out.is_leaf
    assert out.parents == () and out._saved_data is None and out._vjps is None


def test_two_threads_training_at_once_match_sequential_runs() -> None:
    expected = {seed: _train(seed, 300) for seed in (1, 2)}
    results: dict[int, dict[str, np.ndarray]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(seed: int) -> None:
        try:
            start.wait()
            results[seed] = _train(seed, 300)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for seed in (1, 2):
        for key, value in expected[seed].items():
            np.testing.assert_array_equal(results[seed][key], value, err_msg=f"seed {seed}, {key}")


def test_grad_mode_is_per_thread() -> None:
    inside = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with ag.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    seen.append(ag.is_grad_enabled())  # the other thread is inside no_grad right now
    w = Tensor(np.ones(2), requires_grad=True)
    seen.append((w * 2).requires_grad)
    release.set()
    t.join()
    assert seen == [True, True]

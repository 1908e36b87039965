"""`ag.set_num_threads` / `ag.get_num_threads`: the BLAS thread count, as torch.set_num_threads."""

from __future__ import annotations

import os

import pytest

import autograd_core as ag


def test_default_is_the_cores_available() -> None:
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if ag.threads._threads[0] is None:
        assert ag.get_num_threads() == expected


def test_set_num_threads_limits_blas() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    previous = ag.get_num_threads()
    try:
        ag.set_num_threads(1)
        assert ag.get_num_threads() == 1
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        ag.set_num_threads(previous)
    assert ag.get_num_threads() == previous


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_counts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="positive int"):
        ag.set_num_threads(bad)  # type: ignore[arg-type]

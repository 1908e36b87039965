"""autograd_core.allocator: glibc keeps large temporaries in the heap (no page faults per step)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

_PROBE = """
import resource, sys
import numpy as np
import autograd_core as ag
def step():  # a training step's temporaries: several live at once, all freed at the end
    arrays = [np.ones(250_000) for _ in range(4)]  # 2 MB each
    del arrays
for _ in range(3):  # warm up: the heap grows once
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(ag.allocator.applied[0], (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 20)
"""


def _probe(**env: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    applied, faults = out.stdout.split()
    return applied == "True", int(faults)


@glibc
def test_large_temporaries_reuse_heap_pages() -> None:
    applied, faults = _probe()
    assert applied
    assert faults < 100  # fresh pages for the step's 8 MB would be ~2,000 faults


@glibc
def test_the_tuning_can_be_turned_off() -> None:
    applied, faults = _probe(AUTOGRAD_MALLOC_TUNING="0")
    assert not applied
    # malloc's defaults: after a free, the threshold adapts to 2 MB and the trim threshold to 4 MB,
    # so the 8 MB freed at the end of each step go back to the OS and are faulted in again.
    assert faults > 1000

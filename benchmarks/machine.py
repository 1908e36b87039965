"""What a report was measured on: CPU, cores, operating system, and the engines' package versions.

Versions come from the installed packages' metadata, so the parent process learns them
without importing PyTorch or NumPy (the BLAS library and its threads are recorded by each
thread count's child, which has loaded them: `runs[].blas`).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

# engine (or library) -> its distribution name on PyPI
PACKAGES = {"ours": "autograd-core", "numpy": "numpy", "torch": "torch", "mygrad": "mygrad", "hips": "autograd",
            "micrograd": "micrograd", "threadpoolctl": "threadpoolctl", "matplotlib": "matplotlib"}


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores_available() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for key, dist in PACKAGES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores_available": cores_available(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python_implementation": platform.python_implementation(),
        "versions": versions(),
    }

"""A plain `pip install .` (no extras) gives working `autograd_core` and `nn` (issue 11).

tqdm and safetensors belong to the `nn` extra. Each test runs a fresh interpreter in
which both are made unimportable (`sys.modules[name] = None`), with the checkout first
on `sys.path`. `.ci/run` also builds the wheel and installs it into a clean venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPTIONAL = ("tqdm", "tqdm.auto", "safetensors", "safetensors.numpy")

_PRELUDE = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
for name in {OPTIONAL!r}:
    sys.modules[name] = None  # `import name` now raises ModuleNotFoundError, as if not installed
"""


def run_without_extras(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_optional_dependencies_are_the_nn_extra() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert "tqdm" not in base and "safetensors" not in base
    extra = " ".join(project["optional-dependencies"]["nn"])
    assert "tqdm" in extra and "safetensors" in extra


def test_import_and_train_without_tqdm_and_safetensors(tmp_path: Path) -> None:
    proc = run_without_extras(
        """
        import numpy as np
        import autograd_core as ag
        import nn
        assert nn.__file__.startswith(sys.path[0]), nn.__file__
        x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
        (x * x).sum().backward()
        assert np.allclose(x.grad, [2.0, 4.0])
        nn.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        before = model[0].weight.data.copy()
        rng = np.random.default_rng(0)
        xs, ys = rng.standard_normal((16, 3)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
        hist = nn.fit(model, nn.MSELoss(), nn.optim.SGD(model.parameters(), lr=0.1), xs, ys, epochs=2,
                      batch_size=8, verbose=1)
        assert not np.array_equal(before, model[0].weight.data), "fit did not train"
        assert len(hist.history["loss"]) == 2
        nn.fit(model, nn.MSELoss(), nn.optim.SGD(model.parameters(), lr=0.1), xs, ys, verbose=0)
        print("trained")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "trained"
    # Without tqdm, verbose=1 prints one plain line per epoch (stderr, where tqdm writes); verbose=0 nothing.
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2: loss=") and lines[1].startswith("Epoch 2/2: loss=")


def test_checkpoints_without_safetensors_name_the_extra(tmp_path: Path) -> None:
    proc = run_without_extras(
        """
        import numpy as np
        import nn
        model = nn.Linear(2, 2)
        for call in (lambda: nn.save(model.state_dict(), "m.safetensors"),
                     lambda: nn.save_checkpoint("c.safetensors", model),
                     lambda: nn.load("m.safetensors")):
            try:
                call()
            except ImportError as exc:
                print(type(exc).__name__, exc)
            else:
                raise AssertionError("worked without safetensors")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 3
    for line, where in zip(lines, ("save", "save_checkpoint", "load")):
        assert line.startswith(f"ImportError {where}: "), line
        assert 'pip install "autograd-core[nn]"' in line and "safetensors" in line, line
    assert not list(tmp_path.iterdir()), "a failed save left a file behind"

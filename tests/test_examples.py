"""The examples run end to end (tiny settings) and reach sensible results."""

from __future__ import annotations

import shutil

import numpy as np
import pytest


def test_xor_trains_and_hand_written_backprop_matches(capsys) -> None:
    from examples import xor

    final_loss = xor.main(steps=3000)
    out = capsys.readouterr().out
    difference = float(out.split("max difference ")[1].split()[0])
    assert difference < 1e-12  # hand-written gradients equal autograd's
    assert final_loss < 0.01 and "accuracy 100%" in out


def test_xor_saves_its_figure(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from examples import xor

    xor.main(steps=200, out=tmp_path)
    assert (tmp_path / "xor.png").stat().st_size > 0


def test_mnist1d_main_job_runs_and_saves_its_outputs(tmp_path) -> None:
    pytest.importorskip("mnist1d")
    pytest.importorskip("matplotlib")
    from examples import mnist1d

    means = mnist1d.main(["--steps", "300", "--seeds", "1", "--quiet", "--out", str(tmp_path)])
    assert means["mlp"] > 0.3  # 300 steps already beat chance (10%) by far
    assert (tmp_path / "mnist1d.png").stat().st_size > 0
    import nn

    state = nn.load(tmp_path / "mnist1d_mlp.safetensors")
    assert state["linear1.weight"].shape == (100, 40)


def test_digits_cnn_learns(capsys) -> None:
    pytest.importorskip("sklearn")
    from examples import digits_cnn

    accuracy = digits_cnn.main(["--epochs", "2"])
    assert accuracy > 0.85


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz binary not installed")
def test_draw_graphs_writes_every_picture(tmp_path) -> None:
    from examples import draw_graphs

    draw_graphs.main(tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert names == ["gru_collapsed.svg", "mlp.svg", "neuron.svg", "transformer_collapsed.svg"]
    assert all(np.char.startswith(open(p).read(200), "<?xml") for p in tmp_path.glob("*.svg"))

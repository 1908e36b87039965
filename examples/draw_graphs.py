"""Draw the computation graphs shown in the README (SVG files in docs/graphs/).

    python -m examples.draw_graphs

- `neuron.svg`: the classic single neuron, tanh(w1*x1 + w2*x2 + b), on 0-d tensors,
  with each node's value and, after backward, its gradient.
- `mlp.svg`: a small MLP with its loss, every op visible and clustered by module.
- `transformer_collapsed.svg`: a two-layer Transformer encoder with a classifier head.
  Each encoder layer is folded into one box.
- `gru_collapsed.svg`: a GRU cell unrolled over 12 steps, folded into one box.

It prints how long each drawing took.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import autograd_core as ag
import nn
from autograd_core import Tensor

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "graphs"


def _save(out: Path, name: str, root: Tensor, **options: object) -> float:
    start = time.perf_counter()
    graph = ag.draw_graph(root, **options)
    elapsed = time.perf_counter() - start
    graph.render(out / name, format="svg", cleanup=True)
    ops = sum(1 for line in graph.body if "->" in line and "legend" not in line)
    print(f"{name}.svg: {ops} edges, drawn in {elapsed * 1e3:.1f} ms")
    return elapsed


def neuron(out: Path) -> None:
    x1, x2 = Tensor(2.0), Tensor(0.0)
    w1, w2 = Tensor(-3.0, requires_grad=True), Tensor(1.0, requires_grad=True)
    b = Tensor(6.8813735870195432, requires_grad=True)
    for t, name in ((x1, "x1"), (x2, "x2"), (w1, "w1"), (w2, "w2"), (b, "b")):
        t.name = name
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.name = "o"
    o.backward(retain_graph=True)
    _save(out, "neuron", o, show_grad=True, legend=False)


def mlp(out: Path) -> None:
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = Tensor(np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32))
    x.name = "x"
    loss = nn.CrossEntropyLoss()(model(x), np.arange(16) % 3)
    loss.backward(retain_graph=True)
    _save(out, "mlp", loss, params=model, show_grad=True)


def transformer(out: Path) -> float:
    nn.manual_seed(0)

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2)
            self.head = nn.Linear(32, 10)

        def forward(self, x: Tensor) -> Tensor:
            return self.head(self.encoder(x).mean(axis=1))

    model = Classifier().eval()  # no dropout masks in the picture
    x = Tensor(np.random.default_rng(0).standard_normal((4, 10, 32)).astype(np.float32))
    loss = nn.CrossEntropyLoss()(model(x), np.arange(4))
    # Depth 0 is the Classifier, 1 its encoder, 2 the encoder's layers: fold each layer.
    return _save(out, "transformer_collapsed", loss, params=model, max_depth=2)


def gru(out: Path) -> None:
    nn.manual_seed(0)
    cell = nn.GRUCell(3, 5)
    h = Tensor(np.zeros((2, 5), dtype=np.float32))
    xs = np.random.default_rng(0).standard_normal((12, 2, 3)).astype(np.float32)
    for x in xs:
        h = cell(Tensor(x), h)
    _save(out, "gru_collapsed", (h * h).sum(), params=cell, collapse=[cell])


def main(out: Path = DEFAULT_OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    neuron(out)
    mlp(out)
    transformer(out)
    gru(out)
    big = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(400)])
    loss = big(Tensor(np.ones((2, 16), dtype=np.float32))).sum()
    start = time.perf_counter()
    dot = ag.to_dot(loss, params=big)
    print(f"a {dot.count('->')}-edge graph (a 400-layer MLP, 1,201 ops) drawn in "
          f"{(time.perf_counter() - start) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()

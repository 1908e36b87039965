"""The benchmark suite's workloads: what each one is, where it lives, which engines run it.

A *step* workload lives in a module `benchmarks.bench_*` as factories named
`{prefix}_{engine}(tiny: bool = False) -> Callable[[], None]`: each builds its model and
data once and returns a zero-argument callable running one step. `tiny=True` builds the
same workload at a tiny size (the smoke test runs every workload once that way). A
factory raises ImportError when its engine (or a package the workload needs) is absent;
the suite then skips that engine with the error's text.

Engines, by factory suffix: `ours` (this library), `torch` (PyTorch CPU, the reference),
`mygrad`, `hips` (HIPS autograd), `micrograd`. A module may also define
`{prefix}_blas(tiny=False)`: the workload's matrix products alone, in NumPy, its BLAS
floor.

A *job* workload times a whole run rather than a step: its module defines
`{prefix}_job(engine: str, threads: int, tiny: bool = False) -> dict` returning at least
`{"seconds": float}` for that engine (more keys are reported as they are), raising
ImportError when the engine or a package it needs is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("ours", "torch", "mygrad", "hips", "micrograd")
REFERENCE = "torch"


@dataclass(frozen=True)
class Workload:
    name: str
    module: str  # benchmarks.bench_*
    prefix: str  # factory name prefix
    kind: str = "step"  # "step": interleaved step timing; "job": a whole run per engine
    units: int | str = 1  # units per step, or the name of a module constant holding it
    unit: str = "step"
    description: str = ""


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("op_overhead", "benchmarks.bench_core", "op_overhead", units="OPS_PER_STEP", unit="op",
                 description="200-op elementwise chain on an 8x8 tensor, forward + backward"),
        Workload("scalar_mlp", "benchmarks.bench_scalar", "scalar_mlp",
                 description="micrograd's demo MLP (2-16-16-1), 100 two-moons points, as scalar code: SGD step"),
        Workload("mlp_step", "benchmarks.bench_nn", "mlp_step",
                 description="MLP 784-512-256-10, batch 128: SGD training step"),
        Workload("cnn_step", "benchmarks.bench_cnn", "cnn_step",
                 description="two-conv CNN on 32 images 1x28x28: SGD training step"),
        Workload("conv2d", "benchmarks.bench_cnn", "conv2d",
                 description="conv2d (32,16,28,28) * 32 filters 3x3, forward + backward"),
        Workload("depthwise_conv2d", "benchmarks.bench_cnn", "depthwise_conv2d",
                 description="depthwise conv2d (32,64,28,28), 3x3, groups=64, forward + backward"),
        Workload("rnn_step", "benchmarks.bench_sequence", "rnn_step",
                 description="GRU, 40 steps, batch 64, hidden 128: forward + backward"),
        Workload("attention_step", "benchmarks.bench_sequence", "attention_step",
                 description="multi-head self-attention (16,64,128), 4 heads: forward + backward"),
        Workload("solve_slogdet", "benchmarks.bench_linalg", "solve_slogdet",
                 description="batched solve + slogdet (64,32,32) float64, forward + backward"),
        Workload("hessian_100", "benchmarks.bench_transforms", "hessian_100",
                 description="Hessian of a 100-parameter tanh-network MSE on 256 examples, float64"),
        Workload("jvp_mlp", "benchmarks.bench_transforms", "jvp_mlp",
                 description="forward-mode jvp of an MLP 40-100-100-10 on a batch of 512"),
        Workload("jvp_mlp_forward", "benchmarks.bench_transforms", "jvp_mlp_forward",
                 description="plain forward of jvp_mlp's MLP: the jvp / forward ratio's denominator"),
        Workload("per_sample_grads", "benchmarks.bench_vmap", "per_sample_grads",
                 description="vmap(grad) per-sample gradients, MLP 40-100-100-10, batch 128, float64"),
        Workload("ckpt_mlp50", "benchmarks.bench_checkpoint", "ckpt_mlp50",
                 description="50-layer MLP width 256, batch 256, checkpoint every 5 layers: SGD step"),
        Workload("minilm_encode", "benchmarks.bench_minilm", "minilm_encode",
                 description="all-MiniLM-L6-v2 embeddings of 256 sentences (8-32 tokens), batch 32"),
        Workload("mnist1d_job", "benchmarks.bench_jobs", "mnist1d", kind="job",
                 description="the MNIST-1D main job (examples.mnist1d): MLP, CNN, GRU, 4,000 Adam steps each"),
        Workload("ddp_throughput", "benchmarks.bench_jobs", "ddp", kind="job",
                 description="MNIST-1D MLP, global batch 512, 2 MPI processes (vs 1): seconds per global step"),
    )
}

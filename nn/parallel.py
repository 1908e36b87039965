"""`DistributedDataParallel`: one model replica per process, gradients averaged during backward.

How the averaging works (PyTorch's design, on this engine):

- Parameters that require grad are grouped, in reverse registration order (roughly the order
  backward produces their gradients), into buckets of about `bucket_cap_mb` MB per dtype. Each
  bucket owns one flat array: the parameters' gradients end to end, then one "used" flag per
  parameter.
- A tensor hook on every parameter sees this backward's gradient before the engine adds it
  into `.grad`, and copies it into the bucket. When a bucket is complete its non-blocking
  `Iallreduce` starts, while backward goes on with the earlier layers. Buckets start strictly
  in bucket order, so every rank issues the same collectives in the same order even if hooks
  fire in another order.
- The first hook queues a callback with the engine (`queue_callback`), run once backward has
  written every `.grad`: it waits for the requests and sets each parameter's `.grad` to
  `previous + average` (the `.grad` it had when its hook ran), exactly what a local backward
  would accumulate.
- Unused parameters get no hook call. The callback marks them with a zero gradient and a
  "used" flag of 0 before the last buckets start, so ranks always agree on the collectives (no
  deadlock when one rank skips a layer); a parameter unused on every rank keeps its `.grad`
  untouched, one used on some ranks gets the average over all ranks (zeros counted for the
  others), as in PyTorch. A forward whose backward never reached a parameter completes its
  step (with zeros) at the next forward.
- `no_sync()`: backward accumulates locally. The first synchronised backward afterwards reduces
  the whole accumulated `.grad` (previous + this step) and stores the average.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_core import Tensor
from autograd_core import grad_mode as _grad_mode
from autograd_core.engine import queue_callback

from . import distributed as dist
from .module import Module, Parameter

__all__ = ["DistributedDataParallel"]


class _Bucket:
    __slots__ = ("params", "offsets", "flat", "pending", "request", "dtype", "previous")

    def __init__(self, params: list[Parameter], dtype: np.dtype) -> None:
        self.params = params
        self.dtype = dtype
        self.offsets: list[int] = []
        size = 0
        for p in params:
            self.offsets.append(size)
            size += p.data.size
        self.flat = np.zeros(size + len(params), dtype=dtype)  # gradients, then one used-flag per parameter
        self.pending = len(params)
        self.request: Any = None
        self.previous: list[np.ndarray | None] = [None] * len(params)  # each .grad before this backward

    def grad_slice(self, i: int) -> np.ndarray:
        p = self.params[i]
        start = self.offsets[i]
        return self.flat[start : start + p.data.size].reshape(p.data.shape)

    def flag_index(self, i: int) -> int:
        return self.flat.size - len(self.params) + i


class DistributedDataParallel(Module):
    """Wrap `module` so that `backward` averages its gradients over all processes.

    `DistributedDataParallel(module, bucket_cap_mb=25, broadcast_buffers=True)`. At construction
    rank 0's parameters and buffers are copied to every process; with `broadcast_buffers` the
    buffers (BatchNorm's running statistics) are copied again before every forward. Call
    `nn.distributed.init_process_group()` first; without it (a world of one) the wrapper only
    delegates. `state_dict()` keys start with `module.`, as PyTorch's. Gradients are synchronised
    for `backward` (`ag.grad` returns each process's local gradients, as with PyTorch's DDP).
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25, broadcast_buffers: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        d = self.__dict__  # plain attributes, kept out of the registries
        d["bucket_cap_mb"] = bucket_cap_mb
        d["broadcast_buffers"] = broadcast_buffers
        d["_sync_enabled"] = True
        d["_unsynced"] = False  # .grad holds local contributions from no_sync backwards
        d["_step"] = None  # the reduction of the current backward, or None
        d["_local_pass"] = False  # the last forward ran under no_sync
        d["_handles"] = []
        d["_buckets"] = []
        d["_where"] = {}  # id(param) -> (bucket, index in bucket)
        self._sync_module_state()
        if dist.is_initialized():  # also in a world of one, so the machinery runs (and is tested) there
            self._build_buckets()

    # ----------------------------------------------------------------- construction
    def _sync_module_state(self) -> None:
        if dist.get_world_size() == 1:
            return
        for p in self.module.parameters():
            dist.broadcast(p, src=0)
        self._broadcast_buffers()

    def _broadcast_buffers(self) -> None:
        for b in self.module.buffers():
            if b is not None:
                dist.broadcast(b, src=0)

    def _build_buckets(self) -> None:
        cap = self.bucket_cap_mb * 1024 * 1024
        params = [p for p in self.module.parameters() if p._requires_grad]
        seen: set[int] = set()
        groups: dict[np.dtype, list[list[Parameter]]] = {}
        sizes: dict[np.dtype, int] = {}
        for p in reversed(params):  # shared parameters appear once
            if id(p) in seen:
                continue
            seen.add(id(p))
            dtype = p.data.dtype
            if dtype not in groups or (sizes[dtype] > 0 and sizes[dtype] + p.data.nbytes > cap):
                groups.setdefault(dtype, []).append([])
                sizes[dtype] = 0
            groups[dtype][-1].append(p)
            sizes[dtype] += p.data.nbytes
        buckets = [_Bucket(ps, dtype) for dtype, lists in groups.items() for ps in lists]
        self._buckets.extend(buckets)
        for bucket in buckets:
            for i, p in enumerate(bucket.params):
                self._where[id(p)] = (bucket, i)
                self._handles.append(p.register_hook(self._make_hook(p)))

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._step is not None:
            self._finish_step()  # a backward left parameters without a gradient: complete it (zeros)
        if self.broadcast_buffers and dist.get_world_size() > 1:
            self._broadcast_buffers()
        out = self.module(*args, **kwargs)
        self.__dict__["_local_pass"] = not self._sync_enabled
        if self._buckets and self._sync_enabled and _grad_mode.is_grad_enabled():
            self._start_step()
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward inside this block only accumulates locally; the next synchronised one averages the total."""
        previous = self._sync_enabled
        self.__dict__["_sync_enabled"] = False
        try:
            yield
        finally:
            self.__dict__["_sync_enabled"] = previous

    # ----------------------------------------------------------------- the reduction
    def _start_step(self) -> None:
        self.__dict__["_step"] = {"next": 0, "replace": self._unsynced, "ready": set(), "queued": False}
        for bucket in self._buckets:
            bucket.pending = len(bucket.params)
            bucket.request = None

    def _mark_ready(self, bucket: _Bucket, i: int, p: Parameter, grad: np.ndarray | None, replace: bool) -> None:
        out = bucket.grad_slice(i)
        used = grad is not None
        if used:
            np.copyto(out, grad)
        else:
            out.fill(0)
        bucket.previous[i] = p.grad  # the engine assigns .grad after every hook has run: this is the old one
        if replace and p.grad is not None:  # after no_sync: reduce the whole accumulated gradient
            out += p.grad
            used = True
        bucket.flat[bucket.flag_index(i)] = 1 if used else 0
        bucket.pending -= 1
        self._step["ready"].add(id(p))

    def _make_hook(self, p: Parameter) -> Any:
        def hook(grad: Tensor) -> None:
            if not _grad_mode._state.accumulating:
                return  # ag.grad: local gradients, not synchronised (as PyTorch's DDP)
            if self._step is None:
                if self._local_pass:
                    self.__dict__["_unsynced"] = True
                    return  # forward ran under no_sync: the engine accumulates locally
                self._start_step()  # backward without a DDP forward (e.g. a second one on a kept graph)
            step = self._step
            if id(p) in step["ready"]:
                raise RuntimeError(
                    "DistributedDataParallel: a parameter received two gradients in one synchronised backward; "
                    "run forward through the wrapper before each backward"
                )
            if not step["queued"]:
                step["queued"] = True
                queue_callback(self._finish_step)
            bucket, i = self._where[id(p)]
            self._mark_ready(bucket, i, p, grad.data, step["replace"])
            self._launch_ready()
            # None: the engine accumulates the local gradient as usual; the callback replaces it.

        return hook

    def _launch_ready(self) -> None:
        step = self._step
        buckets = self._buckets
        # Strictly in bucket order: every rank then issues the same collectives in the same order.
        while step["next"] < len(buckets) and buckets[step["next"]].pending == 0:
            bucket = buckets[step["next"]]
            bucket.request = dist.all_reduce(bucket.flat, op="sum", async_op=True)
            step["next"] += 1

    def _finish_step(self) -> None:
        step = self._step
        ready = step["ready"]
        for bucket in self._buckets[step["next"] :]:  # parameters that got no gradient: zeros (flag 0)
            for i, p in enumerate(bucket.params):
                if id(p) not in ready:
                    self._mark_ready(bucket, i, p, None, step["replace"])
        while step["next"] < len(self._buckets):
            bucket = self._buckets[step["next"]]
            bucket.request = dist.all_reduce(bucket.flat, op="sum", async_op=True)
            step["next"] += 1
        world = dist.get_world_size()
        for bucket in self._buckets:
            bucket.request.wait()
            bucket.request = None
            for i, p in enumerate(bucket.params):
                previous, bucket.previous[i] = bucket.previous[i], None
                if bucket.flat[bucket.flag_index(i)] == 0:
                    continue  # unused on every rank: .grad stays as it was
                avg = bucket.grad_slice(i) / world
                if not step["replace"] and previous is not None:
                    avg += previous  # what a local backward adds to an accumulated .grad
                p.grad = avg
        self.__dict__["_step"] = None
        self.__dict__["_unsynced"] = False

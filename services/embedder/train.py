"""Train Node2Vec embeddings of one graph: device choice, progress, cancellation, OOM fallback.

Training: closed-form gradients (`Node2Vec.gradients`) and row-wise Adagrad at lr 0.02
(`services.embedder.optim`), over batches of 256 start nodes on the CPU and 2,048 on
CUDA (10 walks each), at least 32 batches an epoch so small graphs still get enough
steps. Each epoch draws fresh walks, 2 negatives per walk, and trains every other walk
position as a centre (the even ones in even epochs, the odd ones in odd epochs), so
each pair of a window is trained in half the epochs, as gensim's shrinking window
trains a part of each window.

Measured on 2 CPU cores (benchmarks/README.md has the runs): on a 20,000-node power-law
graph the autograd loop with dense Adam this replaced took 97 s, this takes 27 s at the
same link-prediction AUC. On a 100,000-node graph one epoch of all centres with 5
negatives took 24.5 s, one of half the centres with 2 negatives 17.9 s, and the AUC
after 10 epochs was the same (a single epoch already reaches PecanPy's).

A warm start (`InitialVectors`: a previous commit's embeddings, by node) starts those
nodes there and trains at `warm_lr`, a quarter of `lr`, for the epochs asked (the
coordinator asks 2): on click and sympy, a file kept 0.89 and 0.81 of its top 10
from one commit to the next instead of 0.67 and 0.38 from scratch, at the same
link-prediction AUC (benchmarks/README.md, `warm_start.py`).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from services.embedder.node2vec import Node2Vec
from services.embedder.optim import RowAdagrad

log = logging.getLogger(__name__)

MIN_BATCH_SIZE = 8
MIN_BATCHES_PER_EPOCH = 32
BATCH_SIZE = {"cpu": 256, "cuda": 2048}  # start nodes per batch, by device type
CENTER_STRIDE = 2  # epoch e trains walk positions e % 2, e % 2 + 2, ... as centers
LOG_EVERY_EPOCHS = 5


class TrainingCancelled(Exception):
    """Raised when `should_stop` asked training to stop."""


class DeviceUnavailable(RuntimeError):
    """Raised when CUDA is required but not present."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the seed's (64-d, walk 20, context 10, 10 walks)."""

    embedding_dim: int = 64
    walk_length: int = 20
    context_size: int = 10
    walks_per_node: int = 10
    epochs: int = 10
    p: float = 1.0
    q: float = 1.0
    num_negative_samples: int = 2  # per walk, shared by its positions
    seed: int | None = None  # None picks one; a fixed seed makes CPU runs reproducible
    batch_size: int | None = None  # None: BATCH_SIZE of the device
    lr: float = 0.02  # benchmarks/README.md: the lr sweep against PecanPy
    warm_lr: float = 0.005  # from initial vectors (benchmarks/warm_start.py)


@dataclass(frozen=True)
class InitialVectors:
    """A warm start: node `nodes[i]` starts from `vectors[i]` (`[k, dim]`), the others
    at random; training then runs at `TrainConfig.warm_lr`."""

    nodes: Tensor
    vectors: Tensor


@dataclass(frozen=True)
class EpochReport:
    """Progress after one epoch."""

    epoch: int
    epochs: int
    loss: float
    walks_per_second: float
    eta_seconds: float


@dataclass(frozen=True)
class TrainResult:
    """Embeddings (float32, CPU, `[num_nodes, dim]`) and how the run went."""

    embeddings: Tensor
    final_loss: float
    device: str
    seconds: float


def resolve_device(device: str = "auto") -> torch.device:
    """ "auto" → CUDA when present, else CPU; "cuda" without CUDA raises DeviceUnavailable."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailable("CUDA was requested but torch sees no CUDA device")
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def describe_hardware(device: str = "auto") -> str:
    """One line naming the hardware `device` resolves to (GPU name and memory, or CPU cores)."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        props = torch.cuda.get_device_properties(resolved)
        return f"{resolved}: {props.name}, {props.total_memory / 2**30:.1f} GiB"
    return f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def train_embeddings(
    edge_index: Tensor,
    num_nodes: int,
    params: TrainConfig,
    *,
    device: str = "auto",
    on_epoch: Callable[[EpochReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    initial: InitialVectors | None = None,
) -> TrainResult:
    """Learn one embedding per node of the graph `edge_index` (`[2, E]`, ids < num_nodes).

    On CUDA out-of-memory the run restarts with half the batch size; below
    MIN_BATCH_SIZE it restarts on the CPU. `should_stop` is polled before every batch
    and raises TrainingCancelled when it returns True. `initial`: a warm start. However
    the run ends, the GPU memory it cached goes back to the driver (the GPU may be a
    laptop's, shared).
    """
    target = resolve_device(device)
    seed = params.seed if params.seed is not None else random.randrange(2**63)
    batch_size = initial_batch_size(num_nodes, params, target)
    started = time.perf_counter()
    try:
        while True:
            try:
                embeddings, loss = _fit(
                    edge_index,
                    num_nodes,
                    params,
                    target,
                    batch_size,
                    seed,
                    on_epoch,
                    should_stop,
                    initial,
                )
                return TrainResult(embeddings, loss, str(target), time.perf_counter() - started)
            except torch.cuda.OutOfMemoryError:
                if target.type != "cuda":
                    raise
                if batch_size // 2 >= MIN_BATCH_SIZE:
                    batch_size //= 2
                    log.warning("CUDA out of memory; retrying with batch size %d", batch_size)
                else:
                    target = torch.device("cpu")
                    batch_size = initial_batch_size(num_nodes, params, target)
                    log.warning("CUDA out of memory at the smallest batch; falling back to the CPU")
    except TrainingCancelled:
        pass  # leaving the handler frees the traceback, and the GPU tensors its frames hold
    finally:
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
    raise TrainingCancelled("training stopped on request")


def initial_batch_size(num_nodes: int, params: TrainConfig, device: torch.device) -> int:
    """Start nodes per batch: `params.batch_size` or the device's, but at least
    MIN_BATCHES_PER_EPOCH batches."""
    wanted = params.batch_size or BATCH_SIZE.get(device.type, BATCH_SIZE["cpu"])
    return max(1, min(wanted, math.ceil(num_nodes / MIN_BATCHES_PER_EPOCH)))


def _fit(
    edge_index: Tensor,
    num_nodes: int,
    params: TrainConfig,
    device: torch.device,
    batch_size: int,
    seed: int,
    on_epoch: Callable[[EpochReport], None] | None,
    should_stop: Callable[[], bool] | None,
    initial: InitialVectors | None,
) -> tuple[Tensor, float]:
    """One full training run on `device`; frees the model (and CUDA cache) however it ends."""
    cpu_generator = torch.Generator().manual_seed(seed)
    model = Node2Vec(
        edge_index,
        embedding_dim=params.embedding_dim,
        walk_length=params.walk_length,
        context_size=params.context_size,
        walks_per_node=params.walks_per_node,
        p=params.p,
        q=params.q,
        num_negative_samples=params.num_negative_samples,
        num_nodes=num_nodes,
        generator=cpu_generator,
    )
    if initial is not None:
        model.start_from(initial.nodes, initial.vectors)
    model.to(device)
    if device.type == "cuda":
        model.generator = torch.Generator(device).manual_seed(seed)
    lr = params.lr if initial is None else params.warm_lr
    embedding_optimizer = RowAdagrad(model.embedding.weight, lr)
    context_optimizer = RowAdagrad(model.context.weight, lr)
    loader = model.loader(batch_size=batch_size, shuffle=True)
    walks_per_epoch = num_nodes * params.walks_per_node
    epoch_loss = math.nan
    try:
        started = time.perf_counter()
        for epoch in range(1, params.epochs + 1):
            epoch_started = time.perf_counter()
            total = torch.zeros((), device=device)
            centers = slice(epoch % CENTER_STRIDE, None, CENTER_STRIDE)
            for pos_rw, neg in loader:
                if should_stop is not None and should_stop():
                    raise TrainingCancelled(f"cancelled in epoch {epoch}")
                grads = model.gradients(pos_rw, neg, centers)
                embedding_optimizer.add(grads.embedding_rows, grads.embedding_grad)
                context_optimizer.add(grads.context_rows, grads.context_grad)
                embedding_optimizer.step()
                context_optimizer.step()
                total += grads.loss
            epoch_loss = float(total) / len(loader)
            now = time.perf_counter()
            report = EpochReport(
                epoch=epoch,
                epochs=params.epochs,
                loss=epoch_loss,
                walks_per_second=walks_per_epoch / max(now - epoch_started, 1e-9),
                eta_seconds=(now - started) / epoch * (params.epochs - epoch),
            )
            if epoch % LOG_EVERY_EPOCHS == 0 or epoch == params.epochs:
                log.info("epoch %d/%d loss %.4f on %s", epoch, params.epochs, epoch_loss, device)
            if on_epoch is not None:
                on_epoch(report)
        model.to("cpu")  # the sum `forward` returns is made on the host, not in GPU memory
        return model().detach().to(torch.float32), epoch_loss
    finally:
        del model, embedding_optimizer, context_optimizer, loader
        if device.type == "cuda":
            torch.cuda.empty_cache()

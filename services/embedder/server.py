"""gRPC EmbedderService: receive a graph, train Node2Vec in a worker thread, stream results.

One training runs at a time per process (others wait on a lock): training uses
every core or the whole GPU, so running two at once would only slow both. Progress
crosses from the worker thread to the RPC as it comes
(`services.common.threaded.run_reporting`); a client that cancels or passes its
deadline sets a threading.Event the trainer polls per batch, and the lock is held
until the thread has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import grpc
import numpy as np
import torch
from prometheus_client import Counter, Gauge, Histogram

from neo_alexandria.v1 import embedder_service_pb2 as pb
from neo_alexandria.v1 import embedder_service_pb2_grpc as pb_grpc
from services.common.config import Settings
from services.common.grpc_server import run_service
from services.common.metrics import DURATION_BUCKETS
from services.common.streams import drain_requests
from services.common.threaded import Finished, run_reporting
from services.embedder import budget
from services.embedder.budget import DEFAULT_BUDGET, Budget
from services.embedder.train import (
    DeviceUnavailable,
    EpochReport,
    InitialVectors,
    TrainConfig,
    TrainingCancelled,
    TrainResult,
    describe_hardware,
    initial_batch_size,
    resolve_device,
    train_embeddings,
)

log = logging.getLogger(__name__)

MAX_ROWS_PER_CHUNK = 4096
MAX_CHUNK_BYTES = 1 << 20  # well under gRPC's default 4 MB message limit

LIMITS = {
    "num_nodes": 5_000_000,
    "embedding_dim": 1024,
    "walk_length": 1000,
    "context_size": 1001,
    "walks_per_node": 1000,
    "epochs": 1000,
}
"""Largest accepted values: past them one request could take the machine's memory or
days of work (5,000,000 nodes of 64 dims, with context vectors, is 2.6 GB)."""

_DEVICES = {pb.DEVICE_AUTO: "auto", pb.DEVICE_CPU: "cpu", pb.DEVICE_CUDA: "cuda"}

LOSS = Gauge("alexandria_embedder_loss", "Node2Vec loss of the last epoch trained")
EPOCHS = Counter("alexandria_embedder_epochs", "Node2Vec epochs trained")
TRAIN_SECONDS = Histogram(
    "alexandria_embedder_train_seconds",
    "Time to train one graph's embeddings",
    buckets=DURATION_BUCKETS,
)


class InvalidRequest(ValueError):
    """The request stream breaks the contract; the message is returned to the client."""


REFUSALS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (DeviceUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (budget.OverBudget, grpc.StatusCode.RESOURCE_EXHAUSTED),
)
"""How each kind of refused request is answered."""


def config_from_parameters(params: pb.TrainParameters, default_epochs: int = 10) -> TrainConfig:
    """TrainConfig from the wire parameters: zero values take the defaults, bad values raise."""
    for name in ("num_nodes", "embedding_dim", "walk_length", "context_size", "walks_per_node"):
        if getattr(params, name) < 0:
            raise InvalidRequest(f"{name} must not be negative, got {getattr(params, name)}")
    if params.num_nodes < 1:
        raise InvalidRequest("num_nodes must be at least 1")
    if params.epochs < 0:
        raise InvalidRequest(f"epochs must not be negative, got {params.epochs}")
    for name, limit in LIMITS.items():
        if getattr(params, name) > limit:
            raise InvalidRequest(f"{name} must be at most {limit}, got {getattr(params, name)}")
    for name in ("p", "q"):
        value = getattr(params, name)
        if not math.isfinite(value) or value < 0:
            raise InvalidRequest(f"{name} must be a positive number, got {value}")
    defaults = TrainConfig()
    walk_length = params.walk_length or defaults.walk_length
    context_size = params.context_size or min(defaults.context_size, walk_length + 1)
    if not 2 <= context_size <= walk_length + 1:
        raise InvalidRequest(
            f"context_size must be in [2, walk_length + 1], got {context_size} "
            f"with walk_length {walk_length}"
        )
    return TrainConfig(
        embedding_dim=params.embedding_dim or defaults.embedding_dim,
        walk_length=walk_length,
        context_size=context_size,
        walks_per_node=params.walks_per_node or defaults.walks_per_node,
        epochs=params.epochs or default_epochs,
        p=params.p or defaults.p,
        q=params.q or defaults.q,
        seed=params.seed or None,
    )


@dataclass(frozen=True)
class TrainInput:
    """What a request stream carries: parameters, the `[2, E]` edge index and, for a
    warm start, initial vectors."""

    params: pb.TrainParameters
    edge_index: torch.Tensor
    initial: InitialVectors | None


async def read_request(
    request_iterator: AsyncIterator[pb.TrainRequest],
    admit: Callable[[pb.TrainParameters, int, int], None] | None = None,
) -> TrainInput:
    """Parameters, edges and initial vectors from the request stream, validated.

    `admit(parameters, edges so far, initial vectors so far)` is called once the
    parameters arrive and after each chunk; what it raises stops the reading there."""
    params: pb.TrainParameters | None = None
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    nodes: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    received = initial_rows = 0
    async for request in request_iterator:
        part = request.WhichOneof("part")
        if params is None:
            if part != "parameters":
                raise InvalidRequest("the first message must carry the parameters")
            params = request.parameters
            if params.num_nodes < 1:
                raise InvalidRequest("num_nodes must be at least 1")
            if admit is not None:
                admit(params, 0, 0)
            continue
        if part == "initial":
            chunk_nodes, chunk_rows = _initial_rows(request.initial, params)
            nodes.append(chunk_nodes)
            rows.append(chunk_rows)
            initial_rows += len(chunk_nodes)
            if initial_rows > params.num_nodes:
                raise InvalidRequest("initial vectors name a node more than once")
            if admit is not None:
                admit(params, received, initial_rows)
            continue
        if part != "edges":
            raise InvalidRequest("parameters may only be sent once, as the first message")
        chunk = request.edges
        if len(chunk.sources) != len(chunk.targets):
            raise InvalidRequest(
                f"an edge chunk has {len(chunk.sources)} sources but {len(chunk.targets)} targets"
            )
        src = np.array(chunk.sources, dtype=np.int64)
        dst = np.array(chunk.targets, dtype=np.int64)
        for ids in (src, dst):
            _check_node_ids(ids, params.num_nodes)
        sources.append(src)
        targets.append(dst)
        received += len(src)
        if admit is not None:
            admit(params, received, initial_rows)
    if params is None:
        raise InvalidRequest("the request stream is empty; send the parameters first")
    edges = np.stack(
        [
            np.concatenate(sources or [np.empty(0, np.int64)]),
            np.concatenate(targets or [np.empty(0, np.int64)]),
        ]
    )
    initial = None
    if nodes:
        all_nodes = np.concatenate(nodes)
        if np.unique(all_nodes).size != all_nodes.size:
            raise InvalidRequest("initial vectors name a node more than once")
        initial = InitialVectors(
            torch.from_numpy(all_nodes), torch.from_numpy(np.concatenate(rows))
        )
    return TrainInput(params, torch.from_numpy(edges), initial)


def _check_node_ids(ids: np.ndarray, num_nodes: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= num_nodes):
        bad = ids[(ids < 0) | (ids >= num_nodes)][0]
        raise InvalidRequest(f"node id {bad} is outside [0, {num_nodes})")


def _initial_rows(
    chunk: pb.InitialVectors, params: pb.TrainParameters
) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's node ids and rows, checked against the parameters."""
    dim = params.embedding_dim or TrainConfig().embedding_dim
    if chunk.dimensions != dim:
        raise InvalidRequest(f"initial vectors are {chunk.dimensions}-d, the embedding {dim}-d")
    if len(chunk.values) != len(chunk.nodes) * dim:
        raise InvalidRequest(
            f"an initial vector chunk has {len(chunk.values)} values for {len(chunk.nodes)} nodes"
        )
    ids = np.array(chunk.nodes, dtype=np.int64)
    _check_node_ids(ids, params.num_nodes)
    values = np.array(chunk.values, dtype=np.float32).reshape(-1, dim)
    if not np.isfinite(values).all():
        raise InvalidRequest("initial vectors must be finite")
    return ids, values


def embedding_chunks(embeddings: np.ndarray) -> Iterator[pb.TrainResponse]:
    """Rows of `embeddings` in messages of at most 4096 rows and about 1 MiB each."""
    num_nodes, dim = embeddings.shape
    rows = max(1, min(MAX_ROWS_PER_CHUNK, MAX_CHUNK_BYTES // (4 * dim)))
    for start in range(0, num_nodes, rows):
        values = embeddings[start : start + rows].reshape(-1).tolist()
        yield pb.TrainResponse(
            embeddings=pb.EmbeddingChunk(start_node=start, dimensions=dim, values=values)
        )


class EmbedderServicer(pb_grpc.EmbedderServiceServicer):
    """Trains one graph per call; `device` and `default_epochs` fill what a request leaves unset."""

    def __init__(
        self, *, device: str = "auto", default_epochs: int = 10, budget: Budget = DEFAULT_BUDGET
    ) -> None:
        self._device = device
        self._default_epochs = default_epochs
        self._budget = budget
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        """True while a training holds the process."""
        return self._lock.locked()

    async def Train(
        self,
        request_iterator: AsyncIterator[pb.TrainRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.TrainResponse]:
        """Read parameters and edges, train, stream progress, embedding chunks, summary.

        A request past a budget (`budget.py`) is refused RESOURCE_EXHAUSTED as soon as
        that is known: from its parameters, or as its edges and initial vectors stream in."""

        def admit(params: pb.TrainParameters, edges: int, initial_rows: int) -> None:
            config = config_from_parameters(params, self._default_epochs)
            device = resolve_device(_DEVICES.get(params.device, self._device))
            batch_size = initial_batch_size(params.num_nodes, config, device)
            budget.check(self._budget, config, params.num_nodes, edges, batch_size, initial_rows)

        try:
            request = await read_request(request_iterator, admit)
            params, edge_index = request.params, request.edge_index
            config = config_from_parameters(params, self._default_epochs)
            device = str(resolve_device(_DEVICES.get(params.device, self._device)))
        except (InvalidRequest, DeviceUnavailable, budget.OverBudget) as exc:
            code = next(code for kind, code in REFUSALS if isinstance(exc, kind))
            log.warning("training refused, %s: %s", code.name, exc)
            await drain_requests(request_iterator)
            await context.abort(code, str(exc))

        warm = request.initial.nodes.numel() if request.initial is not None else 0
        log.info(
            "job %s: training %d nodes, %d edges on %s, %s",
            params.job_id or "-",
            params.num_nodes,
            edge_index.size(1),
            device,
            f"warm: {warm} nodes from initial vectors" if warm else "cold",
        )
        stop = threading.Event()
        context.add_done_callback(lambda _: stop.set())

        def work(report: Callable[[EpochReport], None], stop: threading.Event) -> TrainResult:
            def on_epoch(epoch: EpochReport) -> None:
                LOSS.set(epoch.loss)
                EPOCHS.inc()
                report(epoch)

            return train_embeddings(
                edge_index,
                params.num_nodes,
                config,
                device=device,
                on_epoch=on_epoch,
                should_stop=stop.is_set,
                initial=request.initial,
            )

        async with self._lock:  # held until the worker thread has ended
            try:
                async with contextlib.aclosing(run_reporting(work, stop=stop)) as reports:
                    async for report in reports:
                        if isinstance(report, Finished):
                            result: TrainResult = report.value
                        else:
                            yield pb.TrainResponse(progress=_progress(report))
            except TrainingCancelled:
                log.info("job %s: cancelled", params.job_id or "-")
                return
            except asyncio.CancelledError:
                log.info("job %s: the client went away; stopped", params.job_id or "-")
                raise
            except Exception as exc:
                log.exception("job %s: training failed", params.job_id or "-")
                await context.abort(grpc.StatusCode.INTERNAL, f"training failed: {exc}")
        TRAIN_SECONDS.observe(result.seconds)
        for chunk in embedding_chunks(result.embeddings.numpy()):
            yield chunk
        log.info(
            "job %s: done in %.1fs on %s, loss %.4f",
            params.job_id or "-",
            result.seconds,
            result.device,
            result.final_loss,
        )
        yield pb.TrainResponse(
            summary=pb.TrainSummary(
                final_loss=result.final_loss,
                device=result.device,
                seconds=result.seconds,
                num_nodes=params.num_nodes,
            )
        )


def _progress(report: EpochReport) -> pb.TrainProgress:
    return pb.TrainProgress(
        epoch=report.epoch,
        epochs=report.epochs,
        loss=report.loss,
        walks_per_second=report.walks_per_second,
        eta_seconds=report.eta_seconds,
    )


def main(settings: Settings, address: str) -> None:
    """Log the hardware, then serve EmbedderService at `address` until SIGINT/SIGTERM."""
    log.info("embedder hardware: %s", describe_hardware(settings.embedder_device))
    servicer = EmbedderServicer(
        device=settings.embedder_device,
        default_epochs=settings.train_epochs,
        budget=Budget(
            memory_bytes=settings.embedder_max_memory_bytes,
            walk_steps=settings.embedder_max_walk_steps,
            edges=settings.embedder_max_edges,
        ),
    )
    asyncio.run(
        run_service(
            name="embedder",
            full_service_name="neo_alexandria.v1.EmbedderService",
            register=lambda server: pb_grpc.add_EmbedderServiceServicer_to_server(servicer, server),
            address=address,
            secret=settings.edge_shared_secret,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    )

"""Call EmbedderService.Train: stream a graph out, assemble the embeddings that come back.

Torch-free on purpose (numpy only): the coordinator runs it inside the gateway
process, which must never import torch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc
import numpy as np

from neo_alexandria.v1 import embedder_service_pb2 as pb
from neo_alexandria.v1 import embedder_service_pb2_grpc as pb_grpc
from services.common import logs

Edges = Sequence[tuple[int, int]] | tuple[np.ndarray, np.ndarray]
Initial = tuple[np.ndarray, np.ndarray]
"""A warm start: node ids `[k]` and the rows `[k, dim]` they start from."""
INITIAL_CHUNK_BYTES = 1 << 20  # rows of initial vectors per message: about 1 MiB


class EmbedderResponseError(RuntimeError):
    """The server's response stream was incomplete or inconsistent."""


@dataclass(frozen=True)
class RemoteTrainResult:
    """Embeddings (`[num_nodes, dim]` float32) and the server's summary."""

    embeddings: np.ndarray
    final_loss: float
    device: str
    seconds: float


def edge_arrays(edges: Edges) -> tuple[np.ndarray, np.ndarray]:
    """Sources and targets as int32 arrays, from (source, target) pairs or two arrays."""
    first, second = (edges[0], edges[1]) if len(edges) == 2 else (None, None)
    if (
        isinstance(first, np.ndarray)
        and isinstance(second, np.ndarray)
        and first.ndim == second.ndim == 1
    ):
        sources, targets = first, second
    else:
        pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        sources, targets = pairs[:, 0], pairs[:, 1]
    if sources.shape != targets.shape:
        raise ValueError(f"{sources.size} sources but {targets.size} targets")
    return sources.astype(np.int32), targets.astype(np.int32)


async def _requests(
    parameters: pb.TrainParameters,
    sources: np.ndarray,
    targets: np.ndarray,
    edge_chunk: int,
    initial: Initial | None,
) -> AsyncIterator[pb.TrainRequest]:
    yield pb.TrainRequest(parameters=parameters)
    if initial is not None:
        nodes, vectors = initial
        dim = vectors.shape[1]
        rows = max(1, INITIAL_CHUNK_BYTES // (4 * (dim + 1)))
        for start in range(0, len(nodes), rows):
            yield pb.TrainRequest(
                initial=pb.InitialVectors(
                    nodes=nodes[start : start + rows].tolist(),
                    dimensions=dim,
                    values=vectors[start : start + rows].reshape(-1).tolist(),
                )
            )
    for start in range(0, sources.size, edge_chunk):
        end = start + edge_chunk
        yield pb.TrainRequest(
            edges=pb.EdgeChunk(
                sources=sources[start:end].tolist(), targets=targets[start:end].tolist()
            )
        )


async def train_remote(
    channel: grpc.aio.Channel,
    *,
    num_nodes: int,
    edges: Edges,
    parameters: pb.TrainParameters,
    timeout: float,
    on_progress: Callable[[pb.TrainProgress], None] | None = None,
    edge_chunk: int = 100_000,
    initial: Initial | None = None,
) -> RemoteTrainResult:
    """Train embeddings of a `num_nodes`-node graph on the embedder behind `channel`.

    `parameters.num_nodes` is set from `num_nodes`. Edges go out in chunks of
    `edge_chunk` (100,000 edges is under 1 MB); `initial`, a warm start, in chunks of
    about 1 MiB. Raises grpc.aio.AioRpcError for RPC
    failures and EmbedderResponseError when rows or the summary are missing.
    """
    sources, targets = edge_arrays(edges)
    request = pb.TrainParameters()
    request.CopyFrom(parameters)
    request.num_nodes = num_nodes
    call = pb_grpc.EmbedderServiceStub(channel).Train(
        _requests(request, sources, targets, edge_chunk, initial),
        timeout=timeout,
        metadata=logs.outgoing_metadata(),
    )
    embeddings: np.ndarray | None = None
    received = np.zeros(num_nodes, dtype=bool)
    summary: pb.TrainSummary | None = None
    async for response in call:
        event = response.WhichOneof("event")
        if event == "progress":
            if on_progress is not None:
                on_progress(response.progress)
        elif event == "embeddings":
            chunk = response.embeddings
            if embeddings is None:
                embeddings = np.empty((num_nodes, max(chunk.dimensions, 1)), dtype=np.float32)
            dim = embeddings.shape[1]
            if chunk.dimensions != dim or len(chunk.values) % dim:
                raise EmbedderResponseError(f"a chunk of {len(chunk.values)} values is not {dim}-d")
            rows = np.array(chunk.values, dtype=np.float32).reshape(-1, dim)
            end = chunk.start_node + rows.shape[0]
            if chunk.start_node < 0 or end > num_nodes:
                raise EmbedderResponseError(f"rows {chunk.start_node}..{end} exceed {num_nodes}")
            embeddings[chunk.start_node : end] = rows
            received[chunk.start_node : end] = True
        elif event == "summary":
            summary = response.summary
    if summary is None:
        raise EmbedderResponseError("the embedder closed the stream without a summary")
    if embeddings is None or not received.all():
        missing = num_nodes - int(received.sum())
        raise EmbedderResponseError(f"{missing} of {num_nodes} embedding rows never arrived")
    return RemoteTrainResult(embeddings, summary.final_loss, summary.device, summary.seconds)

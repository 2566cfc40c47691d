"""EmbedderService over a real in-process grpc.aio server, driven by `train_remote`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc
import numpy as np
import pytest
import torch
from serving import serve_grpc

from neo_alexandria.v1 import embedder_service_pb2 as pb
from neo_alexandria.v1 import embedder_service_pb2_grpc as pb_grpc
from services.embedder.client import EmbedderResponseError, edge_arrays, train_remote
from services.embedder.server import (
    EmbedderServicer,
    InvalidRequest,
    config_from_parameters,
    embedding_chunks,
)

QUICK = pb.TrainParameters(walk_length=4, context_size=3, walks_per_node=1, epochs=1, seed=3)


@asynccontextmanager
async def serving(servicer: EmbedderServicer) -> AsyncIterator[grpc.aio.Channel]:
    """The servicer on a loopback port, and a channel to it."""
    async with serve_grpc(
        lambda server: pb_grpc.add_EmbedderServiceServicer_to_server(servicer, server)
    ) as channel:
        yield channel


def with_server(test: Callable[[grpc.aio.Channel, EmbedderServicer], Awaitable[None]]) -> None:
    async def run() -> None:
        servicer = EmbedderServicer(device="cpu")
        async with serving(servicer) as channel:
            await test(channel, servicer)

    asyncio.run(run())


def ring(num_nodes: int) -> list[tuple[int, int]]:
    return [(i, (i + 1) % num_nodes) for i in range(num_nodes)]


async def wait_idle(servicer: EmbedderServicer, within: float) -> float:
    """Seconds until the servicer's training slot is free; fails after `within`."""
    started = time.perf_counter()
    while servicer.busy:
        assert time.perf_counter() - started < within, "training did not stop"
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


def test_round_trip_with_several_embedding_chunks() -> None:
    num_nodes = 5000
    progress: list[pb.TrainProgress] = []

    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        result = await train_remote(
            channel,
            num_nodes=num_nodes,
            edges=ring(num_nodes),
            parameters=QUICK,
            timeout=60,
            on_progress=progress.append,
            edge_chunk=1000,
        )
        assert result.embeddings.shape == (num_nodes, 64)
        assert result.embeddings.dtype == np.float32
        assert np.isfinite(result.embeddings).all()
        assert np.abs(result.embeddings).sum(axis=1).min() > 0  # every row was filled
        assert result.device == "cpu"
        assert result.seconds > 0
        assert not servicer.busy

    with_server(check)
    assert [(p.epoch, p.epochs) for p in progress] == [(1, 1)]
    assert progress[0].walks_per_second > 0


def test_edges_may_come_as_two_arrays_and_defaults_fill_zero_parameters() -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        sources, targets = np.array([0, 1, 2]), np.array([1, 2, 0])
        result = await train_remote(
            channel,
            num_nodes=4,
            edges=(sources, targets),
            parameters=pb.TrainParameters(epochs=1, seed=1),
            timeout=60,
        )
        assert result.embeddings.shape == (4, 64)

    with_server(check)


def test_embedding_chunks_stay_small() -> None:
    chunks = list(embedding_chunks(np.zeros((5000, 64), dtype=np.float32)))
    assert [c.embeddings.start_node for c in chunks] == [0, 4096]
    wide = list(embedding_chunks(np.zeros((600, 2048), dtype=np.float32)))
    assert len(wide) > 1
    assert max(c.ByteSize() for c in chunks + wide) < 2 * 2**20


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([pb.TrainRequest(edges=pb.EdgeChunk(sources=[0], targets=[1]))], "first message"),
        ([pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=0))], "num_nodes"),
        (
            [pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=2**31 - 1))],
            "num_nodes must be at most 5000000",
        ),
        (
            [pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=3, embedding_dim=1 << 20))],
            "embedding_dim must be at most 1024",
        ),
        (
            [
                pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=3)),
                pb.TrainRequest(edges=pb.EdgeChunk(sources=[0, 1], targets=[3, 0])),
            ],
            "node id 3",
        ),
        (
            [
                pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=3)),
                pb.TrainRequest(edges=pb.EdgeChunk(sources=[0, 1], targets=[2])),
            ],
            "2 sources but 1 targets",
        ),
        (
            [
                pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=3)),
                pb.TrainRequest(parameters=pb.TrainParameters(num_nodes=3)),
            ],
            "only be sent once",
        ),
        ([], "empty"),
        (
            [
                pb.TrainRequest(
                    parameters=pb.TrainParameters(num_nodes=3, walk_length=3, context_size=9)
                )
            ],
            "context_size",
        ),
    ],
)
def test_invalid_requests_are_invalid_argument(
    requests: list[pb.TrainRequest], message: str
) -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        call = pb_grpc.EmbedderServiceStub(channel).Train(iter(requests), timeout=30)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            async for _ in call:
                pass
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in (failure.value.details() or "")

    with_server(check)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA answer")
def test_cuda_without_cuda_is_failed_precondition() -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        params = pb.TrainParameters(epochs=1, device=pb.DEVICE_CUDA)
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await train_remote(channel, num_nodes=2, edges=[(0, 1)], parameters=params, timeout=30)
        assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    with_server(check)


def test_out_of_range_edges_surface_from_train_remote() -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await train_remote(channel, num_nodes=2, edges=[(0, 5)], parameters=QUICK, timeout=30)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "outside [0, 2)" in (failure.value.details() or "")

    with_server(check)


LONG = pb.TrainParameters(walk_length=20, context_size=5, walks_per_node=20, epochs=1000)


def test_deadline_stops_server_side_training() -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await train_remote(
                channel, num_nodes=500, edges=ring(500), parameters=LONG, timeout=1.5
            )
        assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await wait_idle(servicer, within=5) < 5

    with_server(check)


def test_client_cancellation_stops_server_side_training() -> None:
    async def check(channel: grpc.aio.Channel, servicer: EmbedderServicer) -> None:
        got_progress = asyncio.Event()
        task = asyncio.create_task(
            train_remote(
                channel,
                num_nodes=500,
                edges=ring(500),
                parameters=LONG,
                timeout=60,
                on_progress=lambda _: got_progress.set(),
            )
        )
        await asyncio.wait_for(got_progress.wait(), timeout=30)
        assert servicer.busy
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_idle(servicer, within=5)

        # The slot is free for the next caller.
        result = await train_remote(
            channel, num_nodes=3, edges=ring(3), parameters=QUICK, timeout=30
        )
        assert result.embeddings.shape == (3, 64)

    with_server(check)


def test_zero_parameters_take_the_defaults() -> None:
    config = config_from_parameters(pb.TrainParameters(num_nodes=5), default_epochs=7)
    assert (config.embedding_dim, config.walk_length, config.context_size) == (64, 20, 10)
    assert (config.walks_per_node, config.epochs, config.p, config.q) == (10, 7, 1.0, 1.0)
    assert config.seed is None
    short = config_from_parameters(pb.TrainParameters(num_nodes=5, walk_length=4))
    assert short.context_size == 5
    with pytest.raises(InvalidRequest, match="p must be"):
        config_from_parameters(pb.TrainParameters(num_nodes=5, p=-1.0))


def test_client_checks_its_input_and_the_response() -> None:
    with pytest.raises(ValueError, match="3 sources but 2 targets"):
        edge_arrays((np.array([0, 1, 2]), np.array([0, 1])))
    sources, targets = edge_arrays([(0, 1), (2, 3)])
    assert sources.tolist() == [0, 2] and targets.tolist() == [1, 3]

    class Truncating(EmbedderServicer):
        async def Train(self, request_iterator, context):  # type: ignore[no-untyped-def,override]
            async for _ in request_iterator:
                pass
            yield pb.TrainResponse(
                embeddings=pb.EmbeddingChunk(start_node=0, dimensions=2, values=[1, 2])
            )
            yield pb.TrainResponse(summary=pb.TrainSummary(num_nodes=2))

    async def run() -> None:
        async with serving(Truncating()) as channel:
            with pytest.raises(EmbedderResponseError, match="1 of 2 embedding rows"):
                await train_remote(channel, num_nodes=2, edges=[], parameters=QUICK, timeout=30)

    asyncio.run(run())


def test_client_does_not_import_torch() -> None:
    code = "import sys, services.embedder.client; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)

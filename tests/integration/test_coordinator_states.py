"""The worker's state follows the job, on every queue transport: Parsing while the
parser works, Training while the embedder trains, Uploading while the vectors are
written, then Idle. The real parser and embedder services (loopback gRPC) and the real
pipeline, each held at its step until the test has read the worker's state there; the
lease heartbeat is far off, so what is read is what the phase change itself wrote."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from queue_helpers import open_queue, settings_for, task
from serving import serve_grpc

from neo_alexandria.v1 import (
    embedder_service_pb2,
    embedder_service_pb2_grpc,
    jobs_pb2,
    parser_service_pb2,
    parser_service_pb2_grpc,
)
from services.common.config import Settings
from services.common.jobs import TERMINAL
from services.common.qdrant_api import Json, LocalQdrant
from services.common.queue import JobQueue
from services.embedder.server import EmbedderServicer
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult, ProgressFn, run_pipeline
from services.parser.server import ParserServicer


class Gate:
    """Where a step waits, once, until the test lets it go on."""

    def __init__(self) -> None:
        self.reached, self.opened = asyncio.Event(), asyncio.Event()

    async def hold(self) -> None:
        if not self.opened.is_set():
            self.reached.set()
            await self.opened.wait()


class HeldParser(ParserServicer):
    def __init__(self, settings: Settings, gate: Gate) -> None:
        super().__init__(settings)
        self.gate = gate

    async def ParseRepository(
        self,
        request: parser_service_pb2.ParseRepositoryRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[parser_service_pb2.ParseRepositoryResponse]:
        await self.gate.hold()
        async for response in super().ParseRepository(request, context):
            yield response


class HeldEmbedder(EmbedderServicer):
    def __init__(self, gate: Gate) -> None:
        super().__init__(device="cpu")
        self.gate = gate

    async def Train(
        self,
        request_iterator: AsyncIterator[embedder_service_pb2.TrainRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[embedder_service_pb2.TrainResponse]:
        await self.gate.hold()
        async for response in super().Train(request_iterator, context):
            yield response


class HeldStore(LocalQdrant):
    def __init__(self, path: str, gate: Gate) -> None:
        super().__init__(path)
        self.gate = gate

    async def upsert(self, name: str, points: list[Json], *, durable: bool = True) -> None:
        await self.gate.hold()
        await super().upsert(name, points, durable=durable)


async def state_becomes(queue: JobQueue, state: int, timeout: float = 10) -> jobs_pb2.WorkerStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        (worker,) = await queue.workers()
        if worker.state == state or loop.time() > deadline:
            return worker
        await asyncio.sleep(0.02)


def test_the_worker_says_what_it_is_doing(
    queue_config: dict[str, Any], tmp_path: Path, sample_repo: Path
) -> None:
    gates = {"parse": Gate(), "train": Gate(), "upload": Gate()}
    repo_url = f"file://{sample_repo}"
    parser = HeldParser(Settings(mode="LOCAL", alexandria_data_dir=tmp_path / "p"), gates["parse"])
    embedder = HeldEmbedder(gates["train"])
    store = HeldStore(str(tmp_path / "qdrant"), gates["upload"])
    expected = {
        "parse": jobs_pb2.WORKER_STATE_PARSING,
        "train": jobs_pb2.WORKER_STATE_TRAINING,
        "upload": jobs_pb2.WORKER_STATE_UPLOADING,
    }

    async def main() -> tuple[dict[str, tuple[int, str, str, str]], jobs_pb2.WorkerStatus]:
        async with (
            serve_grpc(
                lambda s: parser_service_pb2_grpc.add_ParserServiceServicer_to_server(parser, s)
            ) as parser_channel,
            serve_grpc(
                lambda s: embedder_service_pb2_grpc.add_EmbedderServiceServicer_to_server(
                    embedder, s
                )
            ) as embedder_channel,
            open_queue(queue_config) as queue,
        ):

            async def ingest(queued: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
                return await run_pipeline(
                    job_id=queued.job_id,
                    repo_url=queued.repo_url,
                    parser=parser_channel,
                    embedder=embedder_channel,
                    store=store,
                    train_parameters=embedder_service_pb2.TrainParameters(epochs=1),
                    progress=progress,
                )

            await queue.enqueue(task("j1", repo=repo_url), cap=10)
            settings = settings_for(queue_config, tmp_path, heartbeat_seconds=600)
            coordinator = Coordinator(settings, queue, ingest, worker_id="w")
            stop = asyncio.Event()
            running = asyncio.create_task(coordinator.run(stop))
            seen = {}
            for phase, gate in gates.items():
                await asyncio.wait_for(gate.reached.wait(), 60)
                worker = await state_becomes(queue, expected[phase])
                record = await queue.get_job("j1")
                assert record is not None
                seen[phase] = (worker.state, worker.repo_url, worker.job_id, record.phase)
                gate.opened.set()
            for _ in range(500):
                record = await queue.get_job("j1")
                if record is not None and record.status in TERMINAL:
                    break
                await asyncio.sleep(0.02)
            after = await state_becomes(queue, jobs_pb2.WORKER_STATE_IDLE)
            stop.set()
            await asyncio.wait_for(running, 30)
            await store.close()
            return seen, after

    seen, after = asyncio.run(main())
    assert seen == {
        phase: (expected[phase], repo_url, "j1", phase) for phase in ("parse", "train", "upload")
    }
    assert (after.state, after.repo_url, after.job_id, after.status) == (
        jobs_pb2.WORKER_STATE_IDLE,
        "",
        "",
        "Idle",
    )

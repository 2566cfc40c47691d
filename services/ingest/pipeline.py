"""One ingestion job: parse over gRPC, train over gRPC, write vectors to Qdrant.

Progress is reported as (phase, percent of the whole job): parse 0-30 %, train
30-90 %, upload 90-100 %.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import numpy as np

from neo_alexandria.v1 import embedder_service_pb2, graph_pb2, jobs_pb2, parser_service_pb2
from services.common import vectors
from services.common.config import Settings
from services.common.qdrant_api import QdrantApi
from services.embedder.client import train_remote
from services.ingest.metrics import timed_phase
from services.parser.client import fetch_graph

ProgressFn = Callable[[str, float], None]

PARSE_SHARE, TRAIN_SHARE = 30.0, 60.0


@dataclass(frozen=True)
class Deadlines:
    """Client deadlines for the two edge calls, in seconds."""

    parse: float = 1800.0
    train: float = 3600.0


@dataclass(frozen=True)
class PipelineResult:
    commit: str
    files_processed: int
    embeddings_generated: int
    final_loss: float


async def run_pipeline(
    *,
    job_id: str,
    repo_url: str,
    parser: grpc.aio.Channel,
    embedder: grpc.aio.Channel,
    store: QdrantApi,
    train_parameters: embedder_service_pb2.TrainParameters,
    progress: ProgressFn,
    deadlines: Deadlines = Deadlines(),
) -> PipelineResult:
    """Run the job end to end; vectors of files no longer in the repo are removed."""

    def on_parse(event: parser_service_pb2.ParseProgress) -> None:
        share = event.files_done / event.files_total if event.files_total else 0.0
        progress("parse", PARSE_SHARE * share)

    with timed_phase("parse"):
        graph = await fetch_graph(
            parser, repo_url, job_id=job_id, timeout=deadlines.parse, on_progress=on_parse
        )
    progress("train", PARSE_SHARE)

    def on_train(event: embedder_service_pb2.TrainProgress) -> None:
        progress("train", PARSE_SHARE + TRAIN_SHARE * event.epoch / max(event.epochs, 1))

    params = embedder_service_pb2.TrainParameters()
    params.CopyFrom(train_parameters)
    params.num_nodes = len(graph.nodes)
    params.job_id = job_id
    pairs = np.array([(s, t) for s, t, _ in graph.edges], dtype=np.int64).reshape(-1, 2)
    edges = (pairs[:, 0], pairs[:, 1])
    with timed_phase("train"):
        trained = await train_remote(
            embedder,
            num_nodes=len(graph.nodes),
            edges=edges,
            parameters=params,
            timeout=deadlines.train,
            on_progress=on_train,
        )
    upload_start = PARSE_SHARE + TRAIN_SHARE
    imports: list[set[str]] = [set() for _ in graph.nodes]
    for source, target, _ in graph.edges:
        imports[source].add(graph.nodes[target].path)
    files = [
        vectors.FileVector(
            file_path=node.path,
            language=graph_pb2.Language.Name(node.language).removeprefix("LANGUAGE_").lower(),
            vector=trained.embeddings[i],
            imports=sorted(imports[i]),
        )
        for i, node in enumerate(graph.nodes)
    ]
    progress("upload", upload_start)
    with timed_phase("upload"):
        await vectors.ensure_collection(store)
        written = await vectors.upsert_file_vectors(
            store,
            repo_url=repo_url,
            commit=graph.commit,
            job_id=job_id,
            files=files,
            on_batch=lambda n: progress("upload", upload_start + 10.0 * n / max(len(files), 1)),
        )
        await vectors.delete_other_jobs(store, repo_url=repo_url, job_id=job_id)
    return PipelineResult(
        commit=graph.commit,
        files_processed=len(graph.nodes),
        embeddings_generated=written,
        final_loss=trained.final_loss,
    )


@contextlib.asynccontextmanager
async def edge_pipeline(
    settings: Settings, store: QdrantApi
) -> AsyncIterator[Callable[[jobs_pb2.QueuedTask, ProgressFn], Awaitable[PipelineResult]]]:
    """A job runner over gRPC channels to the configured parser and embedder."""
    async with (
        grpc.aio.insecure_channel(settings.parser_addr) as parser,
        grpc.aio.insecure_channel(settings.embedder_addr) as embedder,
    ):

        async def run(task: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
            return await run_pipeline(
                job_id=task.job_id,
                repo_url=task.repo_url,
                parser=parser,
                embedder=embedder,
                store=store,
                train_parameters=embedder_service_pb2.TrainParameters(epochs=settings.train_epochs),
                progress=progress,
            )

        yield run

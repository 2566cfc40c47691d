"""One ingestion job: parse over gRPC, train over gRPC, write vectors to Qdrant.

The parser returns the import graph with each file's identifier terms and the
repository's co-change pairs; the walks train on the import edges, joined by the
co-change pairs unless `train_cochange_edges` is off; each file's point carries its
structure vector, its identifier terms and its strongest co-change partners.

Progress is reported as (phase, percent of the whole job): parse 0-30 %, train
30-90 %, upload 90-100 %.

Every point carries the job's seal: the commit, the job's fingerprint (`index_key.py`),
its id and the number of points it writes (`vectors.read_indexed`). Unless forced, a job
first reads that seal: when the fingerprint is the same, the parser is asked to parse
only if HEAD has moved, and a repository still at the sealed commit ends `unchanged`
without training or writing anything. One that moved a little trains from the sealed
index's vectors (`warm_start.py`) when asked to.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np

from neo_alexandria.v1 import embedder_service_pb2, graph_pb2, jobs_pb2, parser_service_pb2
from services.common import vectors
from services.common.config import Settings
from services.common.edge_secret import edge_channel
from services.common.qdrant_api import QdrantApi
from services.embedder.client import train_remote
from services.ingest import candidates, index_key, warm_start
from services.ingest.metrics import timed_phase
from services.parser.client import ParsedGraph, fetch_graph

ProgressFn = Callable[[str, float], None]

PARSE_SHARE, TRAIN_SHARE = 30.0, 60.0
COCHANGE_PARTNERS = 20
"""Each file's point keeps this many co-change partners, strongest first."""


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
    history: str  # `history_summary` of the parsed graph
    unchanged: bool = False  # already indexed: nothing was parsed, trained or written
    warm_start: bool = False  # trained from the previous index's vectors
    phase_seconds: dict[str, float] = field(default_factory=dict)  # parse, train, ...


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
    cochange_edges: bool = True,
    fingerprint: str = "",
    force: bool = False,
    warm: warm_start.WarmStart | None = None,
) -> PipelineResult:
    """Run the job end to end; vectors of files no longer in the repo are removed.

    `cochange_edges`: the co-change pairs join the import edges in the walk graph.
    `fingerprint` (`index_key.fingerprint`) seals the points; a repository sealed with
    it at its HEAD commit is left as it is (`unchanged`) unless `force`, one sealed with
    it at another commit trains warm from its vectors when `warm` allows.
    """
    phases: dict[str, float] = {}
    await vectors.ensure_collection(store)
    known = (
        None if force or not fingerprint else await vectors.read_indexed(store, repo_url=repo_url)
    )
    if known is not None and known.fingerprint != fingerprint:
        known = None

    def on_parse(event: parser_service_pb2.ParseProgress) -> None:
        share = event.files_done / event.files_total if event.files_total else 0.0
        progress("parse", PARSE_SHARE * share)

    with timed_phase("parse", phases):
        graph = await fetch_graph(
            parser,
            repo_url,
            job_id=job_id,
            unless_commit=known.commit if known is not None else "",
            timeout=deadlines.parse,
            on_progress=on_parse,
        )
    if graph.unchanged and known is not None:
        return PipelineResult(
            commit=known.commit,
            files_processed=known.files,
            embeddings_generated=0,
            final_loss=0.0,
            history=known.history,
            unchanged=True,
            phase_seconds=phases,
        )
    progress("train", PARSE_SHARE)

    def on_train(event: embedder_service_pb2.TrainProgress) -> None:
        progress("train", PARSE_SHARE + TRAIN_SHARE * event.epoch / max(event.epochs, 1))

    params = embedder_service_pb2.TrainParameters()
    params.CopyFrom(train_parameters)
    params.num_nodes = len(graph.nodes)
    params.job_id = job_id
    if not params.seed:
        params.seed = training_seed(repo_url, graph.commit)
    edges = walk_edges(graph, cochange_edges=cochange_edges)
    initial = None
    with timed_phase("train", phases):  # reading the previous vectors included
        if warm is not None and known is not None:
            previous = await vectors.previous_structure(store, repo_url=repo_url)
            paths = [node.path for node in graph.nodes]
            initial = warm_start.initial_vectors(paths, previous, warm.min_kept)
            if initial is not None:
                params.epochs = warm.epochs
        trained = await train_remote(
            embedder,
            num_nodes=len(graph.nodes),
            edges=edges,
            parameters=params,
            timeout=deadlines.train,
            on_progress=on_train,
            initial=initial,
        )
    history = history_summary(graph.stats)
    upload_start = PARSE_SHARE + TRAIN_SHARE
    with timed_phase("candidates", phases):
        files = file_vectors(graph, trained.embeddings, repo_url=repo_url)
    progress("upload", upload_start)
    with timed_phase("upload", phases):
        written = await upload(
            store,
            repo_url=repo_url,
            commit=graph.commit,
            job_id=job_id,
            files=files,
            history=history,
            fingerprint=fingerprint,
            on_batch=lambda n: progress("upload", upload_start + 10.0 * n / max(len(files), 1)),
        )
    return PipelineResult(
        commit=graph.commit,
        files_processed=len(graph.nodes),
        embeddings_generated=written,
        final_loss=trained.final_loss,
        history=history,
        warm_start=initial is not None,
        phase_seconds=phases,
    )


async def upload(
    store: QdrantApi,
    *,
    repo_url: str,
    commit: str,
    job_id: str,
    files: Sequence[vectors.FileVector],
    history: str,
    fingerprint: str = "",
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write the job's points, sealed with `fingerprint` when given, then remove the
    repository's other points (files since deleted); the number of points written."""
    indexed = vectors.Indexed(commit, fingerprint, len(files), history) if fingerprint else None
    with _older_objects_frozen():
        written = await vectors.upsert_file_vectors(
            store,
            repo_url=repo_url,
            commit=commit,
            job_id=job_id,
            files=files,
            history=history,
            indexed=indexed,
            on_batch=on_batch,
        )
        await vectors.delete_other_jobs(store, repo_url=repo_url, job_id=job_id)
    return written


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Garbage collections in the block scan only the objects allocated in it.

    The upload makes objects that outlive it (local mode keeps every payload), and
    enough of them to set off full collections, each a pass over the whole process
    (the graph, the files, every stored point) that frees nothing: 0.13 s of a
    0.5 s upload of sympy's points (benchmarks/README.md, `upload_profile.py`)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def training_seed(repo_url: str, commit: str) -> int:
    """A seed fixed by repository and commit, so that re-training gives the same vectors."""
    digest = hashlib.blake2b(f"{repo_url}\0{commit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


def walk_edges(graph: ParsedGraph, *, cochange_edges: bool) -> tuple[np.ndarray, np.ndarray]:
    """The edges the walks run on: imports, and co-change pairs when asked."""
    pairs = [(s, t) for s, t, _ in graph.edges]
    if cochange_edges:
        pairs.extend((s, t) for s, t, *_ in graph.cochanges)
    array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


def history_summary(stats: graph_pb2.GraphStats) -> str:
    """What the ranking says about the repository's history, e.g. "2000 commits"."""
    if stats.history_commits:
        return f"{stats.history_commits} commits"
    return stats.history_note or "no history: none was read"


def file_vectors(
    graph: ParsedGraph, embeddings: np.ndarray, *, repo_url: str
) -> list[vectors.FileVector]:
    """One point per node: vector, imports, identifier terms, strongest co-change
    partners, and hybrid `similar`'s candidates (services/ingest/candidates.py)."""
    imports: list[set[str]] = [set() for _ in graph.nodes]
    for source, target, _ in graph.edges:
        imports[source].add(graph.nodes[target].path)
    partners: list[list[vectors.Partner]] = [[] for _ in graph.nodes]
    for source, target, weight, commits, last_changed in graph.cochanges:
        for one, other in ((source, target), (target, source)):
            partners[one].append(
                vectors.Partner(graph.nodes[other].path, weight, commits, last_changed)
            )
    files = [
        vectors.FileVector(
            file_path=node.path,
            language=graph_pb2.Language.Name(node.language).removeprefix("LANGUAGE_").lower(),
            vector=embeddings[i],
            imports=sorted(imports[i]),
            terms=[(term.token, term.weight) for term in node.terms],
            cochange=sorted(partners[i], key=lambda p: (-p.weight, p.file_path))[
                :COCHANGE_PARTNERS
            ],
        )
        for i, node in enumerate(graph.nodes)
    ]
    return candidates.with_candidates(repo_url, files)


@contextlib.asynccontextmanager
async def edge_pipeline(
    settings: Settings, store: QdrantApi
) -> AsyncIterator[Callable[[jobs_pb2.QueuedTask, ProgressFn], Awaitable[PipelineResult]]]:
    """A job runner over gRPC channels to the configured parser and embedder."""
    async with (
        edge_channel(settings.grpc_address("parser"), settings.edge_shared_secret) as parser,
        edge_channel(settings.grpc_address("embedder"), settings.edge_shared_secret) as embedder,
    ):
        parameters = embedder_service_pb2.TrainParameters(
            epochs=settings.train_epochs,
            walk_length=settings.train_walk_length,
            context_size=settings.train_context_size,
            p=settings.train_p,
            q=settings.train_q,
        )
        cochange_edges = settings.train_cochange_edges
        key = index_key.fingerprint(settings, parameters, cochange_edges=cochange_edges)
        warm = (
            warm_start.WarmStart(settings.train_warm_min_kept, settings.train_warm_epochs)
            if settings.train_warm_start
            else None
        )

        async def run(task: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
            return await run_pipeline(
                job_id=task.job_id,
                repo_url=task.repo_url,
                parser=parser,
                embedder=embedder,
                store=store,
                train_parameters=parameters,
                progress=progress,
                cochange_edges=cochange_edges,
                fingerprint=key,
                force=task.force,
                warm=warm,
            )

        yield run

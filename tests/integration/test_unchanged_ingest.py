"""Re-ingesting what is already indexed: the real parser and embedder services on
loopback gRPC, the real pipeline, on both Qdrant backends (local mode and the REST
double, which counts what it is sent).

A commit indexed with the same fingerprint ends `unchanged` and writes nothing;
`force`, another fingerprint, a new commit or an index some of whose points are not
sealed make a full job; the same commit trains to the same vectors. A new commit that
kept most files trains warm from the sealed index's vectors, to the same vectors from
the same index; the first ingest, a forced one and one that changed many files train
cold."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from doubles.qdrant_rest import QdrantRestDouble
from git_repos import git
from serving import serve_grpc

from neo_alexandria.v1 import (
    embedder_service_pb2,
    embedder_service_pb2_grpc,
    parser_service_pb2_grpc,
)
from services.common import vectors
from services.common.config import Settings
from services.common.qdrant_api import LocalQdrant, QdrantApi, RestQdrant
from services.embedder.server import EmbedderServicer
from services.ingest.pipeline import PipelineResult, run_pipeline
from services.ingest.warm_start import WarmStart
from services.parser.server import ParserServicer

WRITES = (
    "PUT /collections/{name}/points",
    "POST /collections/{name}/points/delete",
    "POST /collections/{name}/points/payload",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Edge:
    parser: grpc.aio.Channel
    embedder: grpc.aio.Channel
    store: QdrantApi
    double: QdrantRestDouble | None  # the REST backend's server, None in local mode

    async def ingest(
        self,
        repo: Path,
        job_id: str,
        *,
        fingerprint: str = "f1",
        force: bool = False,
        warm: WarmStart | None = None,
        store: QdrantApi | None = None,
    ) -> PipelineResult:
        return await run_pipeline(
            job_id=job_id,
            repo_url=f"file://{repo}",
            parser=self.parser,
            embedder=self.embedder,
            store=store or self.store,
            train_parameters=embedder_service_pb2.TrainParameters(epochs=2),
            progress=lambda *_: None,
            fingerprint=fingerprint,
            force=force,
            warm=warm,
        )

    def writes(self) -> int:
        return sum(self.double.requests.get(route, 0) for route in WRITES) if self.double else 0

    async def points(
        self, repo: Path, store: QdrantApi | None = None
    ) -> dict[str, tuple[str, tuple[float, ...]]]:
        """file_path -> (job_id, structure vector) of the repository's points."""
        filter = {"must": [{"key": "repo_url", "match": {"value": f"file://{repo}"}}]}
        page, _ = await (store or self.store).scroll(
            vectors.COLLECTION, filter, 100, None, with_payload=["file_path", "job_id"]
        )
        return {
            p["payload"]["file_path"]: (p["payload"]["job_id"], tuple(p["vector"]["structure"]))
            for p in page
        }


@pytest.fixture(params=["local", "rest"])
async def edge(
    request: pytest.FixtureRequest, tmp_path: Path, qdrant_double: tuple[str, QdrantRestDouble]
) -> AsyncIterator[Edge]:
    settings = Settings(mode="LOCAL", alexandria_data_dir=tmp_path / "data")
    parser = ParserServicer(settings)
    embedder = EmbedderServicer(device="cpu")
    rest = request.param == "rest"
    store: QdrantApi = (
        RestQdrant(qdrant_double[0], None) if rest else LocalQdrant(str(tmp_path / "q"))
    )
    async with (
        serve_grpc(
            lambda s: parser_service_pb2_grpc.add_ParserServiceServicer_to_server(parser, s)
        ) as parser_channel,
        serve_grpc(
            lambda s: embedder_service_pb2_grpc.add_EmbedderServiceServicer_to_server(embedder, s)
        ) as embedder_channel,
    ):
        yield Edge(parser_channel, embedder_channel, store, qdrant_double[1] if rest else None)
    await store.close()


@pytest.mark.anyio
async def test_the_same_commit_is_unchanged_and_writes_nothing(
    edge: Edge, sample_repo: Path
) -> None:
    first = await edge.ingest(sample_repo, "j1")
    assert not first.unchanged and first.embeddings_generated == 9
    assert set(first.phase_seconds) == {"parse", "train", "candidates", "upload"}
    sealed = await vectors.read_indexed(edge.store, repo_url=f"file://{sample_repo}")
    assert sealed == vectors.Indexed(first.commit, "f1", 9, first.history)
    indexed = await edge.points(sample_repo)
    writes = edge.writes()

    again = await edge.ingest(sample_repo, "j2")
    assert set(again.phase_seconds) == {"parse"}  # only asking whether HEAD moved
    assert dataclasses.replace(again, phase_seconds={}) == PipelineResult(
        commit=first.commit,
        files_processed=9,
        embeddings_generated=0,
        final_loss=0.0,
        history=first.history,
        unchanged=True,
    )
    assert await edge.points(sample_repo) == indexed  # still job j1's points
    assert edge.writes() == writes  # nothing sent to Qdrant but reads

    # Forced, the same commit trains again, to the same vectors (the seed is the
    # repository's and the commit's), and the points are the new job's. (Training is
    # bit-identical, tests/unit/embedder; Qdrant's engine normalises cosine vectors as
    # it stores them, which can move a float32 by one unit in the last place.)
    forced = await edge.ingest(sample_repo, "j3", force=True)
    assert not forced.unchanged and forced.embeddings_generated == 9
    redone = await edge.points(sample_repo)
    assert {path: job for path, (job, _) in redone.items()} == dict.fromkeys(indexed, "j3")
    for path, (_, vector) in redone.items():
        assert np.allclose(vector, indexed[path][1], rtol=0, atol=1e-6), path


@pytest.mark.anyio
async def test_other_code_or_parameters_or_a_new_commit_make_a_full_job(
    edge: Edge, sample_repo: Path
) -> None:
    await edge.ingest(sample_repo, "j1", fingerprint="f1")
    other = await edge.ingest(sample_repo, "j2", fingerprint="f2")
    assert not other.unchanged and other.embeddings_generated == 9
    assert (await edge.ingest(sample_repo, "j3", fingerprint="f2")).unchanged

    (sample_repo / "app/extra.py").write_text("from app import db\n")
    git(sample_repo, "add", "-A")
    git(sample_repo, "commit", "-q", "-m", "extra")
    moved = await edge.ingest(sample_repo, "j4", fingerprint="f2")
    assert not moved.unchanged and moved.commit == git(sample_repo, "rev-parse", "HEAD")
    assert moved.embeddings_generated == 10


@pytest.mark.anyio
async def test_an_index_with_unsealed_points_is_redone(edge: Edge, sample_repo: Path) -> None:
    """A job stopped while writing leaves points without the seal: the next one redoes it."""
    await edge.ingest(sample_repo, "j1")
    repo_url = f"file://{sample_repo}"
    half = vectors.FileVector(file_path="app/db.py", language="python", vector=[0.5] * 64)
    await vectors.upsert_file_vectors(
        edge.store, repo_url=repo_url, commit="c", job_id="stopped", files=[half]
    )
    assert await vectors.read_indexed(edge.store, repo_url=repo_url) is None
    redone = await edge.ingest(sample_repo, "j2")
    assert not redone.unchanged
    assert {job for job, _ in (await edge.points(sample_repo)).values()} == {"j2"}
    assert (await edge.ingest(sample_repo, "j3")).unchanged


WARM = WarmStart(min_kept=0.9, epochs=1)


def commit(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")


@pytest.mark.anyio
async def test_a_small_change_trains_warm_from_the_sealed_vectors(
    edge: Edge, sample_repo: Path, tmp_path: Path
) -> None:
    first = await edge.ingest(sample_repo, "j1", warm=WARM)
    assert not first.warm_start  # nothing indexed yet
    before = await edge.points(sample_repo)

    commit(sample_repo, {"app/extra.py": "from app import db\n"})  # 9 of 10 files kept
    warm = await edge.ingest(sample_repo, "j2", warm=WARM)
    assert warm.warm_start and warm.embeddings_generated == 10
    after = await edge.points(sample_repo)
    assert {job for job, _ in after.values()} == {"j2"}
    assert set(after) == {*before, "app/extra.py"}

    # The same sealed vectors, graph and seed train to the same vectors: a second
    # store that indexed the same two commits holds the same points.
    twin = LocalQdrant(str(tmp_path / "twin"))
    try:
        git(sample_repo, "update-ref", "--no-deref", "HEAD", first.commit)
        assert not (await edge.ingest(sample_repo, "t1", warm=WARM, store=twin)).warm_start
        git(sample_repo, "update-ref", "--no-deref", "HEAD", warm.commit)
        assert (await edge.ingest(sample_repo, "t2", warm=WARM, store=twin)).warm_start
        for path, (_, vector) in (await edge.points(sample_repo, twin)).items():
            assert np.allclose(vector, after[path][1], rtol=0, atol=1e-6), path
    finally:
        await twin.close()


@pytest.mark.anyio
async def test_a_big_change_a_forced_job_or_warm_start_off_train_cold(
    edge: Edge, sample_repo: Path
) -> None:
    await edge.ingest(sample_repo, "j1", warm=WARM)
    commit(sample_repo, {f"app/new_{i}.py": "from app import db\n" for i in range(2)})
    assert not (await edge.ingest(sample_repo, "j2", warm=WARM)).warm_start  # 9 of 11 kept

    commit(sample_repo, {"app/extra.py": "from app import db\n"})
    assert not (await edge.ingest(sample_repo, "j3")).warm_start  # warm start off
    assert not (await edge.ingest(sample_repo, "j4", warm=WARM, force=True)).warm_start
    commit(sample_repo, {"app/more.py": "from app import db\n"})
    assert (await edge.ingest(sample_repo, "j5", warm=WARM)).warm_start
    assert not (await edge.ingest(sample_repo, "j6", warm=WARM, fingerprint="f2")).warm_start


@pytest.mark.anyio
async def test_a_first_index_stopped_while_writing_is_redone(edge: Edge, sample_repo: Path) -> None:
    """Every point carries its job's seal: a first job stopped before writing all of
    its files leaves fewer points than the seal counts, and the next job redoes it."""
    repo_url = f"file://{sample_repo}"
    indexed = vectors.Indexed(git(sample_repo, "rev-parse", "HEAD"), "f1", 9, "history")
    some = [
        vectors.FileVector(file_path=f"app/{name}.py", language="python", vector=[0.5] * 64)
        for name in ("db", "models")
    ]
    await vectors.ensure_collection(edge.store)
    await vectors.upsert_file_vectors(
        edge.store,
        repo_url=repo_url,
        commit=indexed.commit,
        job_id="stopped",
        files=some,
        indexed=indexed,
    )
    assert await vectors.read_indexed(edge.store, repo_url=repo_url) is None
    first = await edge.ingest(sample_repo, "j1")
    assert not first.unchanged and first.embeddings_generated == 9
    sealed = await vectors.read_indexed(edge.store, repo_url=repo_url)
    assert sealed == vectors.Indexed(first.commit, "f1", 9, first.history)

    # the same commit and fingerprint, but another job's points among them: not one index
    forced = vectors.Indexed(first.commit, "f1", 9, first.history)
    await vectors.upsert_file_vectors(
        edge.store,
        repo_url=repo_url,
        commit=first.commit,
        job_id="j2",
        files=some[:1],
        indexed=forced,
    )
    assert await vectors.read_indexed(edge.store, repo_url=repo_url) is None

"""The file collection in Qdrant: one point per file, its ids, payload, writes and reads.

Point id = UUIDv5(UUIDv5(URL, repo_url), file_path), so re-ingesting a repository
overwrites its points; `delete_other_jobs` then removes files that no longer exist.
Qdrant is reached over its REST API at `QDRANT_URL`, or runs in-process on a path in
LOCAL mode (one process per path); `services/common/qdrant_api.py` has both backends.

Each point has two named vectors: `structure`, the 64-d Node2Vec embedding (cosine),
and `identifiers`, the file's tf-idf identifier terms as a sparse vector (index =
`token_index(token)`, values L2-normalised so that a dot product is a cosine; a file
without terms has none). Its payload: repo_url, file_path, dir ("" at the root),
language, imports (repository paths), terms (the tokens, strongest first), cochange
(the strongest co-change partners: file_path, weight, commits, last_changed in unix
seconds), candidate_paths, candidate_scores and imported_by (the files hybrid
`similar` ranks for this one, the cosines of their structure and identifier vectors to
it, and those of them importing it, measured by the job: services/ingest/candidates.py;
packed: services/common/candidate_payload.py), history (what the repository's history
was, e.g. "2000 commits"), structure_norm (the structure vector's length before Qdrant
stored it normalised: a warm start restores the vector, services/ingest/warm_start.py),
commit, job_id, embedding_type, model, and, written by a job with every point, its
seal: `indexed` ("<commit> <fingerprint> <job_id>", services/ingest/index_key.py) and
`indexed_files` (how many points the job wrote; the index is complete once the
repository has that many points, all with that seal: `read_indexed`). The collection
of earlier releases (`code_structure_embeddings`, one
unnamed vector) is left alone; re-ingesting a repository moves it over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import prometheus_client

from services.common import candidate_payload
from services.common.candidate_payload import Candidates
from services.common.config import Settings
from services.common.qdrant_api import Json, LocalQdrant, QdrantApi, RestQdrant

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "structure", "text", "history"]  # as gateway.ranking.Mode
COLLECTION = "code_files"
DIMENSIONS = 64
STRUCTURE = "structure"  # the dense vector's name
IDENTIFIERS = "identifiers"  # the sparse vector's name
KEYWORD_FIELDS = ("repo_url", "file_path", "dir", "imports")
BATCH_SIZE = 100
PARALLEL_BATCHES = 4
"""Batches in flight at once: over REST the next ones are built and sent while Qdrant
applies the first (local mode applies each as it is sent)."""
SCROLL_PAGE = 1000
RETRIES = 3
STRUCTURE_NORM = "structure_norm"  # the structure vector's length, in the payload
INDEXED = "indexed"  # the seal of the job that wrote a point (`read_indexed`)
# The bounded candidate sets of hybrid `similar` for one queried file.
STRUCTURE_TOP = 50  # nearest by structure (at least `limit`)
IDENTIFIER_TOP = 50  # nearest by identifiers (at least `limit`)
IMPORTERS_MAX = 50  # files importing it
DIRECTORY_MAX = 50  # files in its directory
IMPORTS_MAX = 100  # files it imports
CANDIDATE_FIELDS = ["repo_url", "file_path", "language", "dir", "imports"]
UPLOAD_RETRIES = prometheus_client.Counter(
    "alexandria_upload_retries", "Qdrant writes retried after a failure"
)


@dataclass(frozen=True)
class Partner:
    """A file changed together with another in past commits."""

    file_path: str
    weight: float  # logical coupling: the sum of 1 / (files in the commit - 1)
    commits: int  # commits that changed both
    last_changed: int  # the newest such commit's time, unix seconds


@dataclass(frozen=True)
class FileVector:
    file_path: str
    language: str
    vector: Sequence[float]
    imports: Sequence[str] = ()  # repository paths of the files this one imports
    terms: Sequence[tuple[str, float]] = ()  # identifier tokens, tf-idf weight, strongest first
    cochange: Sequence[Partner] = ()  # strongest first
    # Hybrid `similar`'s candidates, measured; None: not computed (the point has no
    # `candidates`, and `similar` queries Qdrant for them and reads their vectors).
    candidates: Candidates | None = None


@dataclass(frozen=True)
class Indexed:
    """A repository's complete index: what its points were made from."""

    commit: str
    fingerprint: str  # services/ingest/index_key.py
    files: int
    history: str


@dataclass(frozen=True)
class StoredRepository:
    commit: str  # the commit most files carry (they differ only while a re-ingest writes)
    files: list[FileVector]  # sorted by path


@dataclass(frozen=True)
class StoredFile:
    """One point as read back: what the ranking needs of a file."""

    repo_url: str
    file_path: str
    language: str
    dir: str
    imports: tuple[str, ...]
    structure: tuple[float, ...]
    identifiers: Mapping[int, float]  # token_index -> weight (empty: no terms)
    terms: tuple[str, ...] = ()  # read for the queried file only
    cochange: tuple[Partner, ...] = ()  # read for the queried file only
    history: str = ""  # read for the queried file only
    candidates: Candidates | None = None  # read for the queried file only


def open_vector_store(settings: Settings) -> QdrantApi:
    """Qdrant's REST API at QDRANT_URL, or local mode under the data dir."""
    if settings.qdrant_url:
        return RestQdrant(settings.qdrant_url, settings.qdrant_api_key)
    return LocalQdrant(str(settings.data_dir / "qdrant"))


def point_id(repo_url: str, file_path: str) -> str:
    return str(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, repo_url), file_path))


@functools.lru_cache(maxsize=1 << 16)
def token_index(token: str) -> int:
    """An identifier token's dimension in the sparse vector (cached: the ranking looks up
    the queried file's terms for every candidate)."""
    return zlib.crc32(token.encode()) & 0x7FFFFFFF


def parent_dir(file_path: str) -> str:
    """The file's directory, "" at the repository root."""
    return file_path.rpartition("/")[0]


def sparse_vector(weights: Mapping[int, float]) -> Json:
    """Qdrant's sparse vector JSON, indices ascending."""
    indices = sorted(weights)
    return {"indices": indices, "values": [weights[i] for i in indices]}


def term_weights(terms: Sequence[tuple[str, float]]) -> dict[int, float]:
    """index -> weight of the positive terms (a colliding later token is dropped)."""
    weights: dict[int, float] = {}
    for token, weight in terms:
        if weight > 0:
            weights.setdefault(token_index(token), round(float(weight), 6))
    return weights


async def ensure_collection(client: QdrantApi) -> None:
    """Create the collection (named dense and sparse vectors) and its keyword indexes."""
    if COLLECTION in await client.collections():
        return
    await client.create_collection(
        COLLECTION,
        {
            "vectors": {STRUCTURE: {"size": DIMENSIONS, "distance": "Cosine"}},
            "sparse_vectors": {IDENTIFIERS: {}},
        },
    )
    for field in KEYWORD_FIELDS:
        await client.create_keyword_index(COLLECTION, field)


def _match(key: str, value: str) -> Json:
    return {"key": key, "match": {"value": value}}


def point_body(
    f: FileVector,
    *,
    repo_url: str,
    commit: str,
    job_id: str,
    history: str = "",
    indexed: Indexed | None = None,
) -> Json:
    """One file's point, as upserted; with the seal of `indexed` when given."""
    weights = term_weights(f.terms)
    structure = [float(x) for x in f.vector]
    vector: Json = {STRUCTURE: structure}
    if weights:
        vector[IDENTIFIERS] = sparse_vector(weights)
    payload: Json = {
        "repo_url": repo_url,
        "file_path": f.file_path,
        "dir": parent_dir(f.file_path),
        "language": f.language,
        "imports": list(f.imports),
        "terms": [token for token, weight in f.terms if weight > 0],
        "cochange": [
            {
                "file_path": p.file_path,
                "weight": round(float(p.weight), 6),
                "commits": int(p.commits),
                "last_changed": int(p.last_changed),
            }
            for p in f.cochange
        ],
        "history": history,
        STRUCTURE_NORM: math.sqrt(math.fsum(x * x for x in structure)),
        "commit": commit,
        "job_id": job_id,
        "embedding_type": "structural",
        "model": "node2vec",
    }
    if f.candidates is not None:
        payload.update(candidate_payload.encode(f.candidates))
    if indexed is not None:
        payload[INDEXED] = _seal(indexed, job_id)
        payload["indexed_files"] = indexed.files
    return {"id": point_id(repo_url, f.file_path), "vector": vector, "payload": payload}


async def upsert_file_vectors(
    client: QdrantApi,
    *,
    repo_url: str,
    commit: str,
    job_id: str,
    files: Sequence[FileVector],
    history: str = "",
    indexed: Indexed | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write every file's point in batches of `BATCH_SIZE`, up to `PARALLEL_BATCHES` of
    them in flight, each retried 3 times with backoff; `on_batch(points written)` as
    each is written. A failed batch stops the others and raises. Only the last batch
    is a durable write, sent once all others are written: in local mode its one sync
    keeps them all (one sync a batch took 0.1-0.17 s of a job's upload).

    `history`: what the repository's history gave, e.g. "2000 commits" or
    "no history: a one-commit snapshot", stored with every point. `indexed`: the
    seal every point carries (`read_indexed`), for a job writing all of its files."""
    written = 0
    pending: set[asyncio.Task[int]] = set()

    async def send(batch: list[Json], durable: bool) -> int:
        write = functools.partial(client.upsert, COLLECTION, batch, durable=durable)
        await _with_retries(write)
        return len(batch)

    async def settle() -> None:
        nonlocal written, pending
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task.exception() is None:
                written += task.result()
                if on_batch is not None:
                    on_batch(written)
        for task in done:
            task.result()  # a failed batch's error

    try:
        for start in range(0, len(files), BATCH_SIZE):
            batch = [
                point_body(
                    f,
                    repo_url=repo_url,
                    commit=commit,
                    job_id=job_id,
                    history=history,
                    indexed=indexed,
                )
                for f in files[start : start + BATCH_SIZE]
            ]
            last = start + BATCH_SIZE >= len(files)
            while pending and (last or len(pending) >= PARALLEL_BATCHES):
                await settle()
            pending.add(asyncio.create_task(send(batch, last)))
        while pending:
            await settle()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    return written


async def delete_other_jobs(client: QdrantApi, *, repo_url: str, job_id: str) -> None:
    """Remove the repository's points written by earlier jobs (files since deleted)."""
    older = {"must": [_match("repo_url", repo_url)], "must_not": [_match("job_id", job_id)]}
    await _with_retries(functools.partial(client.delete, COLLECTION, older))


def _seal(indexed: Indexed, job_id: str) -> str:
    return f"{indexed.commit} {indexed.fingerprint} {job_id}"


async def read_indexed(client: QdrantApi, *, repo_url: str) -> Indexed | None:
    """The repository's complete index: every one of its points carries the same seal
    (one job's), and there are as many as the seal counts. None when it has no points,
    when any lacks that seal (another job's point: one stopped while writing, or
    before removing the files since deleted) or when some are missing (a job stopped
    while writing its first index)."""
    repo = _match("repo_url", repo_url)
    fields = [INDEXED, "indexed_files", "history"]
    page, _ = await client.scroll(
        COLLECTION, {"must": [repo]}, 1, None, with_payload=fields, with_vector=False
    )
    payload = (page[0].get("payload") or {}) if page else {}
    mark = payload.get(INDEXED)
    if not isinstance(mark, str) or len(parts := mark.split(" ")) != 3:
        return None
    unsealed = {"must": [repo], "must_not": [_match(INDEXED, mark)]}
    others, _ = await client.scroll(
        COLLECTION, unsealed, 1, None, with_payload=False, with_vector=False
    )
    files = int(payload.get("indexed_files") or 0)
    if others or await client.count(COLLECTION, {"must": [repo]}) != files:
        return None
    commit, fingerprint, _ = parts
    return Indexed(commit, fingerprint, files, str(payload.get("history", "")))


async def previous_structure(client: QdrantApi, *, repo_url: str) -> dict[str, tuple[float, ...]]:
    """file_path -> structure vector of the repository's points as the job that wrote
    them trained it: Qdrant's unit vector times the `structure_norm` of the payload
    (points without one are left out)."""
    found: dict[str, tuple[float, ...]] = {}
    offset: str | int | None = None
    repo = {"must": [_match("repo_url", repo_url)]}
    while True:
        page, offset = await client.scroll(
            COLLECTION,
            repo,
            SCROLL_PAGE,
            offset,
            with_payload=["file_path", STRUCTURE_NORM],
            with_vector=[STRUCTURE],
        )
        for point in page:
            payload = point.get("payload") or {}
            norm = payload.get(STRUCTURE_NORM)
            unit = _dense(point)
            length = math.sqrt(math.fsum(x * x for x in unit))
            if isinstance(norm, int | float) and length > 0:
                found[payload["file_path"]] = tuple(x * norm / length for x in unit)
        if offset is None:
            return found


def _dense(point: Json) -> tuple[float, ...]:
    vector = point.get("vector")
    if isinstance(vector, dict):
        vector = vector.get(STRUCTURE)
    return tuple(vector or ())  # JSON numbers: floats (an int only for an exact 0 or 1)


def _sparse(point: Json) -> dict[int, float]:
    vector = point.get("vector")
    sparse = vector.get(IDENTIFIERS) if isinstance(vector, dict) else None
    if not sparse:
        return {}
    return dict(zip(sparse["indices"], sparse["values"], strict=True))


def stored_file(point: Json) -> StoredFile:
    """A point (REST JSON, with payload and vectors) as a StoredFile."""
    payload = point.get("payload") or {}
    file_path = payload.get("file_path", "")
    return StoredFile(
        repo_url=payload.get("repo_url", ""),
        file_path=file_path,
        language=payload.get("language", ""),
        dir=payload.get("dir", parent_dir(file_path)),
        imports=tuple(payload.get("imports") or ()),
        structure=_dense(point),
        identifiers=_sparse(point),
        terms=tuple(payload.get("terms") or ()),
        cochange=tuple(
            Partner(
                file_path=p["file_path"],
                weight=float(p.get("weight", 0.0)),
                commits=int(p.get("commits", 0)),
                last_changed=int(p.get("last_changed", 0)),
            )
            for p in payload.get("cochange") or ()
        ),
        history=str(payload.get("history", "")),
        candidates=candidate_payload.decode(payload),
    )


async def _scroll_page(client: QdrantApi, filter: Json, limit: int) -> list[Json]:
    page, _ = await client.scroll(
        COLLECTION, filter, limit, None, with_payload=CANDIDATE_FIELDS, with_vector=True
    )
    return page


async def read_file(client: QdrantApi, *, repo_url: str, file_path: str) -> StoredFile | None:
    """The queried file's point, with its vectors and whole payload; None when it has none."""
    found = await client.retrieve(
        COLLECTION, [point_id(repo_url, file_path)], with_payload=True, with_vector=True
    )
    if not found or not found[0].get("payload"):
        return None
    return stored_file(found[0])


def ranks_stored(query: StoredFile, *, mode: Mode, limit: int, same_repo: bool) -> bool:
    """Whether hybrid `similar` ranks the job's measured candidates of `query` alone: it
    has them, and the request wants no more than their tops nor other repositories."""
    return (
        mode == "hybrid"
        and same_repo
        and query.candidates is not None
        and limit <= min(STRUCTURE_TOP, IDENTIFIER_TOP)
    )


async def file_details(
    client: QdrantApi, *, repo_url: str, paths: Sequence[str]
) -> dict[str, StoredFile]:
    """The named files of the repository that have points, by path: their language,
    directory and identifier vector (no structure vector, nothing for the ranking)."""
    if not paths:
        return {}
    found = await client.retrieve(
        COLLECTION,
        [point_id(repo_url, path) for path in dict.fromkeys(paths)],
        with_payload=CANDIDATE_FIELDS,
        with_vector=[IDENTIFIERS],
    )
    files = (stored_file(p) for p in found if p.get("payload"))
    return {f.file_path: f for f in files}


async def candidate_files(
    client: QdrantApi, query: StoredFile, *, limit: int, same_repo: bool = True, mode: Mode
) -> list[StoredFile]:
    """The candidates `mode` ranks for `query` (a point read by `read_file`), with their
    vectors, when the ranking must measure them itself (not `ranks_stored`). Candidates
    may repeat and are never the queried file.

    - structure / text: the `max(STRUCTURE_TOP, limit)` nearest by structure / by
      identifiers (Qdrant's dense / sparse query, in every repository unless
      `same_repo`): the exact top of that one signal;
    - history: its co-change partners;
    - hybrid: its co-change partners, the files it imports and the job's candidates
      (services/ingest/candidates.py) read by id, and the dense and sparse queries. A
      point without the job's candidates (written before they were) gets the files
      importing it and those of its directory from two filtered scrolls instead.

    One round trip: the reads run concurrently."""
    own_id = point_id(query.repo_url, query.file_path)
    not_self: list[Json] = [{"has_id": [own_id]}]
    repo = [_match("repo_url", query.repo_url)]
    scope: Json = {"must": repo, "must_not": not_self} if same_repo else {"must_not": not_self}
    searches: list[tuple[list[float] | Json, str, int]] = []
    if query.structure and mode in ("structure", "hybrid"):
        searches.append((list(query.structure), STRUCTURE, STRUCTURE_TOP))
    if query.identifiers and mode in ("text", "hybrid"):
        searches.append((sparse_vector(query.identifiers), IDENTIFIERS, IDENTIFIER_TOP))
    reads: list[Awaitable[list[Json]]] = [
        client.query(
            COLLECTION,
            vector,
            scope,
            max(top, limit),
            using=using,
            with_payload=CANDIDATE_FIELDS,
            with_vector=True,
        )
        for vector, using, top in searches
    ]
    linked: list[str] = []
    if mode in ("history", "hybrid"):
        linked = [p.file_path for p in query.cochange]
    if mode == "hybrid":
        linked += query.imports[:IMPORTS_MAX]
        linked += query.candidates.paths if query.candidates else ()
    ids = [
        point_id(query.repo_url, path) for path in dict.fromkeys(linked) if path != query.file_path
    ]
    if ids:
        reads.append(
            client.retrieve(COLLECTION, ids, with_payload=CANDIDATE_FIELDS, with_vector=True)
        )
    if mode == "hybrid" and query.candidates is None:
        importers = {"must": [*repo, _match("imports", query.file_path)], "must_not": not_self}
        reads.append(_scroll_page(client, importers, IMPORTERS_MAX))
        neighbours = {"must": [*repo, _match("dir", query.dir)], "must_not": not_self}
        reads.append(_scroll_page(client, neighbours, DIRECTORY_MAX))
    pages = await asyncio.gather(*reads)
    return [stored_file(p) for page in pages for p in page if p.get("payload")]


async def identifier_matches(
    client: QdrantApi, *, repo_url: str, words: Sequence[str], limit: int
) -> list[tuple[StoredFile, float]] | None:
    """The repository's files whose identifiers best match `words` (each weighing the
    same), with the match score, best first; None when the repository has no points."""
    indices = {token_index(word): 0.0 for word in words}
    for index in indices:
        indices[index] = 1.0 / math.sqrt(len(indices))
    repo = {"must": [_match("repo_url", repo_url)]}
    hits = await client.query(
        COLLECTION,
        sparse_vector(indices),
        repo,
        limit,
        using=IDENTIFIERS,
        with_payload=CANDIDATE_FIELDS,
        with_vector=True,
    )
    if not hits:
        page, _ = await client.scroll(
            COLLECTION, repo, 1, None, with_payload=False, with_vector=False
        )
        return None if not page else []
    return [(stored_file(p), float(p["score"])) for p in hits if p.get("payload")]


async def repository_files(
    client: QdrantApi, *, repo_url: str, limit: int
) -> StoredRepository | None:
    """Up to `limit` of the repository's files with vectors and imports; None when it has none."""
    found: list[tuple[dict[str, Any], list[float]]] = []
    offset: str | int | None = None
    repo = {"must": [_match("repo_url", repo_url)]}
    fields = ["file_path", "language", "imports", "commit"]
    while len(found) < limit:
        page, offset = await client.scroll(
            COLLECTION,
            repo,
            min(SCROLL_PAGE, limit - len(found)),
            offset,
            with_payload=fields,
            with_vector=[STRUCTURE],
        )
        found.extend((p["payload"], list(_dense(p))) for p in page if p.get("payload"))
        if offset is None:
            break
    if not found:
        return None
    files = [
        FileVector(
            file_path=payload["file_path"],
            language=payload.get("language", ""),
            vector=vector,
            imports=payload.get("imports", []),
        )
        for payload, vector in found
    ]
    files.sort(key=lambda f: f.file_path)
    commits = Counter(str(payload.get("commit", "")) for payload, _ in found)
    return StoredRepository(commit=commits.most_common(1)[0][0], files=files)


async def _with_retries(
    call: Callable[[], Awaitable[object]], *, retries: int = RETRIES, base_delay: float = 0.5
) -> None:
    for attempt in range(1, retries + 1):
        try:
            await call()
            return
        except Exception as exc:
            if attempt == retries:
                raise
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("qdrant write failed (%s), retry %d in %.1fs", exc, attempt, delay)
            UPLOAD_RETRIES.inc()
            await asyncio.sleep(delay)

"""The Qdrant operations on both backends: the REST client (through the Qdrant REST test
double, which runs the real engine) and local mode answer alike."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from doubles.qdrant_rest import QdrantRestDouble

from services.common.qdrant_api import LocalQdrant, QdrantApi, QdrantError, RestQdrant

pytestmark = pytest.mark.anyio
NAME = "c"
KEY = "test-api-key"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _point(i: int, repo: str) -> dict[str, object]:
    vector = [0.0] * 4
    vector[i % 4] = 1.0
    vector[(i + 1) % 4] = 0.1 * i
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{repo}/{i}")),
        "vector": vector,
        "payload": {"repo_url": repo, "file_path": f"f{i}.py", "imports": [f"f{i + 1}.py"]},
    }


def _repo(repo: str) -> dict[str, object]:
    return {"must": [{"key": "repo_url", "match": {"value": repo}}]}


@pytest.fixture
def qdrant_api_key() -> str:
    return KEY


@pytest.fixture
async def api(qdrant_backend: QdrantApi) -> QdrantApi:
    await qdrant_backend.create_collection(NAME, {"vectors": {"size": 4, "distance": "Cosine"}})
    await qdrant_backend.create_keyword_index(NAME, "repo_url")
    return qdrant_backend


async def test_points_round_trip_and_search_by_filter(api: QdrantApi) -> None:
    assert NAME in await api.collections()
    await api.upsert(NAME, [_point(i, "a") for i in range(5)] + [_point(9, "b")])
    [one] = await api.retrieve(NAME, [str(_point(2, "a")["id"])])
    assert one["payload"]["file_path"] == "f2.py" and len(one["vector"]) == 4
    hits = await api.query(NAME, [1.0, 0.0, 0.0, 0.0], _repo("a"), 3)
    assert len(hits) == 3 and hits[0]["payload"]["file_path"] == "f0.py"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    assert {h["payload"]["repo_url"] for h in hits} == {"a"}


async def test_scroll_pages_through_a_repository(api: QdrantApi) -> None:
    await api.upsert(NAME, [_point(i, "a") for i in range(7)] + [_point(20, "b")])
    seen: list[str] = []
    offset: str | int | None = None
    while True:
        page, offset = await api.scroll(NAME, _repo("a"), 3, offset)
        seen += [p["payload"]["file_path"] for p in page]
        assert all(len(p["vector"]) == 4 for p in page)
        if offset is None:
            break
    assert sorted(seen) == [f"f{i}.py" for i in range(7)]


async def test_delete_by_filter(api: QdrantApi) -> None:
    await api.upsert(NAME, [_point(i, "a") for i in range(3)] + [_point(5, "b")])
    await api.delete(NAME, {"must": [{"key": "repo_url", "match": {"value": "a"}}]})
    page, _ = await api.scroll(NAME, {}, 10, None)
    assert [p["payload"]["repo_url"] for p in page] == ["b"]


async def test_count_by_filter(api: QdrantApi) -> None:
    await api.upsert(NAME, [_point(i, "a") for i in range(3)] + [_point(5, "b")], durable=False)
    assert await api.count(NAME, _repo("a")) == 3
    assert await api.count(NAME, _repo("none")) == 0
    assert await api.count(NAME, {}) == 4


NAMED = "named"
NAMED_CONFIG = {
    "vectors": {"dense": {"size": 4, "distance": "Cosine"}},
    "sparse_vectors": {"words": {}},
}


def _named(i: int, words: dict[int, float] | None) -> dict[str, object]:
    dense = [0.0] * 4
    dense[i % 4] = 1.0
    vector: dict[str, object] = {"dense": dense}
    if words:
        vector["words"] = {"indices": sorted(words), "values": [words[k] for k in sorted(words)]}
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"named/{i}")),
        "vector": vector,
        "payload": {"repo_url": "a", "file_path": f"f{i}.py", "dir": "d" if i < 2 else ""},
    }


async def test_named_dense_and_sparse_vectors_query_retrieve_and_scroll(api: QdrantApi) -> None:
    await api.create_collection(NAMED, NAMED_CONFIG)
    await api.create_keyword_index(NAMED, "dir")
    points = [
        _named(0, {7: 1.0}),
        _named(1, {7: 0.6, 9: 0.8}),
        _named(2, {9: 1.0}),
        _named(3, None),  # no sparse vector
    ]
    await api.upsert(NAMED, points)
    dense = await api.query(
        NAMED, [0.0, 1.0, 0.0, 0.0], _repo("a"), 2, using="dense", with_vector=["dense"]
    )
    assert dense[0]["payload"]["file_path"] == "f1.py"
    assert set(dense[0]["vector"]) == {"dense"}
    sparse = await api.query(
        NAMED,
        {"indices": [9], "values": [1.0]},
        _repo("a"),
        5,
        using="words",
        with_payload=["file_path"],
        with_vector=True,
    )
    assert [h["payload"] for h in sparse] == [{"file_path": "f2.py"}, {"file_path": "f1.py"}]
    assert sparse[0]["score"] == pytest.approx(1.0) and sparse[1]["score"] == pytest.approx(0.8)
    assert sparse[1]["vector"]["words"] == {"indices": [7, 9], "values": pytest.approx([0.6, 0.8])}
    ids = [str(p["id"]) for p in points] + [str(uuid.uuid5(uuid.NAMESPACE_URL, "missing"))]
    found = await api.retrieve(NAMED, ids, with_payload=["file_path"], with_vector=["dense"])
    assert sorted(p["payload"]["file_path"] for p in found) == [f"f{i}.py" for i in range(4)]
    assert all(set(p["vector"]) == {"dense"} for p in found)
    in_d = {"must": [{"key": "dir", "match": {"value": "d"}}]}
    page, offset = await api.scroll(NAMED, in_d, 10, None, with_payload=False, with_vector=False)
    assert len(page) == 2 and offset is None
    assert all(not p.get("payload") and not p.get("vector") for p in page)


async def test_errors_are_qdrant_errors(api: QdrantApi) -> None:
    with pytest.raises(QdrantError):
        await api.query("missing", [1.0, 0.0, 0.0, 0.0], {}, 1)


async def test_the_rest_client_reports_a_wrong_key_a_dead_server_and_a_bad_body(
    qdrant_double: tuple[str, QdrantRestDouble],
) -> None:
    url, double = qdrant_double
    wrong = RestQdrant(url, "wrong-key")
    with pytest.raises(QdrantError, match="401"):
        await wrong.collections()
    await wrong.close()
    dead = RestQdrant("http://127.0.0.1:9", KEY)
    with pytest.raises(QdrantError, match="unreachable"):
        await dead.collections()
    await dead.close()
    client = RestQdrant(url, KEY)
    await client.create_collection(NAME, {"vectors": {"size": 4, "distance": "Cosine"}})
    with pytest.raises(QdrantError, match="400"):  # the double parses with Qdrant's models
        await client.upsert(NAME, [{"id": 1, "vectr": [0.0] * 4}])
    await client.close()
    assert double.requests["PUT /collections/{name}/points"] == 1


_WRITER = """
import asyncio, os, signal, sys, uuid
from services.common.qdrant_api import LocalQdrant

async def main():
    store = LocalQdrant(sys.argv[1])
    await store.create_collection("c", {"vectors": {"size": 4, "distance": "Cosine"}})
    for batch in range(3):
        points = [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{batch}/{i}")), "vector": [1.0, 0, 0, i],
             "payload": {"batch": batch}}
            for i in range(50)
        ]
        await store.upsert("c", points)
    await store.delete("c", {"must": [{"key": "batch", "match": {"value": 1}}]})
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no exit handlers

asyncio.run(main())
"""


async def test_local_writes_are_on_disk_when_they_return(tmp_path: Path) -> None:
    """Local mode's storage runs in write-ahead-log mode, and every upsert and delete is
    kept by a process killed right after it returns."""
    path = tmp_path / "killed"
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path)], cwd=Path(__file__).parents[2], check=False
    )
    assert done.returncode == -9
    (storage,) = path.glob("collection/c/*.sqlite")
    reopened = LocalQdrant(str(path))
    try:
        kept, _ = await reopened.scroll(NAME, {"must": []}, 1000, None, with_vector=False)
        assert sorted({p["payload"]["batch"] for p in kept}) == [0, 2] and len(kept) == 100
        await reopened.upsert(NAME, [_point(0, "r")])
        journal = reopened._storage(NAME)
        assert journal is not None
        assert journal.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await reopened.close()
    assert storage.exists()


async def test_a_durable_write_syncs_the_writes_before_it(tmp_path: Path) -> None:
    """Local mode: upserts that are not durable wait in the write-ahead log; the next
    durable write checkpoints them into the database file together with its own."""
    store = LocalQdrant(str(tmp_path / "q"))
    try:
        await store.create_collection(NAME, {"vectors": {"size": 4, "distance": "Cosine"}})
        await store.upsert(NAME, [_point(i, "a") for i in range(3)], durable=False)
        (database,) = (tmp_path / "q").glob("collection/c/*.sqlite")

        def in_database_file() -> int:
            alone = tmp_path / "alone.sqlite"  # the database file without its log
            alone.write_bytes(database.read_bytes())
            with contextlib.closing(sqlite3.connect(alone)) as conn:
                return int(conn.execute("SELECT count(*) FROM points").fetchone()[0])

        assert in_database_file() == 0
        await store.upsert(NAME, [_point(3, "a")])
        assert in_database_file() == 4
    finally:
        await store.close()

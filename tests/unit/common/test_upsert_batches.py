"""`upsert_file_vectors` keeps up to `PARALLEL_BATCHES` batches in flight: every point
is written once, progress only grows, the last batch alone is durable and is written
after all others, and a batch that keeps failing stops the rest."""

from __future__ import annotations

import asyncio
import functools
import random

import pytest

from services.common import vectors
from services.common.qdrant_api import Json, QdrantError

REPO = "https://github.com/batches/repo"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class SlowStore:
    """Answers each upsert after a random pause; fails every try of batch `failing`."""

    def __init__(self, failing: int | None = None) -> None:
        self.points: list[str] = []
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.failing = failing
        self.durable: list[bool] = []
        self.rng = random.Random(7)

    async def upsert(self, name: str, points: list[Json], *, durable: bool = True) -> None:
        self.durable.append(durable)
        batch = int(points[0]["payload"]["file_path"].split("/")[1]) // vectors.BATCH_SIZE
        self.calls += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.rng.random() / 100)
            if batch == self.failing:
                raise QdrantError("Qdrant PUT /collections/code_files/points: 500")
            self.points += [p["payload"]["file_path"] for p in points]
        finally:
            self.in_flight -= 1


def files(count: int) -> list[vectors.FileVector]:
    return [vectors.FileVector(f"f/{i:04d}", "python", [1.0] * 64) for i in range(count)]


@pytest.mark.anyio
async def test_every_point_is_written_once_with_growing_progress() -> None:
    store = SlowStore()
    progress: list[int] = []
    written = await vectors.upsert_file_vectors(
        store,  # type: ignore[arg-type]
        repo_url=REPO,
        commit="c",
        job_id="j",
        files=files(1234),
        on_batch=progress.append,
    )
    assert written == 1234
    assert sorted(store.points) == [f.file_path for f in files(1234)]
    assert progress == sorted(progress) and progress[-1] == 1234 and len(progress) == 13
    assert store.most_in_flight == vectors.PARALLEL_BATCHES
    assert store.durable == [False] * 12 + [True]  # one sync, by the last batch written
    assert store.points[-34:] == [f.file_path for f in files(1234)][-34:]


@pytest.mark.anyio
async def test_a_failing_batch_stops_the_others_and_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    retried = vectors._with_retries
    monkeypatch.setattr(vectors, "_with_retries", functools.partial(retried, base_delay=0.0))
    store = SlowStore(failing=2)
    with pytest.raises(QdrantError, match="500"):
        await vectors.upsert_file_vectors(
            store,  # type: ignore[arg-type]
            repo_url=REPO,
            commit="c",
            job_id="j",
            files=files(3000),
        )
    calls = store.calls
    await asyncio.sleep(0.05)
    assert store.calls == calls and store.in_flight == 0  # nothing left running
    assert calls < 30 + 2  # 30 batches, the failing one tried 3 times: not all were sent

"""Shared fixtures: real Redis (embedded, and the CI server), real metadata DBs, git repos."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from environment import EXTERNAL, external_url, flush_redis
from git_repos import SAMPLE_PYTHON_REPO, make_git_repo

if TYPE_CHECKING:
    from doubles.qdrant_rest import QdrantRestDouble
    from doubles.upstash_rest import UpstashRestDouble

    from services.common.qdrant_api import QdrantApi


@pytest.fixture(scope="session", autouse=True)
def user_data_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The per-user default data dir of every test (and process it starts) lies in a temp
    dir, never under the real home."""
    home = tmp_path_factory.mktemp("xdg-data")
    os.environ["XDG_DATA_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from services.common.embedded_redis import ensure_embedded_redis

    url, proc = ensure_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield url
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["embedded", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Each Redis test runs on the embedded server and on the real one (CI), flushed first."""
    if request.param == "embedded":
        return flush_redis(request.getfixturevalue("embedded_redis_url"), may_skip=False)
    return flush_redis(external_url("redis"), may_skip=True)


@pytest.fixture(scope="session")
def upstash_rest(embedded_redis_url: str) -> Iterator[UpstashRestDouble]:
    """The Upstash REST test double, in front of the machine's Redis (CI) or the embedded one."""
    from doubles.upstash_rest import serve_upstash_rest

    backing = os.environ.get(EXTERNAL["redis"]) or embedded_redis_url
    with serve_upstash_rest(backing) as server:
        yield server


@pytest.fixture(params=["embedded", "redis", "upstash-rest"])
def queue_config(request: pytest.FixtureRequest) -> dict[str, str]:
    """Settings fields selecting each queue transport in turn, on a flushed Redis:
    the embedded server, the real one (CI), and Upstash REST (the test double)."""
    if request.param == "upstash-rest":
        server = request.getfixturevalue("upstash_rest")
        flush_redis(server.redis_url, may_skip=False)
        return {"upstash_redis_rest_url": server.url, "upstash_redis_rest_token": server.token}
    if request.param == "embedded":
        return {
            "redis_url": flush_redis(request.getfixturevalue("embedded_redis_url"), may_skip=False)
        }
    return {"redis_url": flush_redis(external_url("redis"), may_skip=True)}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each metadata-DB test runs on SQLite and on the real Postgres (CI), emptied first."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'metadata.db'}"
        return
    url = external_url("postgres")
    from sqlalchemy import create_engine, text

    from gateway.db import Base

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    yield url


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A small committed Python project with a real import graph."""
    return make_git_repo(tmp_path / "sample", SAMPLE_PYTHON_REPO)


@pytest.fixture
def qdrant_api_key() -> str | None:
    """The API key the Qdrant double asks for: none, unless a test module overrides this."""
    return None


@pytest.fixture
def qdrant_double(
    tmp_path: Path, qdrant_api_key: str | None
) -> Iterator[tuple[str, QdrantRestDouble]]:
    """The Qdrant REST test double serving a fresh store: its URL, and the double."""
    from doubles.qdrant_rest import serve_qdrant

    with serve_qdrant(tmp_path / "qdrant-server", api_key=qdrant_api_key) as running:
        yield running


@pytest.fixture(params=["local", "rest"])
async def qdrant_backend(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    qdrant_double: tuple[str, QdrantRestDouble],
    qdrant_api_key: str | None,
) -> AsyncIterator[QdrantApi]:
    """Each Qdrant backend in turn, empty: local mode, then Qdrant's REST API (the double).
    For anyio tests."""
    from services.common.qdrant_api import LocalQdrant, RestQdrant

    backend: QdrantApi = (
        LocalQdrant(str(tmp_path / "local"))
        if request.param == "local"
        else RestQdrant(qdrant_double[0], qdrant_api_key)
    )
    yield backend
    await backend.close()

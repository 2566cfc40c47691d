"""Shared fixtures: real Redis (embedded, and the CI server), real metadata DBs, git repos."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from doubles.upstash_rest import UpstashRestDouble

IN_CI = bool(os.environ.get("CI"))
EXTERNAL = {
    "redis": "ALEXANDRIA_TEST_REDIS_URL",
    "postgres": "ALEXANDRIA_TEST_DATABASE_URL",
}


def external_url(kind: str) -> str:
    """The URL of the external service for integration tests, or skip (fail in CI)."""
    var = EXTERNAL[kind]
    url = os.environ.get(var)
    if not url:
        if IN_CI:
            pytest.fail(f"{var} must be set in CI; the {kind} integration tests may not skip")
        pytest.skip(f"{var} not set: skipping the external {kind} variant")
    return url


@pytest.fixture(scope="session")
def embedded_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from services.common.embedded_redis import ensure_embedded_redis

    url, proc = ensure_embedded_redis(tmp_path_factory.mktemp("redis"))
    yield url
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=10)


def flush_redis(url: str, *, may_skip: bool) -> str:
    """Empty the Redis at `url`; skip when unreachable and `may_skip` (never in CI)."""
    import redis
    from queue_helpers import flush

    try:
        return flush(url)
    except redis.ConnectionError as exc:
        if IN_CI or not may_skip:
            pytest.fail(f"Redis at {url} unreachable: {exc}")
        pytest.skip(f"Redis at {url} unreachable: {exc}")


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


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_git_repo(root: Path, files: dict[str, str]) -> Path:
    """A real git repository with `files` committed."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    return root


SAMPLE_PYTHON_REPO = {
    "app/__init__.py": "",
    "app/main.py": "from app import models, views\nfrom app.services import billing\n",
    "app/models.py": "import os\nfrom app.db import session\n",
    "app/views.py": "from . import models\nfrom .services import billing\n",
    "app/db.py": "import sqlite3\n",
    "app/services/__init__.py": "",
    "app/services/billing.py": "from ..models import Invoice\nfrom app.db import session\n",
    "app/services/mail.py": "from app.services import billing\n",
    "tests/test_billing.py": "from app.services import billing\nimport pytest\n",
}


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A small committed Python project with a real import graph."""
    return make_git_repo(tmp_path / "sample", SAMPLE_PYTHON_REPO)

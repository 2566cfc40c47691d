"""Which external services the tests use, and the rule for them: skip with a reason
outside CI, fail in CI (where `.ci/run` provides Postgres and Redis)."""

from __future__ import annotations

import os

import pytest

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


def clear_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable `Settings` reads, so a test sees only what it sets itself."""
    from services.common.config import variable_names

    for name in variable_names():
        monkeypatch.delenv(name, raising=False)

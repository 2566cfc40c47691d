"""`alexandria status` as people read it: each worker's state, then its repository or,
in error, why its last job failed; from recorded gateway JSON (the REST shape)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from alexandria import output
from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import status

REPO = "https://github.com/psf/requests"
HEALTH = {"status": "ok", "checks": {"database": "ok", "qdrant": "ok", "redis": "ok"}}


def worker(worker_id: str, state: str, **fields: Any) -> dict[str, Any]:
    return {
        "worker_id": worker_id,
        "state": state,
        "repo_url": "",
        "message": "",
        "status": "",
        "heartbeat_at": "2026-11-26T08:00:14Z",
        "heartbeat_age_seconds": 3.2,
        "heartbeat_interval_seconds": 60.0,
        "job_id": "",
        "device": "",
        **fields,
    }


WORKERS = {
    "state": "parsing",
    "status": f"Parsing {REPO}",
    "workers": [
        worker("edge-1", "parsing", repo_url=REPO, status=f"Parsing {REPO}", job_id="j1"),
        worker("edge-2", "error", repo_url=REPO, message="NOT_FOUND: no such repository"),
        worker("edge-3", "idle", status="Idle"),
    ],
}


class RecordedGateway:
    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        return HEALTH

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        assert path == "/api/v1/ingestion/worker/status"
        return WORKERS

    base_url = "http://127.0.0.1:8000"


def test_status_shows_each_workers_state_and_what_it_is_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert status(cast(GatewayClient, RecordedGateway()), as_json=False) == output.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"workers  Parsing {REPO}"
    header, *rows = lines[2:]
    assert header.split()[:5] == ["worker", "state", "repository", "or", "error"]
    cells = [row.split(None, 2) for row in rows]
    assert [c[:2] for c in cells] == [
        ["edge-1", "parsing"],
        ["edge-2", "error"],
        ["edge-3", "idle"],
    ]
    assert cells[0][2].startswith(REPO) and cells[1][2].startswith("NOT_FOUND: no such repository")
    assert cells[2][2].startswith("-")

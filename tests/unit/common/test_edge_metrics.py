"""The edge processes' metrics: served over HTTP, upload retries counted, phases timed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from log_capture import captured_json_log
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from alexandria.stack import free_port
from services.common import logs, vectors
from services.common.metrics import serve_metrics
from services.ingest.metrics import timed_phase


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_metrics_server_serves_the_default_registry() -> None:
    port = free_port()
    serve_metrics("127.0.0.1", port)
    reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert reply.status_code == 200
    names = {family.name for family in text_string_to_metric_families(reply.text)}
    assert {"alexandria_upload_retries", "alexandria_job_phase_seconds"} <= names


def test_port_zero_serves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []
    monkeypatch.setattr(
        "services.common.metrics.start_http_server", lambda port, addr: started.append(port)
    )
    serve_metrics("127.0.0.1", 0)
    assert started == []


def test_a_retried_qdrant_write_is_counted() -> None:
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("qdrant down")

    before = sample("alexandria_upload_retries_total")
    asyncio.run(vectors._with_retries(flaky, base_delay=0))
    assert len(attempts) == 3
    assert sample("alexandria_upload_retries_total") == before + 2


def test_a_phase_is_timed_in_the_histogram_and_the_log() -> None:
    before = sample("alexandria_job_phase_seconds_count", phase="parse")
    with captured_json_log() as captured, logs.bound(job_id="job-9"), timed_phase("parse"):
        pass
    assert sample("alexandria_job_phase_seconds_count", phase="parse") == before + 1
    (entry,) = [e for e in captured.entries() if e.get("phase") == "parse"]
    assert entry["job_id"] == "job-9" and entry["seconds"] >= 0

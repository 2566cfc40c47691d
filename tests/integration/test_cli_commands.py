"""The people-facing CLI (`ingest --wait`, `jobs`, `status`, `similar`, `doctor`) as a
user runs it: separate processes against one running local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from git_repos import SAMPLE_PYTHON_REPO, make_git_repo

from alexandria import output
from alexandria.stack import LocalStack, free_port
from services.common.config import Settings

pytestmark = pytest.mark.slow


class Cli:
    """Runs `alexandria …` in a new process with the stack's environment."""

    def __init__(self, stack: LocalStack) -> None:
        self.env = {
            **os.environ,
            "ALEXANDRIA_DATA_DIR": str(stack.settings.data_dir),
            "GATEWAY_URL": stack.gateway_url,
            "PARSER_ADDR": f"127.0.0.1:{stack.parser_port}",
            "EMBEDDER_ADDR": f"127.0.0.1:{stack.embedder_port}",
        }

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alexandria.cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_git_repo(tmp_path_factory.mktemp("cli") / "sample", SAMPLE_PYTHON_REPO)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    settings = Settings(alexandria_data_dir=tmp_path_factory.mktemp("cli-data"))
    stack = LocalStack(
        settings, gateway_port=free_port(), parser_port=free_port(), embedder_port=free_port()
    )
    with stack:
        yield Cli(stack)


@pytest.fixture(scope="module")
def finished_job(cli: Cli, repo: Path) -> dict[str, Any]:
    """One repository ingested with `ingest --wait --json`."""
    job: dict[str, Any] = cli.json("ingest", str(repo), "--wait")["job"]
    return job


def test_ingest_wait_shows_progress_then_the_result(cli: Cli, repo: Path) -> None:
    done = cli("ingest", str(repo), "--wait")
    assert done.returncode == output.OK, done.stderr
    assert "queued file://" in done.stdout
    assert "complete: 9 files, 9 embeddings" in done.stdout
    # Not a terminal: one progress line per change, on stderr, ending at 100%.
    lines = done.stderr.splitlines()
    assert lines[-1] == "complete done 100%", lines  # the first may already be "running"
    assert len(lines) == len(set(lines))


def test_ingest_without_wait_prints_the_queued_job(cli: Cli, repo: Path) -> None:
    queued = cli.json("ingest", str(repo), "--idempotency-key", "cli-test-1")
    again = cli.json("ingest", str(repo), "--idempotency-key", "cli-test-1")
    assert queued["job_id"] == again["job_id"]
    assert queued["repo_url"].startswith("file://")


def test_jobs_lists_and_shows_one_job(cli: Cli, finished_job: dict[str, Any]) -> None:
    history = cli.json("jobs", "--limit", "5")["jobs"]
    assert finished_job["job_id"] in [j["job_id"] for j in history]
    one = cli.json("jobs", finished_job["job_id"])["job"]
    assert one["status"] == "complete" and one["files_processed"] == 9
    table = cli("jobs")
    assert table.returncode == 0
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["job", "repository", "status", "phase"]
    assert any(finished_job["job_id"] in row and "complete" in row for row in rows)
    assert cli("jobs", "0" * 32).returncode == output.FAILED  # 404


def test_status_reports_health_and_the_worker(cli: Cli) -> None:
    body = cli.json("status")
    assert body["health"]["status"] == "ok"
    assert body["workers"]["status"] == "Idle"
    assert len(body["workers"]["workers"]) == 1
    text = cli("status").stdout
    assert "ok (database ok, qdrant ok, redis ok)" in text and "Idle" in text


def test_similar_prints_nearest_files(cli: Cli, repo: Path, finished_job: dict[str, Any]) -> None:
    body = cli.json("similar", str(repo), "app/models.py", "-k", "3")
    assert [r["file_path"] for r in body["results"]] != []
    assert len(body["results"]) == 3
    assert "app/models.py" not in [r["file_path"] for r in body["results"]]
    table = cli("similar", str(repo), "app/models.py", "-k", "2").stdout.splitlines()
    assert table[1].split() == ["score", "file", "language"] and len(table) == 4
    missing = cli("similar", str(repo), "no/such/file.py")
    assert missing.returncode == output.FAILED and "404" in missing.stderr


def test_doctor_sees_every_service_of_the_running_stack(cli: Cli) -> None:
    body = cli.json("doctor")
    assert body["ok"] is True and body["mode"] == "LOCAL"
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    for name in ("parser service", "embedder service", "gateway", "queue", "metadata DB"):
        assert statuses[name] == "ok", body


def test_exit_codes_follow_conventions(cli: Cli, repo: Path) -> None:
    wrong_token = cli("ingest", str(repo), PHAROS_ADMIN_TOKEN="not-the-token")
    assert wrong_token.returncode == output.NOPERM, wrong_token.stderr
    assert "401" in wrong_token.stderr and "not-the-token" not in wrong_token.stderr
    hostile = cli("ingest", "https://github.com/u/r;rm -rf /")
    assert hostile.returncode == output.FAILED and "400" in hostile.stderr
    nobody = cli("status", "--gateway", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == output.UNAVAILABLE and "cannot reach" in nobody.stderr
    bad_config = cli("jobs", MAX_QUEUE_SIZE="zero")
    assert bad_config.returncode == output.USAGE and "MAX_QUEUE_SIZE" in bad_config.stderr
    usage = cli("similar", str(repo))
    assert usage.returncode == output.USAGE

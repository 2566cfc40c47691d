"""The people-facing CLI (`ingest --wait`, `jobs`, `status`, `similar`, `search`, `doctor`)
as a user runs it: separate processes against one running local stack; then `similar` and
`search` against a real gateway whose store holds a hand-made repository with known answers."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from git_repos import SAMPLE_PYTHON_REPO, make_git_repo
from queue_helpers import flush
from related_helpers import (
    ALWAYS_TOGETHER,
    COMMIT,
    HISTORY,
    ONCE_TOGETHER,
    QUERY,
    RARE_WORDS,
    REPO,
    known_files,
)
from serving import serve_asgi

from alexandria import output
from alexandria.cli import main
from alexandria.stack import LocalStack, free_port
from gateway.app import create_app
from services.common import vectors
from services.common.config import Settings

pytestmark = pytest.mark.slow


class Cli:
    """Runs `alexandria …` in a new process with the stack's environment."""

    def __init__(self, stack: LocalStack) -> None:
        self.env = {
            **os.environ,
            "ALEXANDRIA_DATA_DIR": str(stack.settings.data_dir),
            "ALEXANDRIA_GATEWAY_URL": stack.gateway_url,
            "ALEXANDRIA_PARSER_ADDR": f"127.0.0.1:{stack.parser_port}",
            "ALEXANDRIA_EMBEDDER_ADDR": f"127.0.0.1:{stack.embedder_port}",
        }

    def __call__(
        self, *args: str, cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alexandria.cli", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd,
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
    assert re.search(
        r"s \(parse [0-9.]+s, train [0-9.]+s, candidates [0-9.]+s, upload", done.stdout
    )
    assert done.stdout.rstrip().endswith("; history: no history: the repository has one commit")
    # Not a terminal: one progress line per change, on stderr, ending at 100%.
    lines = done.stderr.splitlines()
    assert lines[-1] == "complete done 100%", lines  # the first may already be "running"
    assert len(lines) == len(set(lines))

    again = cli("ingest", str(repo), "--wait")
    assert again.returncode == output.OK, again.stderr
    assert "unchanged: file://" in again.stdout
    assert "is already indexed at" in again.stdout and "--force redoes it" in again.stdout
    assert again.stderr.splitlines()[-1] == "complete unchanged 100%"
    forced = cli("ingest", str(repo), "--wait", "--force")
    assert forced.returncode == output.OK, forced.stderr
    assert "complete: 9 files, 9 embeddings" in forced.stdout


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
    assert "parse" in one["phase_seconds"]
    shown = cli("jobs", finished_job["job_id"]).stdout.splitlines()
    assert any(re.match(r"phase_seconds\s+parse [0-9.]+s", line) for line in shown), shown
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


REASONS = {
    "structure",
    "text",
    "shared_identifiers",
    "commits_together",
    "last_changed_together",
    "import_relation",
    "same_directory",
}


def test_similar_prints_related_files(cli: Cli, repo: Path, finished_job: dict[str, Any]) -> None:
    body = cli.json("similar", str(repo), "app/models.py", "-k", "3")
    assert body["mode"] == "hybrid"
    assert body["history"].startswith("no history")  # the fixture is one commit
    assert len(body["results"]) == 3
    assert "app/models.py" not in [r["file_path"] for r in body["results"]]
    assert all(set(r["reasons"]) >= REASONS for r in body["results"])
    table = cli("similar", str(repo), "app/models.py", "-k", "2").stdout.splitlines()
    assert table[0].startswith("related to app/models.py in file://") and "(hybrid)" in table[0]
    assert table[1].split() == ["score", "file", "language"] and len(table) == 5
    assert all(len(row.split()[0].partition(".")[2]) == 3 for row in table[2:4])  # 0.812
    assert table[4] == body["history"]  # printed once
    # The forms a user types name the same file: from the repository, an absolute path
    # inside it, a Windows separator.
    for where, typed in (
        (repo, "./app/models.py"),
        (repo / "app", "models.py"),
        (None, str(repo / "app" / "models.py")),
        (None, "app\\models.py"),
    ):
        target = "." if where == repo else ".." if where is not None else str(repo)
        done = cli("similar", target, typed, "-k", "3", "--json", cwd=where)
        assert done.returncode == 0, (typed, done.stderr)
        assert json.loads(done.stdout)["results"] == body["results"], typed
    missing = cli("similar", str(repo), "no/such/file.py")
    assert missing.returncode == output.FAILED and "404" in missing.stderr


def test_similar_why_says_why_in_each_mode(
    cli: Cli, repo: Path, finished_job: dict[str, Any]
) -> None:
    # app/main.py imports models, views and billing: hybrid ranks them with their reasons.
    done = cli("similar", str(repo), "app/main.py", "--why", "-k", "8")
    assert done.returncode == output.OK, done.stderr
    header, *rows = done.stdout.splitlines()[1:-1]
    assert header.split() == ["score", "file", "language", "why"]
    assert all(" structure " in row for row in rows)
    by_file = {row.split()[1]: row for row in rows}
    assert "imported by main.py" in by_file["app/models.py"]
    assert "same dir" in by_file["app/models.py"]
    for mode in ("structure", "text", "history"):
        body = cli.json("similar", str(repo), "app/main.py", "--mode", mode)
        assert body["mode"] == mode
        results = body["results"]
        assert "app/main.py" not in [r["file_path"] for r in results]
        if mode == "history":
            assert results == []  # one commit: no file was ever changed with another
        if mode == "text":
            assert all(r["reasons"]["text"] > 0 for r in results)
    usage = cli("similar", str(repo), "app/main.py", "--mode", "fuzzy")
    assert usage.returncode == output.USAGE and "--mode" in usage.stderr


def test_search_lists_files_by_their_identifiers(
    cli: Cli, repo: Path, finished_job: dict[str, Any]
) -> None:
    body = cli.json("search", str(repo), "Invoice session")
    assert body["q"] == "Invoice session"
    assert body["results"][0]["file_path"] == "app/services/billing.py"
    assert "invoice" in body["results"][0]["reasons"]["shared_identifiers"]
    done = cli("search", str(repo), "invoice", "-k", "2")
    assert done.returncode == output.OK, done.stderr
    title, header, first, *_ = done.stdout.splitlines()
    assert title.startswith("files matching 'invoice' in file://")
    assert header.split() == ["score", "file", "language", "matches"]
    assert first.split()[1:] == ["app/services/billing.py", "python", "invoice"]
    nothing = cli("search", str(repo), "-")
    assert nothing.returncode == output.FAILED and "422" in nothing.stderr


def test_doctor_sees_every_service_of_the_running_stack(cli: Cli) -> None:
    body = cli.json("doctor")
    assert body["ok"] is True and body["mode"] == "LOCAL"
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    for name in ("parser service", "embedder service", "gateway", "queue", "metadata DB"):
        assert statuses[name] == "ok", body


def test_exit_codes_follow_conventions(cli: Cli, repo: Path) -> None:
    wrong_token = cli("ingest", str(repo), ALEXANDRIA_ADMIN_TOKEN="not-the-token")
    assert wrong_token.returncode == output.NOPERM, wrong_token.stderr
    assert "401" in wrong_token.stderr and "not-the-token" not in wrong_token.stderr
    assert "(sent ALEXANDRIA_ADMIN_TOKEN)" in wrong_token.stderr
    hostile = cli("ingest", "https://github.com/u/r;rm -rf /")
    assert hostile.returncode == output.FAILED and "400" in hostile.stderr
    nobody = cli("status", "--gateway", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == output.UNAVAILABLE and "cannot reach" in nobody.stderr
    bad_config = cli("jobs", ALEXANDRIA_MAX_QUEUE_SIZE="zero")
    assert (
        bad_config.returncode == output.USAGE and "ALEXANDRIA_MAX_QUEUE_SIZE" in bad_config.stderr
    )
    usage = cli("similar", str(repo))
    assert usage.returncode == output.USAGE


def test_a_token_from_another_data_dir_is_named(cli: Cli, repo: Path, tmp_path: Path) -> None:
    """The CLI pointed at the stack's URL but at another data dir makes a token there:
    the 401 names the file it read, and the way out."""
    other = tmp_path / "elsewhere"
    refused = cli("ingest", str(repo), ALEXANDRIA_DATA_DIR=str(other))
    assert refused.returncode == output.NOPERM, refused.stderr
    assert f"sent the token in {other / 'admin_token'}" in refused.stderr
    assert "set ALEXANDRIA_DATA_DIR" in refused.stderr


# --- `similar` and `search` against a real gateway with known answers (no ingest) -------

SNAPSHOT = "https://github.com/known/snapshot"  # the same files, without history
NO_HISTORY = "no history: a one-commit snapshot"


async def seed_known_answers(settings: Settings) -> None:
    store = vectors.open_vector_store(settings)
    try:
        await vectors.ensure_collection(store)
        await vectors.upsert_file_vectors(
            store, repo_url=REPO, commit=COMMIT, job_id="j1", files=known_files(), history=HISTORY
        )
        await vectors.upsert_file_vectors(
            store,
            repo_url=SNAPSHOT,
            commit=COMMIT,
            job_id="j2",
            files=[dataclasses.replace(f, cochange=()) for f in known_files()],
            history=NO_HISTORY,
        )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def known_gateway(
    tmp_path_factory: pytest.TempPathFactory, embedded_redis_url: str
) -> Iterator[str]:
    settings = Settings(
        alexandria_data_dir=tmp_path_factory.mktemp("known-gateway"),
        redis_url=flush(embedded_redis_url),
    )
    asyncio.run(seed_known_answers(settings))
    with serve_asgi(create_app(settings)) as url:
        yield url


@pytest.fixture
def run_cli(
    known_gateway: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """`alexandria ARGS --gateway URL` in this process: (exit code, stdout lines)."""
    monkeypatch.setenv("ALEXANDRIA_DATA_DIR", str(tmp_path / "cli-data"))
    for name in (
        "ALEXANDRIA_MODE",
        "ALEXANDRIA_GATEWAY_URL",
        "ALEXANDRIA_ADMIN_TOKEN",
        "ALEXANDRIA_READ_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, list[str]]:
        code = main([*args, "--gateway", known_gateway])
        return code, capsys.readouterr().out.splitlines()

    return run


def rows_by_file(lines: list[str]) -> dict[str, str]:
    return {line.split()[1]: line for line in lines[2:] if len(line.split()) > 2}


def test_history_mode_why_names_commits_together_and_the_import(run_cli: Any) -> None:
    code, lines = run_cli("similar", REPO, QUERY, "--mode", "history", "--why")
    assert code == output.OK
    assert lines[0] == f"related to {QUERY} in {REPO} (history):"
    assert lines[1].split() == ["score", "file", "language", "why"]
    assert [line.split()[1] for line in lines[2:]] == [ALWAYS_TOGETHER, ONCE_TOGETHER]
    rows = rows_by_file(lines)
    assert (
        "  8 commits together (last 2025-11-24) · shares: self · structure 0.000"
        in (rows[ALWAYS_TOGETHER])
    )
    assert (
        "imported by session.py · 1 commit together (last 2025-11-23) · shares: session, self"
        " · same dir · structure 0.287 · text "
    ) in rows[ONCE_TOGETHER]
    assert NO_HISTORY not in lines  # the history was read


def test_text_mode_why_names_the_shared_rare_identifiers(run_cli: Any) -> None:
    code, lines = run_cli("similar", REPO, QUERY, "--mode", "text", "--why", "-k", "3")
    assert code == output.OK and len(lines) == 5
    first = lines[2]
    assert first.split()[1] == RARE_WORDS
    assert "shares: frobnicate, widget, self" in first and " · text 0." in first


def test_hybrid_is_the_default_and_prints_every_score_alike(run_cli: Any) -> None:
    code, lines = run_cli("similar", REPO, QUERY, "-k", "7")
    assert code == output.OK
    assert lines[0].endswith("(hybrid):") and lines[1].split() == ["score", "file", "language"]
    scores = [line.split()[0] for line in lines[2:]]
    assert len(scores) == 7 and all(len(s.partition(".")[2]) == 3 for s in scores)
    assert QUERY not in rows_by_file(lines)
    code, lines = run_cli("similar", REPO, QUERY, "-k", "7", "--json")
    body = json.loads("\n".join(lines))
    assert (body["mode"], body["history"], len(body["results"])) == ("hybrid", HISTORY, 7)
    assert [f"{r['score']:.3f}" for r in body["results"]] == scores


def test_a_repository_without_history_says_so_once(run_cli: Any) -> None:
    code, lines = run_cli("similar", SNAPSHOT, QUERY, "--why")
    assert code == output.OK
    assert lines.count(NO_HISTORY) == 1 and lines[-1] == NO_HISTORY
    assert not any("commits together" in line for line in lines)
    code, lines = run_cli("similar", SNAPSHOT, QUERY, "--mode", "history")
    assert lines[2:] == [NO_HISTORY]  # no partners, and the reason why


def test_search_lists_files_with_the_words_they_matched(run_cli: Any) -> None:
    code, lines = run_cli("search", REPO, "Frobnicate widgets", "-k", "3")
    assert code == output.OK
    assert lines[0] == f"files matching 'Frobnicate widgets' in {REPO}:"
    assert lines[1].split() == ["score", "file", "language", "matches"]
    rows = rows_by_file(lines)
    assert {QUERY, RARE_WORDS} <= set(rows)
    assert all("frobnicate" in row for path, row in rows.items() if path in (QUERY, RARE_WORDS))
    code, lines = run_cli("search", REPO, "frobnicate", "--json")
    body = json.loads("\n".join(lines))
    assert body["q"] == "frobnicate" and body["results"][0]["reasons"]["shared_identifiers"]
    assert run_cli("search", REPO, "-")[0] == output.FAILED  # no word: the gateway's 422


def test_the_cli_finds_the_stack_of_its_data_dir_and_a_second_one_is_refused(cli: Cli) -> None:
    """Without ALEXANDRIA_GATEWAY_URL the CLI reads where the stack is from the data dir (the stack
    runs on a free port, not 8000); a second `up` on that data dir exits 2 with one line."""
    env = {key: value for key, value in cli.env.items() if key != "ALEXANDRIA_GATEWAY_URL"}
    run = [sys.executable, "-m", "alexandria.cli"]
    jobs = subprocess.run([*run, "jobs", "--json"], env=env, capture_output=True, text=True)
    assert jobs.returncode == 0, jobs.stderr
    assert "jobs" in json.loads(jobs.stdout)
    second = subprocess.run(
        [*run, "up", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    data_dir, url = env["ALEXANDRIA_DATA_DIR"], cli.env["ALEXANDRIA_GATEWAY_URL"]
    assert second.returncode == output.USAGE
    assert second.stderr.splitlines() == [
        f"alexandria: the data dir {data_dir} is in use by pid {os.getpid()}, at {url}"
    ]


def test_what_the_stack_writes_is_this_users_alone(cli: Cli, finished_job: dict[str, Any]) -> None:
    """After a job: the data dir is 0700, and no file or directory under it (databases,
    Redis's file, logs, the token, the parse cache) is open to group or others."""
    data_dir = Path(cli.env["ALEXANDRIA_DATA_DIR"])
    assert data_dir.stat().st_mode & 0o777 == 0o700
    found = [p for p in data_dir.rglob("*") if not p.is_symlink()]
    names = {p.name for p in found}
    assert {"admin_token", "logs", "gateway.log", "stack.json"} <= names, names
    open_to_others = [
        (str(p), oct(p.stat().st_mode & 0o777)) for p in found if p.stat().st_mode & 0o077
    ]
    assert open_to_others == []

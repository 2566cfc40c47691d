"""`alexandria ingest|jobs|status|similar|search`: the gateway's REST API for people
(tables, a live progress bar, reasons in a few words) and for scripts (`--json`)."""

from __future__ import annotations

import argparse
import os
import posixpath
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from alexandria import output
from alexandria.gateway_errors import GatewayError
from alexandria.head_changes import say_changes_not_indexed
from services.common.config import load_settings

if TYPE_CHECKING:
    from alexandria.gateway_client import GatewayClient

POLL_SECONDS = 0.5
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
T = TypeVar("T")
FINISHED = ("complete", "failed", "skipped", "dead")
MODES = ("hybrid", "structure", "text", "history")
IDENTIFIERS_SHOWN = 3  # shared identifiers a `--why` reason names


def repo_argument(repo: str) -> str:
    """A local path becomes file:///abs/path (LOCAL mode only); anything else is a URL."""
    path = Path(repo)
    if "://" not in repo and path.exists():
        return f"file://{path.resolve()}"
    return repo


def file_argument(repo: str, file_path: str) -> str:
    """The repository path of a file as a user types it: `src\\x.py`, `./src/x.py`, or,
    for a local repository, a path from the current directory or an absolute one inside
    the repository, all become `src/x.py`."""
    typed = file_path.replace("\\", "/")
    local = Path(repo)
    if "://" not in repo and local.is_dir():
        root = local.resolve()
        absolute = os.path.abspath(typed)  # its directory resolved, not the file (a link)
        on_disk = Path(os.path.realpath(os.path.dirname(absolute))) / os.path.basename(absolute)
        if (typed.startswith("/") or on_disk.exists()) and on_disk.is_relative_to(root):
            return on_disk.relative_to(root).as_posix()
    normal = posixpath.normpath(typed)
    return "" if normal == "." else normal


def ingest(
    client: GatewayClient,
    repo: str,
    *,
    wait: bool,
    as_json: bool,
    timeout: float,
    idempotency_key: str | None = None,
    force: bool = False,
) -> int:
    """Queue a repository; with `wait`, follow the job to its end, riding out a gateway
    that is briefly unreachable (the submission is retried under one idempotency key, so
    it queues once)."""
    url = repo_argument(repo)
    if not as_json:
        say_changes_not_indexed(repo)
    if wait:
        key = idempotency_key or uuid.uuid4().hex
        queued = retrying(
            lambda: client.ingest(url, idempotency_key=key, force=force),
            deadline=time.monotonic() + timeout,
            what="submitting the job",
        )
    else:
        queued = client.ingest(url, idempotency_key=idempotency_key, force=force)
    if not wait:
        if as_json:
            output.print_json(queued)
        else:
            print(
                f"queued {queued['repo_url']} as job {queued['job_id']} "
                f"(position {queued['queue_position']} of {queued['queue_size']})"
            )
        return output.OK
    if not as_json:
        print(f"queued {queued['repo_url']} as job {queued['job_id']}", flush=True)
    return follow(client, queued["job_id"], timeout=timeout, as_json=as_json)


def follow(client: GatewayClient, job_id: str, *, timeout: float, as_json: bool) -> int:
    """Follow a job to its end (`wait_for_job`) and print how it ended; exit code OK
    when it completed, FAILED otherwise."""
    job = wait_for_job(client, job_id, timeout=timeout, show=not as_json)
    if as_json:
        output.print_json({"job": job})
    elif job.get("unchanged"):
        print(
            f"unchanged: {job['repo_url']} is already indexed at {job['commit'][:12]} "
            f"({job['files_processed']} files; --force redoes it), "
            f"{float(job['duration_seconds']):.1f}s"
        )
    elif job["status"] == "complete":
        phases = phase_text(job.get("phase_seconds"))
        print(
            f"complete: {job['files_processed']} files, {job['embeddings_generated']} "
            f"embeddings, final loss {float(job['final_loss']):.4f}, "
            f"{float(job['duration_seconds']):.1f}s"
            + (f" ({phases})" if phases else "")
            + (f"; history: {job['history']}" if job.get("history") else "")
        )
    else:
        print(f"{job['status']}: {job.get('error') or 'no error recorded'}", file=sys.stderr)
    return output.OK if job["status"] == "complete" else output.FAILED


def phase_text(phase_seconds: Mapping[str, float] | None) -> str:
    """`parse 0.61s, train 0.52s, ...` in the job's order of phases."""
    order = {name: i for i, name in enumerate(("parse", "train", "candidates", "upload"))}
    found = sorted((phase_seconds or {}).items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))
    return ", ".join(f"{name} {float(seconds):.2f}s" for name, seconds in found)


def retrying(call: Callable[[], T], *, deadline: float, what: str) -> T:
    """`call()`, asked again while the gateway is unreachable, answers 502-504 (after
    0.5 s, doubling to 5 s) or rate-limits this client (after its Retry-After), until
    `deadline` (then TimeoutError); said once on stderr."""
    failures = 0
    while True:
        try:
            return call()
        except GatewayError as exc:
            if not exc.transient:
                raise
            failures += 1
            delay = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** (failures - 1))
            delay = max(delay, exc.retry_after or 0.0)
            if time.monotonic() + delay > deadline:
                raise TimeoutError(f"{what}: the gateway still fails: {exc}") from None
            if failures == 1:
                print(f"{what}: {exc}; retrying", file=sys.stderr, flush=True)
            time.sleep(delay)


def wait_for_job(
    client: GatewayClient, job_id: str, *, timeout: float, show: bool
) -> dict[str, Any]:
    """Poll the job until it finishes, drawing its progress, riding out a gateway that
    is briefly unreachable or restarting (`retrying`); TimeoutError past `timeout`."""
    progress = output.ProgressLine(sys.stderr if not sys.stdout.isatty() else sys.stdout)
    deadline = time.monotonic() + timeout
    path = f"/api/v1/ingestion/jobs/{job_id}"
    try:
        while True:
            job: dict[str, Any] = retrying(
                lambda: client.get(path), deadline=deadline, what=f"job {job_id}"
            )["job"]
            if show:
                progress.update(job)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout:.0f}s")
            time.sleep(POLL_SECONDS)
    finally:
        if show:
            progress.close()


def jobs(
    client: GatewayClient,
    job_id: str | None,
    *,
    limit: int,
    as_json: bool,
    wait: bool = False,
    timeout: float = 3600.0,
) -> int:
    """One job's record (with `wait`, followed to its end), or the newest jobs."""
    if job_id and wait:
        return follow(client, job_id, timeout=timeout, as_json=as_json)
    if job_id:
        body = client.get(f"/api/v1/ingestion/jobs/{job_id}")
        if as_json:
            output.print_json(body)
        else:
            job = dict(body["job"])
            job["phase_seconds"] = phase_text(job.get("phase_seconds"))
            output.print_table(list(job.items()), ["field", "value"])
        return output.OK
    body = client.get("/api/v1/ingestion/jobs/history", limit=limit)
    if as_json:
        output.print_json(body)
        return output.OK
    rows = [
        (
            j["job_id"],
            j["repo_url"],
            f"{j['status']} (stalled)" if j.get("stalled") else j["status"],
            j["phase"],
            f"{float(j['progress_percent']):.0f}%",
            _when(j.get("submitted_at")),
            float(j["duration_seconds"]),
            int(j["files_processed"]),
        )
        for j in body["jobs"]
    ]
    output.print_table(
        rows, ["job", "repository", "status", "phase", "progress", "submitted", "secs", "files"]
    )
    return output.OK


def status(client: GatewayClient, *, as_json: bool) -> int:
    """The gateway's health and every worker's status; 69 when the gateway is degraded."""
    health = client.request("GET", "/health", allow_statuses=(503,))
    workers = client.get("/api/v1/ingestion/worker/status")
    healthy = health.get("status") == "ok"
    if as_json:
        output.print_json({"health": health, "workers": workers})
    else:
        checks = ", ".join(f"{k} {v}" for k, v in sorted(health.get("checks", {}).items()))
        print(f"gateway  {client.base_url}: {health.get('status')} ({checks})")
        print(f"workers  {workers['status']}")
        if workers["workers"]:
            rows = [
                (
                    w["worker_id"],
                    w.get("state") or w["status"],  # a gateway older than the state: its text
                    (w.get("message") if w.get("state") == "error" else w.get("repo_url")) or "-",
                    float(w["heartbeat_age_seconds"]),
                    w["job_id"] or "-",
                    w["device"] or "-",
                )
                for w in workers["workers"]
            ]
            output.print_table(
                rows, ["worker", "state", "repository or error", "heartbeat age s", "job", "device"]
            )
    return output.OK if healthy else output.UNAVAILABLE


def similar(
    client: GatewayClient,
    repo: str,
    file_path: str,
    *,
    limit: int,
    all_repos: bool,
    as_json: bool,
    mode: str = "hybrid",
    why: bool = False,
) -> int:
    """The files most related to one file, best first; `why` adds each one's reasons."""
    body = client.get(
        "/api/v1/graph/similar",
        repo_url=repo_argument(repo),
        file_path=file_argument(repo, file_path),
        limit=limit,
        same_repo=str(not all_repos).lower(),
        mode=mode,
    )
    if as_json:
        output.print_json(body)
        return output.OK
    print(f"related to {body['file_path']} in {body['repo_url']} ({body.get('mode', mode)}):")
    rows = [
        (
            output.Score(r["score"]),
            r["file_path"],
            r["language"],
            *([r["repo_url"]] if all_repos else []),
            *([why_text(r.get("reasons"), body["file_path"])] if why else []),
        )
        for r in body["results"]
    ]
    output.print_table(
        rows,
        [
            "score",
            "file",
            "language",
            *(["repository"] if all_repos else []),
            *(["why"] if why else []),
        ],
    )
    history = str(body.get("history") or "")
    if history.startswith("no history"):
        print(history)
    return output.OK


def search(client: GatewayClient, repo: str, words: str, *, limit: int, as_json: bool) -> int:
    """The files whose identifiers best match free text, with the words each one matched."""
    body = client.get("/api/v1/graph/search", repo_url=repo_argument(repo), q=words, limit=limit)
    if as_json:
        output.print_json(body)
        return output.OK
    print(f"files matching {body['q']!r} in {body['repo_url']}:")
    rows = [
        (
            output.Score(r["score"]),
            r["file_path"],
            r["language"],
            ", ".join((r.get("reasons") or {}).get("shared_identifiers") or []) or "-",
        )
        for r in body["results"]
    ]
    output.print_table(rows, ["score", "file", "language", "matches"])
    return output.OK


def why_text(reasons: Mapping[str, Any] | None, queried: str) -> str:
    """One result's reasons in a few words, strongest evidence first, e.g. "imports
    sessions.py · 7 commits together (last 2026-10-02) · shares: session, redirect ·
    same dir · structure 0.812"."""
    if not reasons:
        return "-"
    name = queried.rpartition("/")[2] or queried
    parts = []
    relation = {
        "imports": f"imported by {name}",
        "imported_by": f"imports {name}",
        "both": f"imports and is imported by {name}",
    }.get(str(reasons.get("import_relation") or "none"))
    if relation:
        parts.append(relation)
    commits = int(reasons.get("commits_together") or 0)
    if commits:
        last = output.utc_day(reasons.get("last_changed_together"))
        together = f"{commits} commit{'' if commits == 1 else 's'} together"
        parts.append(f"{together} (last {last})" if last else together)
    shared = list(reasons.get("shared_identifiers") or [])[:IDENTIFIERS_SHOWN]
    if shared:
        parts.append("shares: " + ", ".join(shared))
    if reasons.get("same_name"):
        parts.append("same name")
    if reasons.get("same_directory"):
        parts.append("same dir")
    parts.append(f"structure {output.score_text(float(reasons.get('structure') or 0.0))}")
    text = float(reasons.get("text") or 0.0)
    if text > 0:
        parts.append(f"text {output.score_text(text)}")
    return " · ".join(parts)


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")


def _client(args: argparse.Namespace) -> GatewayClient:
    from alexandria.gateway_client import GatewayClient  # httpx: only for these commands

    return GatewayClient(load_settings(), args.gateway)


def _ingest(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return ingest(
            client,
            args.repo,
            wait=args.wait,
            as_json=args.json,
            timeout=args.timeout,
            idempotency_key=args.idempotency_key,
            force=args.force,
        )


def _jobs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return jobs(
            client,
            args.job_id,
            limit=args.limit,
            as_json=args.json,
            wait=args.wait,
            timeout=args.timeout,
        )


def _status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return status(client, as_json=args.json)


def _similar(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return similar(
            client,
            args.repo,
            args.file,
            limit=args.k,
            all_repos=args.all_repos,
            as_json=args.json,
            mode=args.mode,
            why=args.why,
        )


def _search(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return search(client, args.repo, args.words, limit=args.k, as_json=args.json)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `ingest`, `jobs`, `status`, `similar` and `search` to the CLI."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--gateway", default=None, help="gateway URL (default: ALEXANDRIA_GATEWAY_URL)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    ingest_cmd = sub.add_parser("ingest", parents=[common], help="queue a repository")
    ingest_cmd.add_argument("repo", help="repository URL (or a local path in LOCAL mode)")
    ingest_cmd.add_argument("--wait", action="store_true", help="follow the job to its end")
    ingest_cmd.add_argument(
        "--timeout", type=float, default=3600.0, help="--wait gives up after this (s)"
    )
    ingest_cmd.add_argument(
        "--idempotency-key", default=None, help="a retried submission with the same key queues once"
    )
    ingest_cmd.add_argument(
        "--force",
        action="store_true",
        help="redo a commit already indexed with the same code and parameters "
        "(otherwise the job ends unchanged, writing nothing)",
    )
    ingest_cmd.set_defaults(func=_ingest)

    jobs_cmd = sub.add_parser("jobs", parents=[common], help="recent jobs, or one job")
    jobs_cmd.add_argument("job_id", nargs="?", default=None, help="show this job's record")
    jobs_cmd.add_argument("--limit", type=int, default=20, help="how many (at most 100)")
    jobs_cmd.add_argument(
        "--wait",
        action="store_true",
        help="with a job id: follow it to its end, riding out a restarting gateway",
    )
    jobs_cmd.add_argument(
        "--timeout", type=float, default=3600.0, help="--wait gives up after this (s)"
    )
    jobs_cmd.set_defaults(func=_jobs)

    status_cmd = sub.add_parser("status", parents=[common], help="gateway health and workers")
    status_cmd.set_defaults(func=_status)

    similar_cmd = sub.add_parser(
        "similar",
        parents=[common],
        help="files related to a file: changed with it, sharing identifiers, near in structure",
    )
    similar_cmd.add_argument("repo", help="repository URL (or local path in LOCAL mode)")
    similar_cmd.add_argument("file", help="repository-relative file path")
    similar_cmd.add_argument("-k", type=int, default=10, help="how many files (default 10)")
    similar_cmd.add_argument(
        "--mode",
        choices=MODES,
        default="hybrid",
        help="hybrid (default: every signal fused), structure (embedding cosine), "
        "text (shared identifiers) or history (past commits together)",
    )
    similar_cmd.add_argument(
        "--why", action="store_true", help="add each file's reasons in a few words"
    )
    similar_cmd.add_argument(
        "--all-repos", action="store_true", help="search every ingested repository"
    )
    similar_cmd.set_defaults(func=_similar)

    search_cmd = sub.add_parser(
        "search", parents=[common], help="files whose identifiers match some words"
    )
    search_cmd.add_argument("repo", help="repository URL (or local path in LOCAL mode)")
    search_cmd.add_argument("words", help='free text, e.g. "session redirect" or parseHeader')
    search_cmd.add_argument("-k", type=int, default=10, help="how many files (default 10)")
    search_cmd.set_defaults(func=_search)

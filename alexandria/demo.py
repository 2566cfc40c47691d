"""`make demo`: start the local stack, ingest a repository through the REST API, show
progress, then print each of a few central files' 5 structurally nearest files."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import httpx

from alexandria.stack import LocalStack, free_port
from services.common.config import Settings
from services.parser.client import fetch_graph

POLL_SECONDS = 0.5
JOB_TIMEOUT_SECONDS = 3600.0
FILES_SHOWN = 3
NEIGHBOURS = 5


def _repo_argument(repo: str) -> str:
    """A local path becomes file:///abs/path; anything else is passed on as a URL."""
    path = Path(repo)
    if "://" not in repo and path.exists():
        return f"file://{path.resolve()}"
    return repo


def _show_progress(job: dict[str, Any], last: list[str]) -> None:
    line = f"  {job['status']:<8} {job.get('phase', ''):<7} {float(job['progress_percent']):5.1f}%"
    if sys.stdout.isatty():
        print(f"\r{line}", end="", flush=True)
    elif line != last[0]:
        print(line, flush=True)
    last[0] = line


def _wait_for_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    last = [""]
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/ingestion/jobs/{job_id}").raise_for_status().json()["job"]
        _show_progress(job, last)
        if job["status"] not in ("queued", "running"):
            if sys.stdout.isatty():
                print()
            return job
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"job {job_id} did not finish in {JOB_TIMEOUT_SECONDS:.0f}s")


def _central_files(parser_port: int, repo_url: str, count: int) -> list[str]:
    """The most-imported files of the repository, asked of the running parser service."""

    async def fetch() -> list[str]:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{parser_port}") as channel:
            graph = await fetch_graph(channel, repo_url, timeout=600.0)
        in_degree = [0] * len(graph.nodes)
        for _, target, _ in graph.edges:
            in_degree[target] += 1
        order = sorted(range(len(graph.nodes)), key=lambda i: (-in_degree[i], graph.nodes[i].path))
        return [graph.nodes[i].path for i in order[:count]]

    return asyncio.run(fetch())


def run_demo(settings: Settings, *, repo: str, gateway_port: int = 0) -> int:
    """Run the demo; returns the process exit code."""
    stack = LocalStack(
        settings,
        gateway_port=gateway_port or free_port(),
        parser_port=free_port(),
        embedder_port=free_port(),
    )
    print(f"Starting the local stack (data in {settings.data_dir}) ...", flush=True)
    started = time.monotonic()
    with stack:
        print(f"Stack healthy in {time.monotonic() - started:.1f}s at {stack.gateway_url}")
        headers = {"Authorization": f"Bearer {settings.admin_token()}"}
        with httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=30.0) as client:
            target = _repo_argument(repo)
            reply = client.post(f"/api/v1/ingestion/ingest/{quote(target, safe='')}")
            if reply.status_code != 202:
                print(f"ingest refused ({reply.status_code}): {reply.text}", file=sys.stderr)
                return 1
            queued = reply.json()
            repo_url = queued["repo_url"]
            print(
                f"Queued {repo_url} as job {queued['job_id']} (position {queued['queue_position']})"
            )
            job = _wait_for_job(client, queued["job_id"])
            if job["status"] != "complete":
                print(f"job {job['status']}: {job.get('error', '')}", file=sys.stderr)
                print(f"logs: {stack.log_dir}", file=sys.stderr)
                return 1
            print(
                f"Ingested {job['files_processed']} files at {job['commit'][:12]}: "
                f"{job['embeddings_generated']} embeddings, final loss "
                f"{float(job['final_loss']):.4f}, {float(job['duration_seconds']):.1f}s"
            )
            for path in _central_files(stack.parser_port or 0, repo_url, FILES_SHOWN):
                similar = (
                    client.get(
                        "/api/v1/graph/similar",
                        params={"repo_url": repo_url, "file_path": path, "limit": NEIGHBOURS},
                    )
                    .raise_for_status()
                    .json()
                )
                print(f"\nFiles structurally nearest to {path}:")
                for hit in similar["results"]:
                    print(f"  {hit['score']:+.3f}  {hit['file_path']}")
    print(f"\nDone in {time.monotonic() - started:.1f}s; the stack is stopped.")
    return 0

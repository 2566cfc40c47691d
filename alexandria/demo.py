"""`make demo`: start the local stack, ingest a repository through the REST API, show
progress, then print, for a few central files, the 5 files most related to each (the
default hybrid ranking) with why."""

from __future__ import annotations

import sys
import time
from collections import Counter

from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import repo_argument, wait_for_job, why_text
from alexandria.output import score_text
from alexandria.stack import LocalStack, free_port
from services.common.config import Settings

JOB_TIMEOUT_SECONDS = 3600.0
FILES_SHOWN = 3
NEIGHBOURS = 5


def _central_files(client: GatewayClient, repo_url: str, count: int) -> list[str]:
    """The repository's most-imported files, from the imports the gateway stored with its
    vectors (no second clone and parse)."""
    files = client.get("/api/v1/graph/files", repo_url=repo_url)["files"]
    in_degree = Counter(target for f in files for target in f["imports"])
    paths = sorted((f["file_path"] for f in files), key=lambda p: (-in_degree[p], p))
    return paths[:count]


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
    with stack, GatewayClient(settings, stack.gateway_url) as client:
        print(f"Stack healthy in {time.monotonic() - started:.1f}s at {stack.gateway_url}")
        queued = client.ingest(repo_argument(repo))
        repo_url = queued["repo_url"]
        print(f"Queued {repo_url} as job {queued['job_id']} (position {queued['queue_position']})")
        job = wait_for_job(client, queued["job_id"], timeout=JOB_TIMEOUT_SECONDS, show=True)
        if job["status"] != "complete":
            print(f"job {job['status']}: {job.get('error', '')}", file=sys.stderr)
            print(f"logs: {stack.log_dir}", file=sys.stderr)
            return 1
        if job.get("unchanged"):
            print(
                f"Already indexed: {job['files_processed']} files at {job['commit'][:12]}, "
                f"unchanged ({float(job['duration_seconds']):.1f}s)"
            )
        else:
            print(
                f"Ingested {job['files_processed']} files at {job['commit'][:12]}: "
                f"{job['embeddings_generated']} embeddings, final loss "
                f"{float(job['final_loss']):.4f}, {float(job['duration_seconds']):.1f}s"
            )
        for path in _central_files(client, repo_url, FILES_SHOWN):
            similar = client.get(
                "/api/v1/graph/similar", repo_url=repo_url, file_path=path, limit=NEIGHBOURS
            )
            print(f"\nFiles most related to {path} ({similar['history']}):")
            for hit in similar["results"]:
                why = why_text(hit.get("reasons"), path)
                print(f"  {score_text(hit['score'])}  {hit['file_path']}  ({why})")
    print(f"\nDone in {time.monotonic() - started:.1f}s; the stack is stopped.")
    return 0

"""`make demo`: start the local stack, ingest a repository through the REST API, show
progress, then print each of a few central files' 5 structurally nearest files."""

from __future__ import annotations

import asyncio
import sys
import time

import grpc

from alexandria.gateway_client import GatewayClient
from alexandria.gateway_commands import repo_argument, wait_for_job
from alexandria.stack import LocalStack, free_port
from services.common.config import Settings
from services.parser.client import fetch_graph

JOB_TIMEOUT_SECONDS = 3600.0
FILES_SHOWN = 3
NEIGHBOURS = 5


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
        print(
            f"Ingested {job['files_processed']} files at {job['commit'][:12]}: "
            f"{job['embeddings_generated']} embeddings, final loss "
            f"{float(job['final_loss']):.4f}, {float(job['duration_seconds']):.1f}s"
        )
        for path in _central_files(stack.parser_port or 0, repo_url, FILES_SHOWN):
            similar = client.get(
                "/api/v1/graph/similar", repo_url=repo_url, file_path=path, limit=NEIGHBOURS
            )
            print(f"\nFiles structurally nearest to {path}:")
            for hit in similar["results"]:
                print(f"  {hit['score']:+.3f}  {hit['file_path']}")
    print(f"\nDone in {time.monotonic() - started:.1f}s; the stack is stopped.")
    return 0

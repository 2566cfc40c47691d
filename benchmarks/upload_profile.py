"""A job's upload alone, on both Qdrant backends, against the cold job it belongs to.

    .venv/bin/python benchmarks/upload_profile.py --repo PATH [--runs 5] [--profile]
        [--rtt-ms 0] [--parallel N]

A cold ingest of PATH through `alexandria up` (`product_stack.Stack`: LOCAL mode, a
fresh data dir, a `git clone --shared` working copy) gives the anchor, the job's
seconds and its upload phase from its record, and the points: read back from the
stack's Qdrant, they are the files the job wrote (`FileVector`s, candidates included).

Then, `--runs` times, the two backends alternating, each on a fresh Qdrant, the upload
the job does (`pipeline.upload`: every point, then the removal of earlier jobs'
points) is timed alone, twice: into an empty collection (a cold job) and over the
same points again (a re-ingest):

- local: `LocalQdrant` in this process (LOCAL mode, as `alexandria up` runs it);
- rest: `RestQdrant` to the REST test double (tests/doubles/qdrant_rest.py,
  qdrant-client's engine behind Qdrant's HTTP API) in a process of its own, standing
  in for Qdrant Cloud; what the engine spends there says little about a Qdrant server.
  `--rtt-ms` adds that round-trip time to every request (a Qdrant Cloud cluster is
  tens of ms away; the double is on loopback), and `--parallel` sets how many batches
  are in flight at once (`vectors.PARALLEL_BATCHES`), to see what it buys.

Printed per backend: seconds (median, min-max over the runs), this process's CPU
seconds during the cold upload (over REST, the client's: building and encoding the
points; the double's own CPU is not counted) and the share of the cold job the upload
would be at the median (`upload / (job - job's upload + upload)`), next to the job's
own share. `--profile` adds a cProfile of one local cold upload.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_load import free_port, qdrant_server
from product_stack import Api, Stack

from services.common import vectors
from services.common.qdrant_api import Json, LocalQdrant, QdrantApi, RestQdrant
from services.ingest import pipeline

BACKENDS = ("local", "rest")
JOB_TIMEOUT_S = 1800.0
COMMIT = "0" * 40


def file_vector(point: Json) -> vectors.FileVector:
    """A point read back as the file the job wrote (each term with its stored weight)."""
    stored = vectors.stored_file(point)
    return vectors.FileVector(
        file_path=stored.file_path,
        language=stored.language,
        vector=list(stored.structure),
        imports=stored.imports,
        terms=[(t, stored.identifiers.get(vectors.token_index(t), 0.0)) for t in stored.terms],
        cochange=stored.cochange,
        candidates=stored.candidates,
    )


async def read_points(path: Path) -> list[Json]:
    store = LocalQdrant(str(path))
    points: list[Json] = []
    offset: str | int | None = None
    try:
        while True:
            page, offset = await store.scroll(vectors.COLLECTION, {"must": []}, 1000, offset)
            points += page
            if offset is None:
                return points
    finally:
        await store.close()


def cold_job(repo: Path, work: Path) -> tuple[dict[str, Any], str, str, list[vectors.FileVector]]:
    """The cold ingest's record, the repository's URL and history, and the files it wrote."""
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(repo), str(clone)], check=True)
    with Stack(work / "data") as stack:
        api = Api(stack)
        try:
            job = api.ingest(f"file://{clone}", JOB_TIMEOUT_S, poll_s=0.02)
        finally:
            api.close()
    if job["status"] != "complete":
        raise RuntimeError(f"job {job['job_id']} {job['status']}: {job.get('error')}")
    points = asyncio.run(read_points(work / "data" / "qdrant"))
    files = sorted((file_vector(p) for p in points), key=lambda f: f.file_path)
    payload = points[0]["payload"]
    return job, payload["repo_url"], payload["history"], files


Timing = tuple[float, float, float]
"""Seconds: the upload into an empty collection, then over the same points, and this
process's CPU for the first (over REST: the client's share)."""


async def timed_uploads(
    store: QdrantApi, repo_url: str, files: Sequence[vectors.FileVector], history: str
) -> Timing:
    seconds = []
    try:
        await vectors.ensure_collection(store)
        cpu = time.process_time()
        for job_id in ("cold", "again"):
            started = time.perf_counter()
            await pipeline.upload(
                store,
                repo_url=repo_url,
                commit=COMMIT,
                job_id=job_id,
                files=files,
                history=history,
                fingerprint="bench",
            )
            seconds.append(time.perf_counter() - started)
            if job_id == "cold":
                cpu = time.process_time() - cpu
    finally:
        await store.close()
    return seconds[0], seconds[1], cpu


class DelayedTransport(httpx.AsyncHTTPTransport):
    """TCP, each request answered `rtt` seconds later than it would be."""

    def __init__(self, rtt: float) -> None:
        super().__init__()
        self.rtt = rtt

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.rtt)
        return await super().handle_async_request(request)


def one_backend(
    backend: str,
    repo_url: str,
    files: Sequence[vectors.FileVector],
    history: str,
    *,
    rtt: float = 0.0,
) -> Timing:
    with tempfile.TemporaryDirectory(prefix="upload-profile-") as tmp:
        path = Path(tmp) / "qdrant"
        if backend == "local":
            return asyncio.run(timed_uploads(LocalQdrant(str(path)), repo_url, files, history))
        with qdrant_server(path, free_port()) as url:
            transport = DelayedTransport(rtt) if rtt else None
            store = RestQdrant(url, None, timeout=120.0, transport=transport)
            return asyncio.run(timed_uploads(store, repo_url, files, history))


def profile_local(repo_url: str, files: Sequence[vectors.FileVector], history: str) -> None:
    with tempfile.TemporaryDirectory(prefix="upload-profile-") as tmp:
        store = LocalQdrant(str(Path(tmp) / "qdrant"))

        async def cold() -> None:
            await vectors.ensure_collection(store)
            await pipeline.upload(
                store,
                repo_url=repo_url,
                commit=COMMIT,
                job_id="cold",
                files=files,
                history=history,
                fingerprint="bench",
            )
            await store.close()

        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, cold())
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, required=True, help="a local git repository")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--profile", action="store_true", help="cProfile one local upload")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="added to each REST request")
    parser.add_argument("--parallel", type=int, default=None, help="batches in flight at once")
    args = parser.parse_args(argv)
    if args.parallel is not None:
        vectors.PARALLEL_BATCHES = args.parallel
    with tempfile.TemporaryDirectory(prefix="upload-profile-") as work:
        job, repo_url, history, files = cold_job(args.repo.resolve(), Path(work))
    job_s, job_upload = float(job["duration_seconds"]), float(job["phase_seconds"]["upload"])
    print(
        f"cold job (anchor): {job_s:.2f} s, its upload {job_upload:.2f} s "
        f"({job_upload / job_s:.1%} of the job); {len(files)} points"
    )
    backends = [b for b in args.backends.split(",") if b]
    times: dict[str, list[Timing]] = {b: [] for b in backends}
    for run in range(args.runs):
        for backend in backends if run % 2 == 0 else backends[::-1]:
            rtt = args.rtt_ms / 1000
            times[backend].append(one_backend(backend, repo_url, files, history, rtt=rtt))
            cold, again, cpu = times[backend][-1]
            print(
                f"run {run + 1} {backend}: cold {cold:.3f} s (CPU here {cpu:.3f} s), "
                f"again {again:.3f} s",
                flush=True,
            )
    rest_of_job = job_s - job_upload
    for backend, timings in times.items():
        cold = [t[0] for t in timings]
        median = statistics.median(cold)
        print(
            f"{backend}: upload cold {spread(cold)}, CPU here {spread([t[2] for t in timings])}, "
            f"again {spread([t[1] for t in timings])}; "
            f"share of the cold job at the median {median / (rest_of_job + median):.1%}"
        )
    if args.profile:
        profile_local(repo_url, files, history)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The gateway under load (R12.4): p50/p99 latency of the ingest and `similar` routes
with 50 concurrent clients, the gateway's peak RSS and its time from start to healthy,
each printed next to its target (p99 <= 25 ms for ingest, RSS <= 150 MB, healthy in
under 10 s) with the ratio measured / target.

The gateway runs as a real process (`alexandria serve gateway`, uvicorn) against a
real Redis (a dedicated db, flushed first) and Postgres (a dedicated database, dropped
and created again first), with Qdrant in local mode seeded beforehand with `--files`
random unit vectors of one repository. The ingest cap (MAX_QUEUE_SIZE) is raised so
that every request queues a job. Per route, after a warm-up:
- closed loop: `--clients` workers each send their next request as soon as the last
  answer arrives, `--requests` in all; with C clients, mean latency = C / throughput
  (Little's law), so this measures capacity rather than latency at a given load;
- open loop: `--rate` requests/s in all for `--duration` s, each client on its own
  fixed schedule (staggered) whatever the answers; latency counts from the scheduled
  send time, so a late load generator shows up in it (its lag is printed too).
Every status is checked (202 for ingest, 200 for `similar`); any other is an error,
printed, and the run exits 1. On a small machine the load generator shares the CPU
with the gateway: the CPU ms each spends per request is printed per phase.

    .venv/bin/python benchmarks/gateway_load.py
    .venv/bin/python benchmarks/gateway_load.py --clients 50 --requests 3000 --rate 200
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import math
import os
import platform
import random
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import psycopg
import redis
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.config import Settings  # noqa: E402
from services.common.vectors import (  # noqa: E402
    DIMENSIONS,
    FileVector,
    ensure_collection,
    open_vector_store,
    upsert_file_vectors,
)

TARGET_INGEST_P99_MS = 25.0
TARGET_RSS_MB = 150.0
TARGET_START_S = 10.0
HEALTH_TIMEOUT_S = 60.0
REPO = "https://github.com/bench/repo"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/alexandria_gateway_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Settings that would point the gateway at other services than the ones set here.
FOREIGN_ENV = ("QDRANT_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expected: int
    path: Callable[[int], str]
    headers: dict[str, str]


@dataclass
class Recorder:
    """Latencies (s) of expected answers, and the others counted by status."""

    expected: int
    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, latency: float, status: int | str, body: str) -> None:
        if status == self.expected:
            self.latencies.append(latency)
            return
        self.errors[str(status)] += 1
        self.examples.setdefault(str(status), body[:200])


@dataclass(frozen=True)
class Phase:
    name: str
    recorder: Recorder
    wall: float
    gateway_cpu: float
    generator_cpu: float


# --- the services ------------------------------------------------------------------


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def recreate_database(url: str) -> None:
    """Drop the URL's database and create it empty (through the server's `postgres` db)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def unit_vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def file_path(index: int) -> str:
    return f"src/module_{index}.py"


async def seed_vectors(data_dir: Path, files: int) -> None:
    """Qdrant local under `data_dir`: `files` random unit vectors of REPO."""
    client = open_vector_store(Settings(alexandria_data_dir=data_dir))
    rng = random.Random(0)
    try:
        await ensure_collection(client)
        vectors = [FileVector(file_path(i), "python", unit_vector(rng)) for i in range(files)]
        await upsert_file_vectors(client, repo_url=REPO, commit="0" * 40, job_id="seed", files=vectors)
    finally:
        await client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gateway_env(args: argparse.Namespace, data_dir: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(
        REDIS_URL=args.redis_url,
        DATABASE_URL=args.database_url,
        PHAROS_ADMIN_TOKEN=token,
        MAX_QUEUE_SIZE="10000000",
        ALEXANDRIA_DATA_DIR=str(data_dir),
    )
    env.pop("PHAROS_READ_TOKEN", None)
    return env


@contextmanager
def running_gateway(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The gateway process until the block ends, then SIGTERM and wait."""
    command = [sys.executable, "-m", "alexandria.cli", "serve", "gateway", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], started: float, log: Path) -> float:
    """Seconds from `started` (just before Popen) to the first 200 from /health."""
    with httpx.Client(base_url=base, timeout=2.0) as client:
        while time.perf_counter() - started < HEALTH_TIMEOUT_S:
            if proc.poll() is not None:
                sys.exit(f"the gateway exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if client.get("/health").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    sys.exit(f"the gateway was not healthy after {HEALTH_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")


def proc_status_mb(pid: int, key: str) -> float:
    """A /proc/PID/status memory line (VmHWM: peak RSS, VmRSS: now) in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the load ----------------------------------------------------------------------


async def send(client: httpx.AsyncClient, route: Route, i: int, rec: Recorder, t0: float) -> None:
    """One request; its latency counts from `t0`."""
    try:
        response = await client.request(route.method, route.path(i), headers=route.headers)
        status: int | str = response.status_code
        body = response.text
    except httpx.HTTPError as exc:
        status, body = type(exc).__name__, str(exc)
    rec.add(time.perf_counter() - t0, status, body)


async def closed_loop(client: httpx.AsyncClient, route: Route, clients: int, total: int) -> float:
    """`total` requests from `clients` workers back to back; returns the wall time."""
    rec = CURRENT[route.name]
    indices = iter(range(total))

    async def worker() -> None:
        for i in indices:
            await send(client, route, i, rec, time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started


async def open_loop(
    client: httpx.AsyncClient, route: Route, clients: int, rate: float, duration: float
) -> float:
    """`rate` requests/s in all: each client sends every clients/rate s from a random
    offset, not waiting for answers. Returns the wall time."""
    rec = CURRENT[route.name]
    period = clients / rate
    per_client = max(1, round(duration / period))
    rng = random.Random(1)
    start = time.perf_counter() + 0.05
    in_flight: list[asyncio.Task[None]] = []

    async def schedule(c: int, offset: float) -> None:
        for k in range(per_client):
            due = start + offset + k * period
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            rec.lags.append(time.perf_counter() - due)
            in_flight.append(asyncio.create_task(send(client, route, c + k * clients, rec, due)))

    await asyncio.gather(*(schedule(c, rng.uniform(0, period)) for c in range(clients)))
    await asyncio.gather(*in_flight)
    return time.perf_counter() - start


CURRENT: dict[str, Recorder] = {}


async def measure(
    pid: int, name: str, route: Route, run: Callable[[Recorder], object]
) -> Phase:
    """Run one phase, with the CPU time the gateway and this process spent on it."""
    rec = CURRENT[route.name] = Recorder(route.expected)
    gateway_before, generator_before = cpu_seconds(pid), time.process_time()
    wall = await run(rec)  # type: ignore[misc]
    return Phase(
        name,
        rec,
        float(wall),
        cpu_seconds(pid) - gateway_before,
        time.process_time() - generator_before,
    )


def routes(files: int, token: str) -> list[Route]:
    def similar_path(i: int) -> str:
        query = {"repo_url": REPO, "file_path": file_path(i * 7919 % files), "limit": 10}
        return f"/api/v1/graph/similar?{urlencode(query)}"

    return [
        Route(
            "ingest",
            "POST",
            202,
            lambda i: f"/api/v1/ingestion/ingest/github.com/bench/r{i}",
            {"Authorization": f"Bearer {token}"},
        ),
        Route("similar", "GET", 200, similar_path, {}),
    ]


async def load(base: str, pid: int, args: argparse.Namespace, token: str) -> list[Phase]:
    """Per route: warm-up, closed loop, open loop."""
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    phases = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        for route in routes(args.files, token):
            c = args.clients
            phases.append(
                await measure(
                    pid, f"{route.name} warm-up", route,
                    lambda _r, route=route: closed_loop(client, route, c, args.warmup),
                )
            )
            phases.append(
                await measure(
                    pid, f"{route.name} closed", route,
                    lambda _r, route=route: closed_loop(client, route, c, args.requests),
                )
            )
            phases.append(
                await measure(
                    pid, f"{route.name} open {args.rate:g}/s", route,
                    lambda _r, route=route: open_loop(client, route, c, args.rate, args.duration),
                )
            )
    return phases

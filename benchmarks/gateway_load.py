"""The gateway under load (R12.4, issue 16): latency of the ingest and `similar` routes
with 50 concurrent clients, the gateway's peak RSS and its time from start to healthy,
each printed next to its target (ingest p99 <= 25 ms, hybrid `similar` p99 <= 50 ms at
20 req/s, RSS <= 150 MB, healthy in under 10 s) with the ratio measured / target.

The gateway runs as a real process (`alexandria serve gateway`, uvicorn) against a real
Redis (a dedicated db, flushed first) and Postgres (a dedicated database, dropped and
created again first), with Qdrant seeded beforehand with `--files` files of one
repository as a job writes them (`synthetic_files`: a random unit structure vector, 48
Zipf-drawn identifier terms, imports, co-change partners and the stored candidates of
hybrid `similar`; the mean JSON bytes per point are printed with and without the
candidates; `--no-candidates` seeds points without them, as written before). `similar`
asks for 10 files in `--similar-mode` (hybrid, the default). Qdrant is reached as in a
`QDRANT_URL` deployment, over its REST API, served by the Qdrant REST test double
(tests/doubles/qdrant_rest.py: qdrant-client's embedded engine behind HTTP) in a
process of its own; `--qdrant local` runs it in the
gateway's process instead (LOCAL mode). ALEXANDRIA_MAX_QUEUE_SIZE is raised so that
every ingest queues a job. Per route, after a warm-up:
- closed loop: `--clients` workers each send their next request as soon as the last
  answer arrives, `--requests` in all. With C clients, mean latency = C / throughput
  (Little's law): this measures capacity, not the latency at a given load.
- open loop: `--rate` (ingest) or `--similar-rate` requests/s in all for `--duration`
  s, each client on its own fixed schedule (staggered offsets) whatever the answers.
  Latency counts from the scheduled send time, so a late load generator shows in it
  (its lag is printed too). A rate above the route's capacity only measures a queue
  growing: `similar` (Qdrant local mode scans in Python) serves far fewer than ingest.
Every status is checked (202 for ingest, 200 for `similar`); any other is an error,
printed, and the run exits 1. The load generator shares the machine's cores with the
gateway: the CPU each spends per request is printed per phase. Each simulated client
has its own httpx client; one shared client (`--shared-client`) costs the generator
more CPU, as its pool scans every connection for each request it queues.

    .venv/bin/python benchmarks/gateway_load.py
    .venv/bin/python benchmarks/gateway_load.py --requests 3000 --rate 200 --similar-rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import importlib.util
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
import numpy as np
import psycopg
import redis
import uvicorn

from services.common.config import Settings
from services.common.vectors import (
    DIMENSIONS,
    FileVector,
    Partner,
    ensure_collection,
    open_vector_store,
    point_body,
    upsert_file_vectors,
)
from services.ingest.candidates import with_candidates

TARGET_INGEST_P99_MS = 25.0
TARGET_SIMILAR_P99_MS = 50.0  # issue 16: hybrid `similar` at 20 req/s
TARGET_RSS_MB = 150.0
TARGET_START_S = 10.0
HEALTH_TIMEOUT_S = 60.0
REPO = "https://github.com/bench/repo"
DIRECTORIES = 97  # files per directory: files / 97 (~21 at 2,000)
TERMS, IMPORTS, PARTNERS = 48, 5, 20  # per file, as the parser and the pipeline keep
ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
HEAD = ("ok", "errors", "req/s", "mean", "p50", "p90", "p99", "max", "lag p99", "gw CPU", "gen CPU")
QUANTILES = (0.5, 0.9, 0.99, 1.0)
# Variables that would point the gateway at other services than the ones set here.
FOREIGN_ENV = ("QDRANT_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN")


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expected: int
    path: Callable[[int], str]
    headers: dict[str, str]
    rate: float  # open loop, requests/s in all


@dataclass
class Recorder:
    """Latencies (s) of the expected answers; the others counted by status."""

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
    rec: Recorder
    wall: float
    gateway_cpu: float
    generator_cpu: float
    rate: float | None  # the open loop's


Load = Callable[[Recorder], Awaitable[float]]


# --- the services ------------------------------------------------------------------


def flush_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def recreate_database(url: str) -> None:
    """Drop the URL's database and create it empty (connected to the server's `postgres`)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def file_path(index: int) -> str:
    return f"src/pkg_{index % DIRECTORIES}/module_{index}.py"


def unit_vector(rng: random.Random) -> list[float]:
    v = [rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def synthetic_files(files: int) -> list[FileVector]:
    """`files` files of REPO as a job writes them: a random unit structure vector,
    `TERMS` identifier terms drawn from a Zipf (s = 1.1) vocabulary of 3 x files
    tokens with L2-normalised weights, `IMPORTS` imports, up to `PARTNERS` co-change
    partners, and the candidates the pipeline stores (services/ingest/candidates.py)."""
    rng = random.Random(0)
    draw = np.random.default_rng(0)
    paths = [file_path(i) for i in range(files)]
    vocabulary = 3 * files
    zipf = 1.0 / np.arange(1, vocabulary + 1) ** 1.1
    tokens = draw.choice(vocabulary, size=(files, 2 * TERMS), p=zipf / zipf.sum())
    made = []
    for i, path in enumerate(paths):
        own = list(dict.fromkeys(int(t) for t in tokens[i]))[:TERMS]
        weights = sorted((rng.random() + 0.05 for _ in own), reverse=True)
        norm = math.sqrt(sum(w * w for w in weights))
        others = rng.sample(range(files), min(files, IMPORTS + PARTNERS + 1))
        others = [j for j in others if j != i]
        partners = [
            Partner(paths[j], round(rng.random() * 3, 3), rng.randint(1, 30), 1_700_000_000)
            for j in others[IMPORTS : IMPORTS + rng.randint(0, PARTNERS)]
        ]
        made.append(
            FileVector(
                path,
                "python",
                unit_vector(rng),
                imports=sorted(paths[j] for j in others[:IMPORTS]),
                terms=[(f"tok{t}", w / norm) for t, w in zip(own, weights, strict=True)],
                cochange=sorted(partners, key=lambda p: (-p.weight, p.file_path)),
            )
        )
    started = time.perf_counter()
    stored = with_candidates(REPO, made)
    print(f"candidates of {files} files computed in {time.perf_counter() - started:.2f} s")
    return stored


def point_bytes(files: list[FileVector]) -> dict[str, float]:
    """Mean JSON bytes per point (payload; payload + vectors), without and with candidates."""
    sizes: dict[str, float] = {}
    for name, stored in (("without candidates", False), ("with candidates", True)):
        bodies = [
            point_body(
                f if stored else dataclasses.replace(f, candidates=None),
                repo_url=REPO,
                commit="0" * 40,
                job_id="seed",
                history="2000 commits",
            )
            for f in files
        ]
        payload = sum(len(json.dumps(b["payload"])) for b in bodies) / len(bodies)
        point = sum(len(json.dumps(b)) for b in bodies) / len(bodies)
        sizes[f"payload {name}"], sizes[f"point {name}"] = payload, point
    return sizes


async def seed_vectors(settings: Settings, files: list[FileVector]) -> None:
    """`files` of REPO, in the Qdrant `settings` name."""
    client = open_vector_store(settings)
    try:
        await ensure_collection(client)
        await upsert_file_vectors(
            client,
            repo_url=REPO,
            commit="0" * 40,
            job_id="seed",
            files=files,
            history="2000 commits",
        )
    finally:
        await client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def qdrant_server(path: Path, port: int) -> Iterator[str]:
    """The Qdrant REST test double as a process of its own; yields its URL once it answers."""
    double = ROOT / "tests" / "doubles" / "qdrant_rest.py"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, str(double), str(path), str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/collections", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Qdrant REST test double did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def gateway_env(
    args: argparse.Namespace, data_dir: Path, token: str, qdrant_url: str | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    if qdrant_url:
        env["QDRANT_URL"] = qdrant_url
    env.pop("ALEXANDRIA_READ_TOKEN", None)  # the read routes stay open
    env.update(
        REDIS_URL=args.redis_url,
        DATABASE_URL=args.database_url,
        ALEXANDRIA_ADMIN_TOKEN=token,
        ALEXANDRIA_MAX_QUEUE_SIZE="10000000",
        ALEXANDRIA_DATA_DIR=str(data_dir),
    )
    return env


@contextlib.contextmanager
def running_gateway(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The gateway process until the block ends; then SIGTERM, and wait for it."""
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
    sys.exit(f"not healthy after {HEALTH_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}")


def memory_mb(pid: int, key: str) -> float:
    """A /proc/PID/status line (VmHWM: peak RSS, VmRSS: now) in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the load ----------------------------------------------------------------------


def routes(args: argparse.Namespace, token: str) -> list[Route]:
    def ingest_path(i: int) -> str:
        return f"/api/v1/ingestion/ingest/github.com/bench/r{i}"

    def similar_path(i: int) -> str:
        query: dict[str, str | int] = {
            "repo_url": REPO,
            "file_path": file_path(i * 7919 % args.files),
            "limit": 10,
        }
        if args.similar_mode != "hybrid":  # hybrid is the default: no parameter
            query["mode"] = args.similar_mode
        return f"/api/v1/graph/similar?{urlencode(query)}"

    return [
        Route("ingest", "POST", 202, ingest_path, {"Authorization": f"Bearer {token}"}, args.rate),
        Route("similar", "GET", 200, similar_path, {}, args.similar_rate),
    ]


async def send(client: httpx.AsyncClient, route: Route, i: int, rec: Recorder, t0: float) -> None:
    """One request; its latency counts from `t0`."""
    try:
        response = await client.request(route.method, route.path(i), headers=route.headers)
        status: int | str = response.status_code
        body = response.text
    except httpx.HTTPError as exc:
        status, body = type(exc).__name__, str(exc)
    rec.add(time.perf_counter() - t0, status, body)


async def closed_loop(
    pool: list[httpx.AsyncClient], route: Route, total: int, rec: Recorder
) -> float:
    """`total` requests from one worker per entry of `pool`, each sending as soon as it
    has its answer; returns the wall time."""
    indices = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in indices:
            await send(client, route, i, rec, time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in pool))
    return time.perf_counter() - started


async def open_loop(
    pool: list[httpx.AsyncClient], route: Route, duration: float, rec: Recorder
) -> float:
    """`route.rate` requests/s in all for `duration` s: each client (entry of `pool`)
    sends every clients/rate s from its own random offset, without waiting for
    answers. Returns the wall time."""
    period = len(pool) / route.rate
    per_client = max(1, round(duration / period))
    rng = random.Random(1)
    start = time.perf_counter() + 0.05
    sent: list[asyncio.Task[None]] = []

    async def schedule(c: int, offset: float) -> None:
        for k in range(per_client):
            due = start + offset + k * period
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            rec.lags.append(time.perf_counter() - due)
            i = c + k * len(pool)
            sent.append(asyncio.create_task(send(pool[c], route, i, rec, due)))

    await asyncio.gather(*(schedule(c, rng.uniform(0, period)) for c in range(len(pool))))
    await asyncio.gather(*sent)
    return time.perf_counter() - start


async def measure(pid: int, name: str, route: Route, run: Load, rate: float | None) -> Phase:
    """One phase, with the CPU time the gateway and this process spent on it."""
    rec = Recorder(route.expected)
    gateway, generator = cpu_seconds(pid), time.process_time()
    wall = await run(rec)
    return Phase(
        f"{route.name} {name}",
        rec,
        wall,
        cpu_seconds(pid) - gateway,
        time.process_time() - generator,
        rate,
    )


@contextlib.asynccontextmanager
async def http_clients(
    base: str, args: argparse.Namespace
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One httpx client per simulated client: the same shared one (a connection each in
    its pool) with `--shared-client`, else one each (a connection in each pool)."""
    n = 1 if args.shared_client else args.clients
    per_pool = args.clients if args.shared_client else 1
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    async with contextlib.AsyncExitStack() as stack:
        made = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0)
            )
            for _ in range(n)
        ]
        yield made * args.clients if n == 1 else made


async def load(base: str, pid: int, args: argparse.Namespace, token: str) -> list[Phase]:
    """Per route: warm-up, closed loop, open loop."""
    phases = []
    async with http_clients(base, args) as pool:
        for route in routes(args, token):
            plan: list[tuple[str, Load, float | None]] = [
                ("warm-up", functools.partial(closed_loop, pool, route, args.warmup), None),
                ("closed", functools.partial(closed_loop, pool, route, args.requests), None),
                (
                    f"open {route.rate:g}/s",
                    functools.partial(open_loop, pool, route, args.duration),
                    route.rate,
                ),
            ]
            for name, run, rate in plan:
                phases.append(await measure(pid, name, route, run, rate))
    return phases


# --- the report --------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list (q in 0..1); NaN when empty."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def throughput(p: Phase) -> float:
    return (len(p.rec.latencies) + sum(p.rec.errors.values())) / p.wall


def mean_ms(p: Phase) -> float:
    ms = p.rec.latencies
    return sum(ms) / len(ms) * 1000 if ms else math.nan


def phase_row(p: Phase) -> str:
    ms = sorted(x * 1000 for x in p.rec.latencies)
    done = max(1, len(ms) + sum(p.rec.errors.values()))
    lag = percentile(sorted(p.rec.lags), 0.99) * 1000
    cells = [
        len(ms),
        sum(p.rec.errors.values()),
        f"{throughput(p):.0f}",
        *(f"{v:.1f}" for v in (mean_ms(p), *(percentile(ms, q) for q in QUANTILES))),
        "-" if math.isnan(lag) else f"{lag:.1f}",
        f"{p.gateway_cpu * 1000 / done:.2f}",
        f"{p.generator_cpu * 1000 / done:.2f}",
    ]
    return f"{p.name:<20}" + "".join(f"{c!s:>8}" for c in cells)


def metric_row(name: str, measured: float, target: float | None) -> str:
    ratio = f"{measured / target:.2f}x" if target else "-"
    return f"{name:<36}{measured:>10.1f}{target or '-':>10}{ratio:>10}"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return (
        f"machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}; "
        f"gateway: uvicorn {uvicorn.__version__}, http {http}, loop {loop}"
    )


def report(
    phases: list[Phase], start_s: float, rss: dict[str, float], args: argparse.Namespace
) -> int:
    """Print the tables; returns the number of unexpected answers."""
    print(machine())
    print(f"command: {' '.join(sys.orig_argv)}")
    httpx_clients = "one httpx client" if args.shared_client else "an httpx client each"
    print(
        f"{args.clients} clients ({httpx_clients}, keep-alive); closed loop: {args.requests} "
        f"requests a route after {args.warmup} warm-up; open loop: {args.duration:g} s a "
        f"route; {args.files} files in Qdrant "
        + ("over REST (a separate process)" if args.qdrant == "rest" else "local mode")
        + f"; similar mode {args.similar_mode}, limit 10, "
        + ("no stored candidates" if args.no_candidates else "stored candidates")
    )
    print()
    print(f"{'phase':<20}" + "".join(f"{h:>8}" for h in HEAD))
    for p in phases:
        print(phase_row(p))
    print("(latency and lag in ms; CPU: ms per request of the gateway / of this load generator)")
    print()
    print(f"{'metric':<36}{'measured':>10}{'target':>10}{'ratio':>10}")
    print(metric_row("start to healthy (s)", start_s, TARGET_START_S))
    for p in phases:
        if not p.name.endswith("warm-up"):
            target = (
                TARGET_INGEST_P99_MS
                if p.name.startswith("ingest")
                else TARGET_SIMILAR_P99_MS
                if p.rate and args.similar_mode == "hybrid"
                else None
            )
            p99 = percentile(sorted(p.rec.latencies), 0.99) * 1000
            print(metric_row(f"{p.name} p99 (ms)", p99, target))
    print(metric_row("gateway peak RSS, VmHWM (MB)", rss["VmHWM"], TARGET_RSS_MB))
    print(metric_row("gateway RSS after start (MB)", rss["start"], None))
    print(metric_row("gateway RSS at the end (MB)", rss["VmRSS"], None))
    print()
    print(
        f"Closed loop: {args.clients} clients always waiting, so mean latency = clients / "
        "throughput (Little's law), a measure of capacity:"
    )
    for p in phases:
        if p.name.endswith("closed"):
            little = args.clients / throughput(p) * 1000
            print(
                f"  {p.name}: {args.clients} / {throughput(p):.0f} req/s = {little:.0f} ms", end=""
            )
            print(f" (measured mean {mean_ms(p):.0f} ms)")
    print(
        f"The open loop gives the latency at a given rate. The load generator shares the "
        f"{os.cpu_count()} cores with the gateway (CPU columns)."
    )
    for p in phases:
        if p.rate and throughput(p) < 0.95 * p.rate:
            print(
                f"WARNING {p.name}: {throughput(p):.0f} req/s done, under the rate: the gateway "
                "or the load generator saturated (CPU columns), latency is queueing"
            )
    errors = 0
    for p in phases:
        for status, count in p.rec.errors.items():
            errors += count
            print(f"ERROR {p.name}: {count} x {status}: {p.rec.examples[status]!r}")
    if errors:
        print(f"ERRORS: {errors} unexpected answers; the latencies above exclude them.")
    return errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/15",
        help="a dedicated Redis db, FLUSHDB'd first (default db 15 of the local Redis)",
    )
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/alexandria_gateway_bench",
        help="a dedicated Postgres database, DROPPED and created again first",
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--requests", type=int, default=3000, help="closed loop, per route")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests, per route")
    parser.add_argument("--rate", type=float, default=200.0, help="ingest open loop, req/s")
    parser.add_argument(
        "--similar-rate",
        type=float,
        default=20.0,
        help="similar open loop, req/s (20: Qdrant local mode serves ~40 a second here)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="open loop, s per route")
    parser.add_argument(
        "--shared-client",
        action="store_true",
        help="one httpx client for all simulated clients (its pool bookkeeping costs more CPU)",
    )
    parser.add_argument("--files", type=int, default=2000, help="files seeded in Qdrant")
    parser.add_argument(
        "--similar-mode",
        choices=["hybrid", "structure", "text", "history"],
        default="hybrid",
        help="`similar`'s mode (hybrid, the default, is sent without `mode`)",
    )
    parser.add_argument(
        "--no-candidates",
        action="store_true",
        help="seed points without stored candidates (as written before issue 16's "
        "candidates): hybrid `similar` then queries and scrolls Qdrant for them",
    )
    parser.add_argument(
        "--qdrant",
        choices=["rest", "local"],
        default="rest",
        help="rest: QDRANT_URL at a Qdrant REST server (the test double), as deployed; "
        "local: Qdrant local mode inside the gateway",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    flush_redis(args.redis_url)
    recreate_database(args.database_url)
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        data_dir, log = Path(tmp) / "data", Path(tmp) / "gateway.log"
        qdrant_url = None
        if args.qdrant == "rest":
            qdrant_url = stack.enter_context(qdrant_server(Path(tmp) / "qdrant", free_port()))
        seed_settings = Settings(alexandria_data_dir=data_dir, qdrant_url=qdrant_url)
        files = synthetic_files(args.files)
        for name, size in point_bytes(files).items():
            print(f"mean JSON bytes per {name}: {size:,.0f}")
        if args.no_candidates:
            files = [dataclasses.replace(f, candidates=None) for f in files]
        asyncio.run(seed_vectors(seed_settings, files))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = gateway_env(args, data_dir, token, qdrant_url)
        started = time.perf_counter()
        with running_gateway(env, port, log) as proc:
            start_s = wait_healthy(base, proc, started, log)
            rss = {"start": memory_mb(proc.pid, "VmRSS")}
            phases = asyncio.run(load(base, proc.pid, args, token))
            rss.update({key: memory_mb(proc.pid, key) for key in ("VmHWM", "VmRSS")})
    return 1 if report(phases, start_s, rss, args) else 0


if __name__ == "__main__":
    sys.exit(main())

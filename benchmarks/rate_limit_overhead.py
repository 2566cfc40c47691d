"""The latency a rate limit adds to a read route (issue 18), against its anchor: the same
route of the same kind of gateway with no limit, in the same run.

    .venv/bin/python benchmarks/rate_limit_overhead.py [--requests 500] [--redis-url URL]

Two `alexandria serve gateway` processes in LOCAL mode, each with its own data dir
(SQLite, Qdrant local mode) and the same Redis: the embedded redis-server started here
(its unix socket, as LOCAL mode uses it) or `--redis-url`. One has
ALEXANDRIA_RATE_LIMIT_READS_PER_MINUTE=0 (the anchor), the other a limit never reached, so every
request runs the check (one EVALSHA) and none is refused. One client with a keep-alive
connection to each sends `--requests` requests to `--path` one at a time, alternating
between the two gateways so that other load on the machine hits both alike, after a
warm-up of 50 each. Printed: p50, p90, p99 and mean of each, and what the limit adds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from services.common.config import variable_names
from services.common.embedded_redis import ensure_embedded_redis

ROOT = Path(__file__).resolve().parent.parent

NEVER_REACHED = 1_000_000_000
WARM_UP = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gateway(data_dir: Path, redis_url: str, limit: int) -> Iterator[str]:
    """A LOCAL gateway process until the block ends; yields its URL once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in variable_names()}
    env.update(
        ALEXANDRIA_MODE="LOCAL",
        ALEXANDRIA_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        ALEXANDRIA_RATE_LIMIT_READS_PER_MINUTE=str(limit),
        ALEXANDRIA_LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "alexandria.cli", "serve", "gateway", "--port", str(port)]
    log = data_dir.with_suffix(".log").open("wb")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the gateway did not start: see {log.name}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()


def measure(urls: Sequence[str], path: str, requests: int) -> list[list[float]]:
    """Seconds per request to each of `urls`, alternating, after a warm-up."""
    clients = [httpx.Client(base_url=url, timeout=30) for url in urls]
    seconds: list[list[float]] = [[] for _ in urls]
    try:
        for i in range(WARM_UP + requests):
            for client, kept in zip(clients, seconds, strict=True):
                started = time.perf_counter()
                reply = client.get(path)
                elapsed = time.perf_counter() - started
                if reply.status_code != 200:
                    sys.exit(f"{client.base_url}{path}: {reply.status_code} {reply.text}")
                if i >= WARM_UP:
                    kept.append(elapsed)
    finally:
        for client in clients:
            client.close()
    return seconds


def summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "mean": statistics.fmean(ordered) * 1000,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--path", default="/api/v1/ingestion/jobs/history")
    parser.add_argument("--redis-url", help="default: an embedded redis-server started here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rate-limit-") as work:
        root = Path(work)
        redis_proc = None
        redis_url = args.redis_url
        if not redis_url:
            redis_url, redis_proc = ensure_embedded_redis(root / "redis")
        try:
            with (
                gateway(root / "anchor", redis_url, 0) as anchor,
                gateway(root / "limited", redis_url, NEVER_REACHED) as limited,
            ):
                if "RateLimit-Limit" not in httpx.get(limited + args.path).headers:
                    sys.exit("the limited gateway sends no RateLimit-Limit: it checks nothing")
                seconds = measure([anchor, limited], args.path, args.requests)
        finally:
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait(timeout=10)
    rows = {"no limit (anchor)": summary(seconds[0]), "rate limited": summary(seconds[1])}
    redis = args.redis_url or "the embedded redis-server"
    print(f"{args.requests} GET {args.path} each, one at a time, in ms; Redis: {redis}")
    print("| gateway | p50 | p90 | p99 | mean |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(
            f"| {name} | "
            + " | ".join(f"{row[k]:.2f}" for k in ("p50", "p90", "p99", "mean"))
            + " |"
        )
    added = {
        k: rows["rate limited"][k] - rows["no limit (anchor)"][k] for k in ("p50", "p99", "mean")
    }
    print(
        f"the limit adds p50 {added['p50']:+.2f} ms, p99 {added['p99']:+.2f} ms, "
        f"mean {added['mean']:+.2f} ms (ratio of p50s "
        f"{rows['rate limited']['p50'] / rows['no limit (anchor)']['p50']:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

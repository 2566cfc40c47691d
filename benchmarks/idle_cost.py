"""Commands an idle coordinator sends per day on each queue transport, and how fast it
picks up a job after idling (and what the gateway's events consumer adds on REST);
anchored on the seed's queue (LPOP every 2 s) and on
Upstash's free tier (~500 K commands a month, so 3,000 a day leaves room).

The real `Coordinator` runs against a real redis-server (embedded, or `--redis-url`)
with time compressed `--scale` times (every interval in its settings divided by the
scale) for `--hours` simulated hours, and the counts are scaled to a day. Counted
per transport:
- commands the worker sent (client side; on REST = HTTP requests, and the Upstash
  REST test double's own request counter is printed beside it);
- commands Redis executed, those inside scripts included (`INFO commandstats`).
Round trips and Redis's timer resolution do not shrink with the scale, so at high
scales cycles run long and counts come out low; the defaults (scale 60, 2 simulated
hours: 2 minutes a transport) keep every interval at 33 ms or more. The "expected"
column is the exact schedule's count.

    .venv/bin/python benchmarks/idle_cost.py
    .venv/bin/python benchmarks/idle_cost.py --hours 24 --transports upstash-rest
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from doubles.upstash_rest import serve_upstash_rest

from neo_alexandria.v1 import jobs_pb2
from services.common.config import Settings
from services.common.embedded_redis import ensure_embedded_redis
from services.common.jobs import TERMINAL, now
from services.common.queue import JobQueue
from services.common.transport import Transport, open_transport
from services.ingest.coordinator import Coordinator
from services.ingest.pipeline import PipelineResult, ProgressFn

DAY = 86_400.0
SEED_POLL_SECONDS = 2.0
SEED_SCALE = 40.0
FREE_TIER_PER_DAY = 500_000 / 30


def server_commands(url: str) -> int:
    """Commands the server executed so far, INFO itself excluded."""
    client = redis.Redis.from_url(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def count_calls(transport: Transport) -> Callable[[], int]:
    """Wrap the transport's `call` to count commands sent; returns the counter."""
    sent = 0
    inner = transport.call

    async def counted(*args: Any) -> Any:
        nonlocal sent
        sent += 1
        return await inner(*args)

    transport.call = counted  # type: ignore[method-assign]
    return lambda: sent


def expected_count(low: float, high: float, window: float, block: float | None = None) -> float:
    """The schedule's own count over `window` s: a poll and a blocking read per `block`,
    or polls whose delay ramps from `low` (doubling) to `high`."""
    if block is not None:
        return 2 * window / block
    delay, elapsed, polls = low, 0.0, 0
    while delay < high and elapsed < window:
        elapsed, polls, delay = elapsed + delay, polls + 1, min(delay * 2, high)
    return polls + (window - elapsed) / high


INTERVALS = (
    "queue_poll_min_seconds",
    "queue_poll_max_seconds",
    "queue_block_seconds",
    "heartbeat_seconds",
    "events_poll_max_seconds",
)
Counters = Callable[[], tuple[int, int]]


class IdleWindow:
    """Settings scaled down, a transport that counts what it sends, and the window's
    counts scaled up to a day. `counters()` gives (commands Redis ran, HTTP requests)."""

    def __init__(self, real: Settings, args: argparse.Namespace, counters: Counters) -> None:
        self.real, self.scale, self.counters = real, args.scale, counters
        self.window = args.hours * 3600
        self.settings = real.model_copy(
            update={name: getattr(real, name) / args.scale for name in INTERVALS}
        )
        self.transport, _ = open_transport(self.settings)
        self.sent = count_calls(self.transport)

    async def idle(self) -> dict[str, float]:
        """Let the window pass; what was sent and run meanwhile, per day."""
        start = self.counters()
        await asyncio.sleep(self.window / self.scale)
        sent, end = self.sent(), self.counters()
        per_day = DAY / self.window
        return {
            "sent": sent * per_day,
            "in_redis": (end[0] - start[0]) * per_day,
            "http": (end[1] - start[1]) * per_day,
        }


async def idle_coordinator(
    config: dict[str, Any], data_dir: Path, args: argparse.Namespace, counters: Counters
) -> dict[str, float]:
    """A coordinator idling for the window, then the delay until it picks up a job."""
    real = Settings(
        alexandria_data_dir=data_dir,
        queue_poll_max_seconds=args.ceiling,
        queue_block_seconds=args.block,
        **config,
    )
    bench = IdleWindow(real, args, counters)
    queue = JobQueue(bench.transport)
    picked = asyncio.Event()

    async def run_job(task: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        picked.set()
        return PipelineResult(commit="", files_processed=0, embeddings_generated=0, final_loss=0.0)

    stop = asyncio.Event()
    running = asyncio.create_task(
        Coordinator(bench.settings, queue, run_job, worker_id="idle-bench").run(stop)
    )
    counts = await bench.idle()
    task = jobs_pb2.QueuedTask(job_id="wake-up", repo_url="https://github.com/a/b", ttl_seconds=60)
    task.submitted_at.CopyFrom(now())
    queued_at = time.monotonic()
    await queue.enqueue(task, cap=10)
    await asyncio.wait_for(picked.wait(), 10 * args.ceiling / args.scale + 10)
    counts["pickup"] = (time.monotonic() - queued_at) * args.scale
    while (record := await queue.get_job(task.job_id)) is None or record.status not in TERMINAL:
        await asyncio.sleep(0.01)
    stop.set()
    await running
    await bench.transport.close()
    block = real.queue_block_seconds if bench.transport.blocking else None
    expected = expected_count(
        real.queue_poll_min_seconds, real.queue_poll_max_seconds, bench.window, block
    )
    counts["expected"] = expected * DAY / bench.window
    return counts


async def idle_events_consumer(
    config: dict[str, Any], data_dir: Path, args: argparse.Namespace, counters: Counters
) -> dict[str, float]:
    """The gateway's events consumer idling for the window."""
    from gateway.db import open_database
    from gateway.events import consume_events

    bench = IdleWindow(Settings(alexandria_data_dir=data_dir, **config), args, counters)
    engine = open_database(bench.settings)
    stop = asyncio.Event()
    running = asyncio.create_task(
        consume_events(JobQueue(bench.transport), engine, stop, bench.settings)
    )
    counts = await bench.idle()
    running.cancel()
    await bench.transport.close()
    engine.dispose()
    real = bench.real
    block = real.queue_block_seconds if bench.transport.blocking else None
    expected = expected_count(
        real.queue_poll_min_seconds, real.events_poll_max_seconds, bench.window, block
    )
    counts["expected"] = expected * DAY / bench.window
    counts["pickup"] = float("nan")
    return counts


async def seed_day(url: str, token: str) -> float:
    """The anchor: the seed's worker, one LPOP every 2 s, over the same REST API, for
    30 s at scale 40 (its 2 s must stay long next to a request), counted per day."""
    from upstash_redis.asyncio import Redis as UpstashRedis

    client = UpstashRedis(url, token, allow_telemetry=False)
    sent, window = 0, 30.0
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        await client.execute(["LPOP", "seed:queue"])
        sent += 1
        await asyncio.sleep(SEED_POLL_SECONDS / SEED_SCALE)
    await client.close()
    return sent * DAY / (window * SEED_SCALE)


def row(*cells: object) -> str:
    """One table line: name, then right-aligned columns."""
    name, *rest = cells
    return f"{name!s:<16}" + "".join(f"{c!s:>11}" for c in rest)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=60.0, help="time compression (60)")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated idle hours (2)")
    parser.add_argument(
        "--transports",
        default="upstash-rest,redis,gateway-events",
        help="upstash-rest, redis (idle coordinator); gateway-events (its consumer, REST)",
    )
    parser.add_argument("--ceiling", type=float, default=60.0, help="REST poll ceiling, s (60)")
    parser.add_argument("--block", type=float, default=60.0, help="blocking read, s (60)")
    parser.add_argument("--redis-url", help="a Redis to use instead of an embedded one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        embedded = None
        url = args.redis_url
        if url is None:
            url, embedded = ensure_embedded_redis(Path(tmp) / "redis")
        wall = args.hours * 3600 / args.scale
        print(f"{args.hours:g} simulated hours in {wall:.0f} s (scale {args.scale:g}); ", end="")
        print(f"REST poll ceiling {args.ceiling:g} s, blocking read {args.block:g} s")
        print(row("transport", "sent/day", "expected", "in Redis", "HTTP reqs", "pickup s"), end="")
        print("   vs seed   vs 3,000")
        try:
            with serve_upstash_rest(url) as rest:
                seed = asyncio.run(seed_day(rest.url, rest.token))
                expected = DAY / SEED_POLL_SECONDS
                print(row("seed, LPOP / 2 s", f"{seed:.0f}", f"{expected:.0f}", "", "", ""), end="")
                print(f"   {1:7.3f}x  {seed / 3000:6.2f}x")
                for name in args.transports.split(","):
                    redis.Redis.from_url(url).flushdb()
                    over_rest = name in ("upstash-rest", "gateway-events")
                    config: dict[str, Any] = (
                        {"upstash_redis_rest_url": rest.url, "upstash_redis_rest_token": rest.token}
                        if over_rest
                        else {"redis_url": url}
                    )
                    counters = lambda: (server_commands(url), rest.requests)  # noqa: E731
                    measure = idle_events_consumer if name == "gateway-events" else idle_coordinator
                    got = asyncio.run(measure(config, Path(tmp) / name, args, counters))
                    http = f"{got['http']:.0f}" if over_rest else "-"
                    sent = got["sent"]
                    print(
                        row(
                            name,
                            f"{sent:.0f}",
                            f"{got['expected']:.0f}",
                            f"{got['in_redis']:.0f}",
                            http,
                            "-" if math.isnan(got["pickup"]) else f"{got['pickup']:.1f}",
                        ),
                        end="",
                    )
                    print(f"   {sent / seed:7.3f}x  {sent / 3000:6.2f}x")
        finally:
            if embedded is not None:
                embedded.terminate()
                embedded.wait()
    print(f"Counts are per day. Upstash free tier: {FREE_TIER_PER_DAY:,.0f} commands a day.")
    print("'in Redis' also counts the commands run inside scripts; 'pickup' (simulated s) is")
    print("for a job queued at the end of the idle window.")


if __name__ == "__main__":
    main()

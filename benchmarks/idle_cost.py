"""Commands an idle coordinator sends per day on each queue transport, and how fast it
picks up a job after idling; anchored on the seed's queue (LPOP every 2 s) and on
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
from services.common.jobs import now
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


def expected_count(settings: Settings, blocking: bool, window: float) -> float:
    """The schedule's own count over `window` s: poll + blocking read per block period,
    or REST polls ramping from the minimum delay to the ceiling."""
    if blocking:
        return 2 * window / settings.queue_block_seconds
    delay, elapsed, polls = settings.queue_poll_min_seconds, 0.0, 0
    while delay < settings.queue_poll_max_seconds and elapsed < window:
        elapsed, polls, delay = (
            elapsed + delay,
            polls + 1,
            min(delay * 2, settings.queue_poll_max_seconds),
        )
    return polls + (window - elapsed) / settings.queue_poll_max_seconds


async def idle_day(
    config: dict[str, Any],
    data_dir: Path,
    args: argparse.Namespace,
    counters: Callable[[], tuple[int, int]],
) -> dict[str, float]:
    """One simulated idle day, then the delay until a job queued then is picked up.
    `counters()` gives (commands Redis executed, HTTP requests served) so far."""
    scale, ceiling, block = args.scale, args.ceiling, args.block
    real = Settings(
        alexandria_data_dir=data_dir,
        queue_poll_max_seconds=ceiling,
        queue_block_seconds=block,
        **config,
    )
    scaled = real.model_copy(
        update={
            name: getattr(real, name) / scale
            for name in (
                "queue_poll_min_seconds",
                "queue_poll_max_seconds",
                "queue_block_seconds",
                "heartbeat_seconds",
            )
        }
    )
    window = args.hours * 3600
    transport, _ = open_transport(scaled)
    sent = count_calls(transport)
    queue = JobQueue(transport)
    picked = asyncio.Event()

    async def run_job(task: jobs_pb2.QueuedTask, progress: ProgressFn) -> PipelineResult:
        picked.set()
        return PipelineResult(commit="", files_processed=0, embeddings_generated=0, final_loss=0.0)

    stop = asyncio.Event()
    coordinator = Coordinator(scaled, queue, run_job, worker_id="idle-bench")
    start = counters()
    running = asyncio.create_task(coordinator.run(stop))
    await asyncio.sleep(window / scale)
    idle_sent = sent()
    end = counters()
    task = jobs_pb2.QueuedTask(
        job_id="wake-up", repo_url="https://github.com/a/b", ttl_seconds=3600
    )
    task.submitted_at.CopyFrom(now())
    queued_at = time.monotonic()
    await queue.enqueue(task, cap=10)
    await asyncio.wait_for(picked.wait(), 10 * ceiling / scale + 10)
    pickup = (time.monotonic() - queued_at) * scale
    while (
        record := await queue.get_job(task.job_id)
    ) is None or record.status != jobs_pb2.JOB_STATUS_COMPLETE:
        await asyncio.sleep(0.01)
    stop.set()
    await running
    await transport.close()
    per_day = DAY / window
    return {
        "sent": idle_sent * per_day,
        "in_redis": (end[0] - start[0]) * per_day,
        "http": (end[1] - start[1]) * per_day,
        "expected": expected_count(real, transport.blocking, window) * per_day,
        "pickup": pickup,
    }


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
    parser.add_argument("--transports", default="upstash-rest,redis", help="which to run")
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
                    config: dict[str, Any] = (
                        {"upstash_redis_rest_url": rest.url, "upstash_redis_rest_token": rest.token}
                        if name == "upstash-rest"
                        else {"redis_url": url}
                    )
                    counters = lambda: (server_commands(url), rest.requests)  # noqa: E731
                    got = asyncio.run(idle_day(config, Path(tmp) / name, args, counters))
                    http = f"{got['http']:.0f}" if name == "upstash-rest" else "-"
                    sent = got["sent"]
                    print(
                        row(
                            name,
                            f"{sent:.0f}",
                            f"{got['expected']:.0f}",
                            f"{got['in_redis']:.0f}",
                            http,
                            f"{got['pickup']:.1f}",
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

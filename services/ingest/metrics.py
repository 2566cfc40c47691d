"""The coordinator's Prometheus metrics: jobs by outcome, phase durations, queue depth."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram

from services.common.metrics import DURATION_BUCKETS
from services.common.queue import JobQueue
from services.common.transport import QueueCommandError, QueueUnavailable

log = logging.getLogger(__name__)

JOBS = Counter(
    "alexandria_coordinator_jobs",
    "Jobs this coordinator settled, by status (queued: handed back to be retried)",
    ["status"],
)
PHASE_SECONDS = Histogram(
    "alexandria_job_phase_seconds",
    "Time spent in each phase of a job: parse, train, candidates, upload",
    ["phase"],
    buckets=DURATION_BUCKETS,
)
QUEUE_DEPTH = Gauge(
    "alexandria_queue_depth",
    "Jobs pending (queued + in flight), as of this coordinator's last job",
)


@contextlib.contextmanager
def timed_phase(phase: str, into: dict[str, float] | None = None) -> Iterator[None]:
    """Time the block as `phase` of the job in context, in the histogram, the log and,
    when given, `into[phase]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        PHASE_SECONDS.labels(phase).observe(seconds)
        if into is not None:
            into[phase] = into.get(phase, 0.0) + seconds
        log.info(
            "%s phase took %.2fs",
            phase,
            seconds,
            extra={"phase": phase, "seconds": round(seconds, 3)},
        )


async def observe_queue_depth(queue: JobQueue) -> None:
    """Refresh the queue-depth gauge (one queue command); an unreachable queue skips it."""
    try:
        QUEUE_DEPTH.set(await queue.pending())
    except (QueueUnavailable, QueueCommandError) as exc:
        log.warning("queue depth not read: %s", exc)

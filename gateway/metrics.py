"""Prometheus metrics of the gateway: requests by route and status, their latency, and,
refreshed at each scrape, queue depth, jobs by status and workers by state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.db import IngestionJob
from services.common import jobs
from services.common.queue import JobQueue

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
WORKER_STATES = tuple(jobs.worker_state_name(v) for v in jobs.WorkerState.values())
"""Every state's label, `unspecified` (a worker older than the state) included."""


def _jobs_by_status(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(IngestionJob.status, func.count()).group_by(IngestionJob.status)
        )
        return {status: int(count) for status, count in rows}


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "alexandria_gateway_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "alexandria_gateway_request_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_pending = Gauge(
            "alexandria_queue_pending", "Jobs pending: queued + in flight", registry=self.registry
        )
        self.jobs = Gauge(
            "alexandria_jobs",
            "Jobs in the metadata DB by status",
            ["status"],
            registry=self.registry,
        )
        self.workers = Gauge(
            "alexandria_workers",
            "Workers by state, from their heartbeats",
            ["state"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "alexandria_gateway_rate_limited",
            "Requests refused with 429 by a client's rate limit, by budget (ingest, reads)",
            ["budget"],
            registry=self.registry,
        )
        self.rate_limit_unchecked = Counter(
            "alexandria_gateway_rate_limit_unchecked",
            "Requests let through unchecked because Redis could not be asked (fail open)",
            ["budget"],
            registry=self.registry,
        )
        self.scrape_errors = Counter(
            "alexandria_gateway_scrape_errors",
            "Dependencies that could not be read while collecting metrics",
            ["dependency"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def render(self, queue: JobQueue, engine: Engine) -> bytes:
        """Refresh the gauges from the queue and the DB, then the exposition text."""
        try:
            self.queue_pending.set(await queue.pending())
            now = time.time()
            states = Tally(
                jobs.worker_state_name(jobs.OFFLINE if jobs.is_offline(w, now) else w.state)
                for w in await queue.workers()
            )
            for state in WORKER_STATES:
                self.workers.labels(state).set(states.get(state, 0))
        except Exception as exc:
            log.warning("metrics: queue unreadable: %s", exc)
            self.scrape_errors.labels("queue").inc()
        try:
            counts = await asyncio.to_thread(_jobs_by_status, engine)
            for status in ("queued", "running", "complete", "failed", "skipped", "dead"):
                self.jobs.labels(status).set(counts.get(status, 0))
        except Exception as exc:
            log.warning("metrics: metadata DB unreadable: %s", exc)
            self.scrape_errors.labels("database").inc()
        return generate_latest(self.registry)

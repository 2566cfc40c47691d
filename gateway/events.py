"""Consume the coordinators' events stream into the metadata DB, idempotently.

Each batch of events is applied in one transaction together with the stream
offset, so a restart resumes exactly where it stopped and a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.db import EventOffset, apply_job_records
from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.config import Settings
from services.common.queue import IdlePacer, JobQueue

log = logging.getLogger(__name__)

BATCH = 100
COALESCE_SECONDS = 0.25
RETRY_SECONDS = 2.0


def _load_offset(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(EventOffset, keys.EVENTS)
        return row.last_id if row else "0-0"


def apply_events(engine: Engine, entries: list[tuple[str, jobs_pb2.JobRecord]]) -> str:
    """Apply stream entries and store the new offset in one transaction; return it."""
    last_id = entries[-1][0]
    with Session(engine) as session, session.begin():
        apply_job_records(session, [record for _, record in entries])
        offset = session.get(EventOffset, keys.EVENTS) or EventOffset(stream=keys.EVENTS)
        offset.last_id = last_id
        session.add(offset)
    return last_id


async def consume_events(
    queue: JobQueue,
    engine: Engine,
    stop: asyncio.Event,
    settings: Settings,
    wake: asyncio.Event | None = None,
) -> None:
    """Run until `stop`: read events in batches and apply them.

    Batches are applied at most four times a second while events flow. On the Redis
    protocol it blocks on the stream. On REST it polls, backing off from
    `ALEXANDRIA_QUEUE_POLL_MIN_SECONDS` to `ALEXANDRIA_EVENTS_POLL_MAX_SECONDS` (10 min:
    the API reads live job state from Redis, so only the metadata DB waits); `wake` (set when this
    gateway queues a job) brings the next poll forward and resets the backoff.
    """
    wake = wake or asyncio.Event()
    last_id = await asyncio.to_thread(_load_offset, engine)
    pacer = IdlePacer(settings.queue_poll_min_seconds, settings.events_poll_max_seconds)
    blocking = queue.transport.blocking
    while not stop.is_set():
        try:
            if blocking:
                entries = await queue.wait_events(last_id, BATCH, settings.queue_block_seconds)
            else:
                entries = await queue.events_after(last_id, BATCH)
            if entries:
                last_id = await asyncio.to_thread(apply_events, engine, entries)
                pacer.reset()
                if len(entries) < BATCH:  # busy: let events gather, one transaction for many
                    await asyncio.sleep(COALESCE_SECONDS)
            elif not blocking:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), pacer.next_delay())
                if wake.is_set():
                    wake.clear()
                    pacer.reset()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("events consumer: %s; retrying in %.0fs", exc, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)

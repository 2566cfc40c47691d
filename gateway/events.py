"""Consume the coordinators' events stream into the metadata DB, idempotently.

Each batch of events is applied in one transaction together with the stream
offset, so a restart resumes exactly where it stopped and a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.db import EventOffset, apply_job_record
from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.config import Settings
from services.common.queue import IdlePacer, JobQueue

log = logging.getLogger(__name__)

BATCH = 100
RETRY_SECONDS = 2.0


def _load_offset(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(EventOffset, keys.EVENTS)
        return row.last_id if row else "0-0"


def apply_events(engine: Engine, entries: list[tuple[str, jobs_pb2.JobRecord]]) -> str:
    """Apply stream entries and store the new offset in one transaction; return it."""
    last_id = entries[-1][0]
    with Session(engine) as session, session.begin():
        for _, record in entries:
            apply_job_record(session, record)
        offset = session.get(EventOffset, keys.EVENTS) or EventOffset(stream=keys.EVENTS)
        offset.last_id = last_id
        session.add(offset)
    return last_id


async def consume_events(
    queue: JobQueue, engine: Engine, stop: asyncio.Event, settings: Settings
) -> None:
    """Run until `stop`: read events in batches and apply them. Waits the way the
    coordinator does: blocking reads on the Redis protocol, paced polls on REST."""
    last_id = await asyncio.to_thread(_load_offset, engine)
    pacer = IdlePacer(settings.queue_poll_min_seconds, settings.queue_poll_max_seconds)
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
            elif not blocking:
                await asyncio.sleep(pacer.next_delay())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("events consumer: %s; retrying in %.0fs", exc, RETRY_SECONDS)
            await asyncio.sleep(RETRY_SECONDS)

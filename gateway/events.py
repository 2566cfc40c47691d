"""Consume the coordinators' events stream into the metadata DB, idempotently.

Each batch of events is applied in one transaction together with the stream
offset, so a restart resumes exactly where it stopped and a replay changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from redis.asyncio import Redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gateway.db import EventOffset, apply_job_record
from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.jobs import from_json
from services.common.queue import StreamReply

log = logging.getLogger(__name__)

BATCH = 100
BLOCK_MS = 2000


def _load_offset(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.get(EventOffset, keys.EVENTS)
        return row.last_id if row else "0-0"


def apply_events(engine: Engine, entries: list[tuple[str, dict[str, str]]]) -> str:
    """Apply stream entries and store the new offset in one transaction; return it."""
    last_id = entries[-1][0]
    with Session(engine) as session, session.begin():
        for _, fields in entries:
            apply_job_record(session, from_json(fields["job"], jobs_pb2.JobRecord))
        offset = session.get(EventOffset, keys.EVENTS) or EventOffset(stream=keys.EVENTS)
        offset.last_id = last_id
        session.add(offset)
    return last_id


async def consume_events(redis: Redis, engine: Engine, stop: asyncio.Event) -> None:
    """Run until `stop`: read events in batches and apply them."""
    last_id = await asyncio.to_thread(_load_offset, engine)
    while not stop.is_set():
        try:
            got = await redis.xread({keys.EVENTS: last_id}, count=BATCH, block=BLOCK_MS)
            if got:
                entries = cast(StreamReply, got)[0][1]
                last_id = await asyncio.to_thread(apply_events, engine, entries)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("events consumer: %s; retrying", exc)
            await asyncio.sleep(2.0)

"""The job queue: a Redis stream with a consumer group; every state change is one script.

Semantics (ARCHITECTURE.md "Queue and state"):
- `enqueue` checks the cap and writes task, job record and history in one Lua call,
  so concurrent submissions never overshoot the cap; a job id already known is
  not queued twice.
- pending = entries in the stream = queued + in flight (an entry is deleted on ack).
- a coordinator `claim`s an entry, keeps it alive with `touch` while it works, and
  `ack`s it only after its vectors are written. An entry left idle longer than the
  lease (its worker died) is reclaimed by another coordinator; after
  `max_attempts` deliveries it is dead-lettered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common.jobs import from_json, now, to_json

log = logging.getLogger(__name__)

# XREAD/XREADGROUP reply with decode_responses on RESP2: [(stream, [(id, fields)])].
StreamReply = list[tuple[str, list[tuple[str, dict[str, str]]]]]

_ENQUEUE = """
local pending = redis.call('XLEN', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return {-2, pending} end
if pending >= tonumber(ARGV[1]) then return {-1, pending} end
redis.call('XADD', KEYS[1], '*', 'job_id', ARGV[2], 'task', ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[6]) - 1)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'job', ARGV[4])
return {pending + 1, pending + 1}
"""

_ACK = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""

_DEAD_LETTER = """
redis.call('XADD', KEYS[2], '*', 'task', ARGV[3], 'error', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""


class QueueFull(Exception):
    """The cap of pending jobs is reached."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"queue is full ({pending} pending)")
        self.pending = pending


class DuplicateJob(Exception):
    """A job with this id is already known."""


@dataclass(frozen=True)
class Enqueued:
    position: int
    size: int


@dataclass(frozen=True)
class Claimed:
    entry_id: str
    task: jobs_pb2.QueuedTask
    attempts: int


class JobQueue:
    """Producer and consumer operations on the shared queue (client with decode_responses)."""

    def __init__(self, redis: Redis, *, lease_seconds: int = 120, max_attempts: int = 3) -> None:
        self.redis = redis
        self.lease_ms = lease_seconds * 1000
        self.max_attempts = max_attempts
        self._enqueue = redis.register_script(_ENQUEUE)
        self._ack = redis.register_script(_ACK)
        self._dead_letter = redis.register_script(_DEAD_LETTER)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.TASKS, keys.TASKS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def pending(self) -> int:
        return int(await self.redis.xlen(keys.TASKS))

    async def enqueue(self, task: jobs_pb2.QueuedTask, *, cap: int) -> Enqueued:
        """Queue `task` unless `cap` jobs are pending; raises QueueFull or DuplicateJob."""
        record = jobs_pb2.JobRecord(
            job_id=task.job_id,
            repo_url=task.repo_url,
            status=jobs_pb2.JOB_STATUS_QUEUED,
            phase="queued",
            submitted_at=task.submitted_at,
        )
        record_json = to_json(record)
        position, size = await self._enqueue(
            keys=[keys.TASKS, keys.job(task.job_id), keys.HISTORY, keys.EVENTS],
            args=[
                cap,
                task.job_id,
                to_json(task),
                record_json,
                keys.JOB_RECORD_TTL_SECONDS,
                keys.HISTORY_SIZE,
                keys.EVENTS_MAXLEN,
            ],
        )
        if position == -1:
            raise QueueFull(int(size))
        if position == -2:
            raise DuplicateJob(task.job_id)
        return Enqueued(position=int(position), size=int(size))

    async def claim(self, consumer: str, *, block_ms: int) -> Claimed | None:
        """Take a task: first one abandoned past its lease, else a new one (blocking)."""
        # Redis 6.2 replies [cursor, entries]; 7.x adds the deleted ids.
        reclaimed = (
            await self.redis.xautoclaim(
                keys.TASKS, keys.TASKS_GROUP, consumer, self.lease_ms, start_id="0-0", count=1
            )
        )[1]
        if reclaimed:
            entry_id, fields = reclaimed[0]
            log.warning("reclaimed task %s after its lease expired", entry_id)
        else:
            got = await self.redis.xreadgroup(
                keys.TASKS_GROUP, consumer, {keys.TASKS: ">"}, count=1, block=block_ms
            )
            if not got:
                return None
            entry_id, fields = cast(StreamReply, got)[0][1][0]
        info = await self.redis.xpending_range(
            keys.TASKS, keys.TASKS_GROUP, min=entry_id, max=entry_id, count=1
        )
        attempts = int(info[0]["times_delivered"]) if info else 1
        task = from_json(fields["task"], jobs_pb2.QueuedTask)
        return Claimed(entry_id=entry_id, task=task, attempts=attempts)

    async def touch(self, consumer: str, entry_id: str) -> None:
        """Reset the entry's idle time: the worker is alive, the lease is renewed."""
        await self.redis.xclaim(keys.TASKS, keys.TASKS_GROUP, consumer, 0, [entry_id], justid=True)

    async def release(self, consumer: str, entry_id: str) -> None:
        """Give an entry back: mark it idle for a whole lease so the next claim retakes it."""
        await self.redis.xclaim(
            keys.TASKS, keys.TASKS_GROUP, consumer, 0, [entry_id], idle=self.lease_ms, justid=True
        )

    async def ack(self, entry_id: str) -> None:
        await self._ack(keys=[keys.TASKS], args=[keys.TASKS_GROUP, entry_id])

    async def dead_letter(self, claimed: Claimed, error: str) -> None:
        await self._dead_letter(
            keys=[keys.TASKS, keys.DEAD_LETTER],
            args=[keys.TASKS_GROUP, claimed.entry_id, to_json(claimed.task), error],
        )

    # --- job records, history, events -----------------------------------------
    async def get_job(self, job_id: str) -> jobs_pb2.JobRecord | None:
        raw = await self.redis.get(keys.job(job_id))
        return from_json(raw, jobs_pb2.JobRecord) if raw else None

    async def save_job(self, record: jobs_pb2.JobRecord) -> None:
        """Store the record and publish it on the events stream."""
        text = to_json(record)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.job(record.job_id), text, ex=keys.JOB_RECORD_TTL_SECONDS)
            pipe.xadd(keys.EVENTS, {"job": text}, maxlen=keys.EVENTS_MAXLEN, approximate=True)
            await pipe.execute()

    async def history(self, limit: int = keys.HISTORY_SIZE) -> list[jobs_pb2.JobRecord]:
        ids = await self.redis.lrange(keys.HISTORY, 0, max(0, min(limit, keys.HISTORY_SIZE)) - 1)
        if not ids:
            return []
        raws = await self.redis.mget([keys.job(str(i)) for i in ids])
        return [from_json(r, jobs_pb2.JobRecord) for r in raws if r]

    # --- worker status -------------------------------------------------------------
    async def set_worker(self, status: jobs_pb2.WorkerStatus) -> None:
        status.heartbeat_at.CopyFrom(now())
        await self.redis.hset(keys.WORKERS, status.worker_id, to_json(status))

    async def workers(self) -> list[jobs_pb2.WorkerStatus]:
        raw = await self.redis.hgetall(keys.WORKERS)
        return [from_json(v, jobs_pb2.WorkerStatus) for _, v in sorted(raw.items())]

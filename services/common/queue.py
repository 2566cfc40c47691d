"""The job queue: a Redis stream with a consumer group; every state change is one script.

Semantics (docs/architecture.md, "Queue and state"):
- `enqueue` checks the cap and writes task, job record and history in one script, so
  concurrent submissions never overshoot the cap; a job id already known is not
  queued again (a retried request gets the first one's answer).
- pending = entries in the stream = queued + in flight (an entry is deleted on ack).
- a worker `poll`s (heartbeat, reclaim, read: one command) or, where the transport
  can block, `wait`s on the stream; it renews its lease with `heartbeat` while it
  works and `finish`es (record + ack, and dead letter if so) only after its vectors
  are written. An entry idle past the lease (its worker died) is reclaimed by the
  next poll of any worker. A worker that lost its entry can no longer write it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from neo_alexandria.v1 import jobs_pb2
from services.common import keys
from services.common import queue_scripts as scripts
from services.common.jobs import from_json, now, to_json, worker_text
from services.common.transport import QueueCommandError, Transport

log = logging.getLogger(__name__)

PENDING_SCANNED = 100
"""A poll that takes nothing looks at this many pending entries for the next one due."""


class QueueFull(Exception):
    """The cap of pending jobs is reached."""

    def __init__(self, pending: int) -> None:
        super().__init__(f"queue is full ({pending} pending)")
        self.pending = pending


@dataclass(frozen=True)
class Enqueued:
    """Where the job stands; `created` is False when its id was already known."""

    position: int
    size: int
    created: bool
    record: jobs_pb2.JobRecord


@dataclass(frozen=True)
class Claimed:
    entry_id: str
    task: jobs_pb2.QueuedTask
    attempts: int
    reclaimed: bool = False


@dataclass(frozen=True)
class Polled:
    """What a poll took, or, when nothing, in how many seconds a pending entry (in
    flight, or handed back for a retry) will have been idle a whole lease: a poll then
    retakes it. None when no entry is pending."""

    claimed: Claimed | None
    due_seconds: float | None


class IdlePacer:
    """Poll delays where the transport cannot block: `min`, doubling up to `max`;
    `reset()` after work arrives."""

    def __init__(self, min_seconds: float, max_seconds: float) -> None:
        self.min_seconds, self.max_seconds = min_seconds, max_seconds
        self._next = min_seconds

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.max_seconds)
        return delay

    def reset(self) -> None:
        self._next = self.min_seconds


def _fields(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[0::2], flat[1::2], strict=True))


def _claimed(entry_id: str, flat: list[str], attempts: int, reclaimed: bool) -> Claimed:
    task = from_json(_fields(flat)["task"], jobs_pb2.QueuedTask)
    return Claimed(entry_id=entry_id, task=task, attempts=attempts, reclaimed=reclaimed)


class JobQueue:
    """Producer and consumer operations on the shared queue, over any `Transport`."""

    def __init__(self, transport: Transport, *, lease_seconds: float = 120) -> None:
        self.transport = transport
        self.lease_ms = int(lease_seconds * 1000)

    async def ensure_group(self) -> None:
        await self.transport.run(scripts.ENSURE_GROUP, [keys.TASKS], [keys.TASKS_GROUP])

    async def pending(self) -> int:
        return int(await self.transport.run(scripts.LENGTH, [keys.TASKS]))

    # --- producer ------------------------------------------------------------------
    async def enqueue(self, task: jobs_pb2.QueuedTask, *, cap: int) -> Enqueued:
        """Queue `task` unless `cap` jobs are pending (QueueFull) or its id is known."""
        record = jobs_pb2.JobRecord(
            job_id=task.job_id,
            repo_url=task.repo_url,
            status=jobs_pb2.JOB_STATUS_QUEUED,
            phase="queued",
            submitted_at=task.submitted_at,
        )
        reply = await self.transport.run(
            scripts.ENQUEUE,
            [keys.TASKS, keys.job(task.job_id), keys.HISTORY, keys.EVENTS],
            [
                keys.TASKS_GROUP,
                cap,
                task.job_id,
                to_json(task),
                to_json(record),
                keys.JOB_RECORD_TTL_SECONDS,
                keys.HISTORY_SIZE,
                keys.EVENTS_MAXLEN,
            ],
        )
        outcome, size = int(reply[0]), int(reply[1])
        if outcome == -1:
            raise QueueFull(size)
        if outcome == 0:
            known = from_json(reply[2], jobs_pb2.JobRecord)
            return Enqueued(position=size, size=size, created=False, record=known)
        return Enqueued(position=size, size=size, created=True, record=record)

    # --- consumer --------------------------------------------------------------------
    async def poll(self, worker: jobs_pb2.WorkerStatus) -> Claimed | None:
        """Heartbeat, then take an entry abandoned past its lease or a new one: one command."""
        return (await self.poll_next(worker)).claimed

    async def poll_next(self, worker: jobs_pb2.WorkerStatus) -> Polled:
        """`poll`, saying also, when nothing was taken, how soon an entry in flight or
        handed back for a retry can be retaken (`Polled.due_seconds`)."""
        reply = await self.transport.run(
            scripts.POLL,
            [keys.TASKS, keys.WORKERS],
            [keys.TASKS_GROUP, worker.worker_id, self.lease_ms, _stamped(worker), PENDING_SCANNED],
        )
        if not reply:
            return Polled(None, None)
        if len(reply) == 1:
            due_ms = int(reply[0])
            return Polled(None, due_ms / 1000 if due_ms >= 0 else None)
        entry_id, flat, attempts, reclaimed = reply
        if reclaimed:
            log.warning("reclaimed task %s after its lease expired", entry_id)
        return Polled(_claimed(entry_id, flat, int(attempts), bool(reclaimed)), None)

    async def wait(self, consumer: str, timeout_seconds: float) -> Claimed | None:
        """Block on the stream for a new entry (Redis protocol only; REST polls instead)."""
        try:
            reply = await self.transport.call(
                "XREADGROUP",
                "GROUP",
                keys.TASKS_GROUP,
                consumer,
                "COUNT",
                1,
                "BLOCK",
                max(1, int(timeout_seconds * 1000)),
                "STREAMS",
                keys.TASKS,
                ">",
            )
        except QueueCommandError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # the stream was lost (Redis restarted empty)
            return None
        if not reply:
            return None
        entry_id, flat = reply[0][1][0]
        return _claimed(entry_id, flat, 1, False)

    async def heartbeat(self, worker: jobs_pb2.WorkerStatus, entry_id: str = "") -> bool:
        """Write the worker's status; with an entry, renew its lease. False: it is lost."""
        reply = await self.transport.run(
            scripts.HEARTBEAT,
            [keys.TASKS, keys.WORKERS],
            [keys.TASKS_GROUP, worker.worker_id, entry_id, _stamped(worker)],
        )
        return bool(reply)

    async def save_progress(
        self, claimed: Claimed, worker: jobs_pb2.WorkerStatus, record: jobs_pb2.JobRecord
    ) -> bool:
        """Store a progress snapshot of a job this worker still holds, and the worker's
        status (its state follows the job's phase)."""
        reply = await self.transport.run(
            scripts.SAVE_PROGRESS,
            [keys.TASKS, keys.job(record.job_id), keys.EVENTS, keys.WORKERS],
            [
                keys.TASKS_GROUP,
                worker.worker_id,
                claimed.entry_id,
                *self._record_args(record),
                _stamped(worker),
            ],
        )
        return bool(reply)

    async def finish(
        self,
        claimed: Claimed,
        worker: jobs_pb2.WorkerStatus,
        record: jobs_pb2.JobRecord,
        *,
        dead_letter: bool = False,
    ) -> bool:
        """Write the final record and the worker's status and ack the entry, at once.

        With `dead_letter`, the task also goes to the dead-letter stream with
        `record.error`. False (and nothing written) when the entry is no longer ours.
        """
        reply = await self.transport.run(
            scripts.FINISH,
            [keys.TASKS, keys.job(record.job_id), keys.EVENTS, keys.WORKERS, keys.DEAD_LETTER],
            [
                keys.TASKS_GROUP,
                worker.worker_id,
                claimed.entry_id,
                *self._record_args(record),
                _stamped(worker),
                to_json(claimed.task) if dead_letter else "",
                record.error,
            ],
        )
        return bool(reply)

    async def release(
        self,
        claimed: Claimed,
        worker: jobs_pb2.WorkerStatus,
        record: jobs_pb2.JobRecord,
        *,
        retry_after_seconds: float = 0.0,
    ) -> bool:
        """Hand the entry back, retaken by any worker after `retry_after_seconds`."""
        idle_ms = max(0, self.lease_ms - int(retry_after_seconds * 1000))
        reply = await self.transport.run(
            scripts.RELEASE,
            [keys.TASKS, keys.job(record.job_id), keys.EVENTS, keys.WORKERS],
            [
                keys.TASKS_GROUP,
                worker.worker_id,
                claimed.entry_id,
                idle_ms,
                *self._record_args(record),
                _stamped(worker),
            ],
        )
        return bool(reply)

    @staticmethod
    def _record_args(record: jobs_pb2.JobRecord) -> list[Any]:
        return [to_json(record), keys.JOB_RECORD_TTL_SECONDS, keys.EVENTS_MAXLEN]

    # --- reads ---------------------------------------------------------------------
    async def get_job(self, job_id: str) -> jobs_pb2.JobRecord | None:
        raw = await self.transport.run(scripts.GET, [keys.job(job_id)])
        return from_json(raw, jobs_pb2.JobRecord) if raw else None

    async def history(self, limit: int = keys.HISTORY_SIZE) -> list[jobs_pb2.JobRecord]:
        """The newest jobs' records, newest first (at most 100)."""
        limit = max(0, min(limit, keys.HISTORY_SIZE))
        if limit == 0:
            return []
        raws = await self.transport.run(scripts.HISTORY, [keys.HISTORY], [limit, keys.JOB_PREFIX])
        return [from_json(r, jobs_pb2.JobRecord) for r in raws if r]

    async def workers(self) -> list[jobs_pb2.WorkerStatus]:
        fields = _fields(await self.transport.run(scripts.HASH, [keys.WORKERS]))
        return [from_json(v, jobs_pb2.WorkerStatus) for _, v in sorted(fields.items())]

    async def forget_workers(self, worker_ids: list[str]) -> None:
        """Remove these workers from the worker set (offline for long: `status` stops
        listing them)."""
        await self.transport.call("HDEL", keys.WORKERS, *worker_ids)

    async def events_after(self, last_id: str, count: int) -> list[tuple[str, jobs_pb2.JobRecord]]:
        """Up to `count` job events after stream id `last_id`, oldest first."""
        entries = await self.transport.run(scripts.STREAM_AFTER, [keys.EVENTS], [last_id, count])
        return _events(entries)

    async def wait_events(
        self, last_id: str, count: int, timeout_seconds: float
    ) -> list[tuple[str, jobs_pb2.JobRecord]]:
        """Like `events_after`, blocking up to `timeout_seconds` for the first (Redis protocol)."""
        reply = await self.transport.call(
            "XREAD",
            "COUNT",
            count,
            "BLOCK",
            max(1, int(timeout_seconds * 1000)),
            "STREAMS",
            keys.EVENTS,
            last_id,
        )
        return _events(reply[0][1]) if reply else []

    async def dead_letters(self, count: int = 100) -> list[tuple[jobs_pb2.QueuedTask, str]]:
        """The oldest dead-lettered tasks with their last error."""
        entries = await self.transport.run(scripts.STREAM_AFTER, [keys.DEAD_LETTER], ["0-0", count])
        return [
            (from_json(_fields(flat)["task"], jobs_pb2.QueuedTask), _fields(flat)["error"])
            for _, flat in entries
        ]


def _events(entries: list[Any]) -> list[tuple[str, jobs_pb2.JobRecord]]:
    return [
        (entry_id, from_json(_fields(flat)["job"], jobs_pb2.JobRecord))
        for entry_id, flat in entries
    ]


def _stamped(worker: jobs_pb2.WorkerStatus) -> str:
    """The worker's status JSON with the heartbeat set to now, and the display text of
    its state in `status` for readers older than the state."""
    worker.heartbeat_at.CopyFrom(now())
    worker.status = worker_text(worker)
    return to_json(worker)

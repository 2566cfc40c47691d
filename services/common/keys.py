"""Every Redis key the system uses, in one place. All live under `alexandria:`.

- `alexandria:tasks` (stream, group `coordinators`): queued and in-flight tasks as
  `QueuedTask` JSON; the gateway adds, coordinators claim; deleted when acknowledged.
- `alexandria:tasks:dead` (stream): dead-lettered tasks with their last error.
- `alexandria:job:{job_id}` (string): the job's `JobRecord` JSON, expires after 30 days.
- `alexandria:history` (list): job ids, newest first, capped at 100.
- `alexandria:workers` (hash): worker id → `WorkerStatus` JSON, rewritten each heartbeat.
- `alexandria:events` (capped stream): `JobRecord` JSON at each state change, which the
  gateway consumes into the metadata DB.
"""

from __future__ import annotations

PREFIX = "alexandria"
TASKS = f"{PREFIX}:tasks"
TASKS_GROUP = "coordinators"
DEAD_LETTER = f"{PREFIX}:tasks:dead"
HISTORY = f"{PREFIX}:history"
WORKERS = f"{PREFIX}:workers"
EVENTS = f"{PREFIX}:events"

HISTORY_SIZE = 100
EVENTS_MAXLEN = 10_000
JOB_RECORD_TTL_SECONDS = 30 * 24 * 3600


def job(job_id: str) -> str:
    """Key of one job's record."""
    return f"{PREFIX}:job:{job_id}"
